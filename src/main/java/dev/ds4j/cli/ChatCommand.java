package dev.ds4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.Prompt;
import dev.ds4j.chat.PromptRenderer;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.Generator;
import dev.ds4j.generate.SamplingParams;
import dev.ds4j.model.Model;
import dev.ds4j.model.Numerics;
import dev.ds4j.session.PrefixReuse;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

@Command(name = "chat", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Talks with the model: type a message, the reply streams back, and the conversation is kept.",
                "In thinking mode the reasoning comes first, between [thinking] and [/thinking] lines (faint on a colour terminal), "
                        + "then the answer. Each turn renders the whole conversation with the DeepSeek-V4 template and reuses the "
                        + "KV cache of the previous turns where the new prompt starts with what the cache holds.",
                "A multi-line message starts with \"\"\" and ends at a line that ends with \"\"\" (\"\"\"one line\"\"\" works too). "
                        + "Input may be piped: each line read is then echoed after the prompt, so stdout reads as a transcript. "
                        + "After each reply a one-line summary goes to stderr.",
                "Ctrl-C stops the reply being written and keeps what was shown; at the prompt it quits, as do /exit and end of input (Ctrl-D)."},
        footer = ChatCommand.COMMANDS)
final class ChatCommand implements Callable<Integer> {
    static final String COMMANDS = "%nCommands (typed at the prompt):%n"
            + "  /think     thinking mode, effort high%n"
            + "  /max       thinking mode, effort max%n"
            + "  /nothink   chat mode (no reasoning)%n"
            + "  /reset     forget the conversation (the --system message stays)%n"
            + "  /help      this list%n"
            + "  /exit      quit (also /quit, or end of input)%n";

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "checkpoint directory (with tokenizer.json)")
    Path model;

    @Option(names = "--system", paramLabel = "TEXT", description = "system message at the start of the conversation")
    String system;

    @Option(names = "--think", description = "start in thinking mode (effort high); /nothink and /think switch later")
    boolean think;

    @Option(names = "--effort", paramLabel = "high|max", description = "reasoning effort; implies --think")
    String effort;

    @Option(names = "--max-tokens", defaultValue = "4096", paramLabel = "N", description = "most tokens per reply (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "1.0", paramLabel = "T", description = "0 = greedy (default ${DEFAULT-VALUE}, DeepSeek's)")
    double temperature;
    @Option(names = "--top-p", defaultValue = "1.0", paramLabel = "P", description = "nucleus sampling (default ${DEFAULT-VALUE}: off)")
    double topP;
    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K", description = "keep the K most likely tokens (default 0: off)")
    int topK;
    @Option(names = "--min-p", defaultValue = "0", paramLabel = "P", description = "drop tokens below P × the top probability (default 0: off)")
    double minP;

    @Option(names = "--seed", paramLabel = "S", description = "sampling seed; turn n uses seed + n - 1, so a scripted chat is reproducible")
    Long seed;

    @Option(names = "--numerics", defaultValue = "official", paramLabel = "official|plain",
            description = "official (default): DeepSeek's BF16/FP8 inference numerics; plain: exact fp32")
    String numerics;

    @Option(names = "--json", description = "no streaming: print one JSON object per turn (rendered prompt, token counts, "
            + "reasoning and content) for scripts")
    boolean json;

    @Option(names = "--color", defaultValue = "auto", paramLabel = "auto|always|never",
            description = "auto: colours only when stdin and stdout are a terminal and NO_COLOR is not set")
    String color;

    @Option(names = "--no-color", description = "same as --color never")
    boolean noColor;

    @Option(names = "--no-reuse", description = "prefill the whole conversation every turn instead of reusing the KV cache "
            + "(slower; for checking)")
    boolean noReuse;

    private Tokenizer tokenizer;
    private Generator generator;
    private Model loaded;
    private Session.Options sessionOptions;
    private SamplingParams sampling;
    private PrintStream out, err;
    private boolean colored;
    private PrefixReuse reuse;
    private final AtomicBoolean cancel = new AtomicBoolean();

    private RenderOptions.ThinkingMode mode;
    private String modeEffort;
    private final List<Message> conversation = new ArrayList<>();
    private int turn;

    @Override
    public Integer call() throws Exception {
        Numerics num = switch (numerics) {
            case "official" -> Numerics.OFFICIAL;
            case "plain" -> Numerics.PLAIN;
            default -> throw new IllegalArgumentException("--numerics: must be official or plain, got " + numerics);
        };
        if (effort != null && !effort.equals("high") && !effort.equals("max"))
            throw new IllegalArgumentException("--effort: must be high or max, got " + effort);
        boolean terminal = Ansi.terminal();
        colored = Ansi.enabled(noColor ? "never" : color, System.getenv("NO_COLOR"), terminal);
        sampling = new SamplingParams(temperature, topP, topK, minP, seed, 1.0, 0, 0, maxTokens, List.of(), Map.of());
        mode = think || effort != null ? RenderOptions.ThinkingMode.THINKING : RenderOptions.ThinkingMode.CHAT;
        modeEffort = mode == RenderOptions.ThinkingMode.THINKING ? (effort == null ? "high" : effort) : null;
        tokenizer = TokenizerSupport.load(model.resolve("tokenizer.json"));
        generator = new Generator(tokenizer);
        out = Inputs.stdout();
        err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (Model m = Model.load(model)) {
            loaded = m;
            sessionOptions = Session.Options.defaults().withNumerics(num);
            reuse = new PrefixReuse(() -> new Session(m, sessionOptions));
            note("ds4j chat: " + model.toAbsolutePath().normalize().getFileName() + ", " + modeName()
                    + ". /help lists the commands; /exit or end of input quits.");
            repl(new ChatInput(in, out, terminal, !json, colored));
        }
        return 0;
    }

    private void repl(ChatInput input) {
        while (true) {
            ChatInput.Entry e;
            try {
                e = input.next();
            } catch (ChatInput.UnclosedBlock u) {
                note(u.getMessage());
                return;
            }
            if (e == null) return;
            if (e.isCommand()) {
                if (!command(e.text().strip())) return;
            } else if (e.text().isBlank()) {
                note("empty message: nothing sent (type some text, or /help for the commands)");
            } else {
                turn(e.text());
            }
        }
    }

    /** Runs a slash command; false means quit. */
    private boolean command(String line) {
        String name = line.split("\\s+", 2)[0];
        boolean known = switch (name) {
            case "/think", "/max", "/nothink", "/reset", "/help", "/exit", "/quit" -> true;
            default -> false;
        };
        if (!known) {
            note("unknown command '" + name + "' (/help lists them; to send a message that starts with /, put it in a \"\"\" block)");
            return true;
        }
        if (!line.equals(name)) {
            note(name + " takes no arguments; nothing changed");
            return true;
        }
        switch (name) {
            case "/think" -> setMode(RenderOptions.ThinkingMode.THINKING, "high");
            case "/max" -> setMode(RenderOptions.ThinkingMode.THINKING, "max");
            case "/nothink" -> setMode(RenderOptions.ThinkingMode.CHAT, null);
            case "/reset" -> {
                conversation.clear();
                reuse.forget();
                note("conversation forgotten" + (system != null ? " (the system message stays)" : ""));
            }
            case "/help" -> err.print(String.format(COMMANDS.substring(2)
                    + "A multi-line message starts with \"\"\" and ends at a line that ends with \"\"\". Ctrl-C stops a reply.%n"));
            default -> { return false; } // /exit, /quit
        }
        return true;
    }

    private void setMode(RenderOptions.ThinkingMode m, String e) {
        mode = m;
        modeEffort = e;
        note(modeName());
    }

    private String modeName() {
        return mode == RenderOptions.ThinkingMode.CHAT ? "chat mode" : "thinking mode, effort " + modeEffort;
    }

    /** One exchange: render the conversation with the new message, generate, stream, remember. */
    private void turn(String text) {
        List<Message> messages = new ArrayList<>();
        if (system != null) messages.add(Message.system(system));
        messages.addAll(conversation);
        Message user = Message.user(text);
        messages.add(user);
        RenderOptions opts = new RenderOptions(mode, modeEffort, true, RenderOptions.Revision.ORIGINAL);
        Prompt prompt;
        int[] ids;
        try {
            prompt = PromptRenderer.render(messages, opts);
            ids = prompt.tokenIds(tokenizer);
        } catch (ChatFormatException e) {
            note("cannot send that message: " + e.getMessage());
            return;
        }
        long room = loaded.config().maxPositions() - (long) ids.length;
        if (room < 1) {
            note("context full: the conversation is " + ids.length + " tokens and the model holds " + loaded.config().maxPositions()
                    + "; /reset to start over");
            return;
        }
        int n = ++turn;
        SamplingParams params = sampling.withMaxTokens((int) Math.min(sampling.maxTokens(), room))
                .withSeed(seed == null ? null : seed + n - 1);

        if (noReuse) reuse.forget();
        int reused = reuse.prepare(ids);
        cancel.set(false);
        ChatReply reply = new ChatReply(mode, json ? null : out, colored);
        int[] steps = {0}; // Generator polls `cancelled` once before each token it samples
        BooleanSupplier counting = () -> {
            if (cancel.get()) return true;
            steps[0]++;
            return false;
        };
        Generator.Result result = null;
        long t0 = System.nanoTime(), t1;
        Interrupts ctrlC = Interrupts.routeTo(cancel);
        try {
            try {
                int toFeed = ids.length - 1 - reused;
                if (toFeed >= Progress.PREFILL_BAR_MIN_TOKENS) {
                    try (Progress bar = Progress.tokens("prefill", toFeed)) {
                        reuse.feed(ids, ids.length - 1, sessionOptions.chunk(), cancel::get, bar);
                    }
                } else {
                    reuse.feed(ids, ids.length - 1, sessionOptions.chunk(), cancel::get);
                }
            } catch (CancellationException e) {
                turn--;
                note("stopped before the reply began; the message was not sent");
                return;
            }
            if (!noReuse) reuse.checkpoint();
            t1 = System.nanoTime();
            try {
                result = generator.generate(reuse.live(), new int[]{ids[ids.length - 1]}, params, null, reply::feed, counting);
                reuse.generated(ids, result.tokens());
            } catch (CancellationException e) {
                reuse.liveUnknown();
            }
        } finally {
            ctrlC.close();
        }
        long t2 = System.nanoTime();
        reply.finish(result != null && result.eos());
        conversation.add(user);
        conversation.add(Message.assistant(mode == RenderOptions.ThinkingMode.THINKING ? reply.reasoning() : null, reply.content(), null));

        int generated = result != null ? result.completionTokens() : steps[0];
        String finish = result == null ? "stopped (Ctrl-C)" : result.eos() ? "end of reply"
                : params.maxTokens() < sampling.maxTokens() ? "context full" : "hit --max-tokens";
        if (reply.formatError() != null) note("the reply broke the chat format (" + reply.formatError() + "); the rest is shown and kept as content");
        if (reply.toolCalls() > 0) note("the model wrote " + reply.toolCalls() + " tool call(s); the chat offers no tools, so they are shown but not kept");
        double genSeconds = (t2 - t1) / 1e9, prefillSeconds = (t1 - t0) / 1e9;
        note(String.format("[turn %d: %d tokens in %.1f s, %.1f tok/s, %s; prompt %d tokens: %d reused from the cache, %d prefilled in %.1f s]",
                n, generated, genSeconds, generated / Math.max(1e-9, genSeconds), finish, ids.length, reused, ids.length - reused,
                prefillSeconds));
        if (json) printJson(n, opts, prompt, ids.length, reused, reply, result, generated, genSeconds);
    }

    private void printJson(int n, RenderOptions opts, Prompt prompt, int promptTokens, int reused, ChatReply reply,
                           Generator.Result result, int generated, double seconds) {
        ObjectNode o = PyJson.MAPPER.createObjectNode();
        o.put("turn", n);
        o.put("thinking_mode", opts.thinkingMode() == RenderOptions.ThinkingMode.THINKING ? "thinking" : "chat");
        o.put("reasoning_effort", opts.reasoningEffort());
        o.put("prompt", prompt.text());
        o.put("prompt_tokens", promptTokens);
        o.put("reused_tokens", reused);
        o.put("text", reply.text());
        if (opts.thinkingMode() == RenderOptions.ThinkingMode.THINKING) o.put("reasoning_content", reply.reasoning());
        else o.putNull("reasoning_content");
        o.put("content", reply.content());
        if (reply.formatError() != null) o.put("format_error", reply.formatError());
        if (reply.toolCalls() > 0) o.put("tool_calls_dropped", reply.toolCalls());
        o.put("finish_reason", result == null ? "cancelled" : result.eos() ? "stop" : "length");
        o.put("completion_tokens", generated);
        o.put("tokens_per_s", generated / Math.max(1e-9, seconds));
        try {
            out.println(PyJson.MAPPER.writeValueAsString(o));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        out.flush();
    }

    /** A one-line message to the user on stderr, faint on a colour terminal. */
    private void note(String s) {
        err.println(colored ? Ansi.FAINT + s + Ansi.RESET : s);
    }
}
