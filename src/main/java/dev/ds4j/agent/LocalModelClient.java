package dev.ds4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.chat.CompletionParser;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.PromptRenderer;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.Generator;
import dev.ds4j.generate.SamplingParams;
import dev.ds4j.model.Model;
import dev.ds4j.session.PrefixReuse;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The local engine as a {@link ModelClient}: render with {@link PromptRenderer}, tokenise, generate, parse with
 * {@link CompletionParser}.
 *
 * <p>An agent's conversation only grows, so each turn's prompt begins with the previous turn's prompt and (with
 * tools declared, reasoning is never dropped) its completion: the KV cache of the last turn is kept and only the
 * new tokens are prefilled ({@link PrefixReuse}, the same rule as the chat CLI). A turn whose prompt does not
 * continue the kept state starts a fresh session; results are the same either way, only the time differs.
 *
 * <p>An optional script of forced completions (one per turn, special tokens written as text) goes through the
 * generator's forced-output hook exactly as the server's {@code ds4j_forced_output} does: the model still runs
 * every step, only the emitted tokens are dictated. Once the script is used up the model samples freely.
 */
public final class LocalModelClient implements ModelClient {
    private final Model model;
    private final Tokenizer tokenizer;
    private final Generator generator;
    private final SamplingParams params;
    private final String name;
    private final Deque<String> script;
    private final PrefixReuse reuse;
    private volatile Consumer<String> onText;

    public LocalModelClient(Model model, Tokenizer tokenizer, String name, SamplingParams params, List<String> forcedScript) {
        this.model = Objects.requireNonNull(model, "model");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.generator = new Generator(tokenizer);
        this.params = Objects.requireNonNull(params, "params");
        this.name = Objects.requireNonNull(name, "name");
        this.script = new ArrayDeque<>(forcedScript == null ? List.of() : forcedScript);
        this.reuse = new PrefixReuse(() -> new Session(model, Session.Options.defaults()));
    }

    /** Text of each completion as it is generated (a live view); null for none. */
    public void onText(Consumer<String> sink) { this.onText = sink; }

    @Override public String modelName() { return name; }

    /** How many scripted completions are still to be forced. */
    public synchronized int scriptLeft() { return script.size(); }

    @Override
    public Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options) {
        return complete(messages, tools, options, null);
    }

    /** {@code cancelled} is polled before every prefill chunk and decode step. */
    @Override
    public synchronized Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options,
                                            BooleanSupplier cancelled) {
        // The template shows each tool's function object (CHAT_FORMAT §2.1), as a server does after reading a request's
        // tools; the loop passes whole OpenAI tools ({type, function}), which would add their wrapper to the prompt.
        List<JsonNode> functions = tools.stream().map(t -> t.has("function") ? t.get("function") : t).toList();
        int[] prompt = PromptRenderer.render(messages, functions, null, options).tokenIds(tokenizer);
        String forcedText = script.poll();
        // Same tokenisation as the server's ds4j_forced_output: special tokens written as text become their ids.
        int[] forced = forcedText == null ? null : tokenizer.encodeWithAddedTokens(forcedText);
        SamplingParams p = params;
        if (forced != null && forced.length > p.maxTokens()) {
            throw new IllegalArgumentException("forced completion of " + forced.length + " tokens exceeds max_tokens "
                    + p.maxTokens() + ": it would be cut off and no longer parse as scripted");
        }
        BooleanSupplier stop = cancelled != null ? cancelled : () -> false;
        int reused = reuse.prepare(prompt);
        Generator.Result res;
        try {
            reuse.feed(prompt, prompt.length - 1, Session.Options.defaults().chunk(), stop);
            res = generator.generate(reuse.live(), new int[]{prompt[prompt.length - 1]}, p, forced, onText, stop);
            reuse.generated(prompt, res.tokens());
        } catch (RuntimeException e) {
            reuse.forget(); // what the session holds is unknown now
            throw e;
        }
        if (!res.eos()) {
            // Cut off (max_tokens or a stop string): the strict parser needs the EOS that ends a whole completion,
            // so the text is kept as content with no tool calls (a half-written call must not run) and the loop
            // ends the run on the truncation.
            return new Completion(new ParsedCompletion(null, res.text(), List.of()), res.text(),
                    prompt.length, res.completionTokens(), true, reused);
        }
        // The generator's text stops before the EOS token; the grammar ends with it, as the server's ChatTurn adds it.
        String raw = res.text() + ControlToken.EOS.literal;
        ParsedCompletion parsed = CompletionParser.parse(raw, options.thinkingMode());
        return new Completion(parsed, raw, prompt.length, res.completionTokens(), false, reused);
    }
}
