package dev.ds4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.CompletionParser;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.Prompt;
import dev.ds4j.chat.PromptRenderer;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.Generator;
import dev.ds4j.generate.SamplingParams;
import dev.ds4j.model.Model;
import dev.ds4j.model.Numerics;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generates a reply to one prompt and streams it to stdout.",
                "The prompt is a user message rendered with the DeepSeek-V4 chat template (chat mode unless --think); "
                        + "--raw sends it as prompt text instead. --json prints one JSON object for scripts."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "checkpoint directory (with tokenizer.json)")
    Path model;

    @Option(names = "--prompt", required = true, description = "the user message (or, with --raw, the prompt text)")
    String prompt;

    @Option(names = "--raw", description = "send --prompt as raw prompt text; control-token literals in it become control tokens")
    boolean raw;

    @Option(names = "--think", description = "thinking mode (the reply starts with reasoning)")
    boolean think;

    @Option(names = "--effort", paramLabel = "high|max", description = "reasoning effort in thinking mode")
    String effort;

    @Option(names = "--max-tokens", defaultValue = "256") int maxTokens;
    @Option(names = "--temperature", defaultValue = "1.0") double temperature;
    @Option(names = "--top-p", defaultValue = "1.0") double topP;
    @Option(names = "--top-k", defaultValue = "0") int topK;
    @Option(names = "--min-p", defaultValue = "0") double minP;
    @Option(names = "--seed") Long seed;
    @Option(names = "--stop", description = "stop string (repeatable)") List<String> stop;

    @Option(names = "--numerics", defaultValue = "official", paramLabel = "official|plain") String numerics;

    @Option(names = "--json", description = "print one JSON object: text, parsed channels, finish reason, usage, speed")
    boolean json;

    @Override
    public Integer call() {
        SamplingParams params = new SamplingParams(temperature, topP, topK, minP, seed, 1.0, 0, 0, maxTokens, stop, Map.of());
        Numerics num = switch (numerics) {
            case "official" -> Numerics.OFFICIAL;
            case "plain" -> Numerics.PLAIN;
            default -> throw new IllegalArgumentException("--numerics: must be official or plain, got " + numerics);
        };
        Tokenizer tok = TokenizerSupport.load(model.resolve("tokenizer.json"));
        RenderOptions.ThinkingMode mode = think ? RenderOptions.ThinkingMode.THINKING : RenderOptions.ThinkingMode.CHAT;
        int[] ids;
        if (raw) {
            ids = tok.encodeWithAddedTokens(prompt);
        } else {
            Prompt p = PromptRenderer.render(List.of(Message.user(prompt)),
                    new RenderOptions(mode, effort, true, RenderOptions.Revision.ORIGINAL));
            ids = p.tokenIds(tok);
        }
        PrintStream out = Inputs.stdout();
        try (Model m = Model.load(model)) {
            Session session = new Session(m, Session.Options.defaults().withNumerics(num));
            Generator gen = new Generator(tok);
            Progress bar = ids.length >= Progress.PREFILL_BAR_MIN_TOKENS ? Progress.tokens("prefill", ids.length) : null;
            Generator.Result r;
            try {
                r = gen.generate(session, ids, params, null, json ? null : s -> {
                    if (bar != null) bar.close(); // idempotent: the first text ends the prefill
                    out.print(s);
                    out.flush();
                }, null, bar == null ? null : bar.cumulative());
            } finally {
                if (bar != null) bar.close();
            }
            if (!json) {
                out.println();
                System.err.printf("[%d prompt + %d generated tokens, %s; prefill %.1f tok/s, decode %.2f tok/s]%n",
                        r.promptTokens(), r.completionTokens(), r.eos() ? "ended at EOS" : r.finish() == Generator.Finish.LENGTH ? "hit max_tokens" : "stop string",
                        r.promptTokens() / (r.prefillNanos() / 1e9), Math.max(0, r.completionTokens() - 1) / Math.max(1e-9, r.decodeNanos() / 1e9));
                return 0;
            }
            ObjectNode o = PyJson.MAPPER.createObjectNode();
            o.put("text", r.text());
            if (!raw) {
                try {
                    ParsedCompletion pc = CompletionParser.parse(r.text() + (r.eos() ? ControlToken.EOS.literal : ""), mode);
                    o.setAll(pc.toJson());
                } catch (IllegalArgumentException e) {
                    o.put("parse_error", e.getMessage());
                }
            }
            o.put("finish_reason", r.finish() == Generator.Finish.LENGTH ? "length" : "stop");
            o.putObject("usage").put("prompt_tokens", r.promptTokens()).put("completion_tokens", r.completionTokens());
            o.put("prefill_tokens_per_s", r.promptTokens() / (r.prefillNanos() / 1e9));
            o.put("decode_tokens_per_s", Math.max(0, r.completionTokens() - 1) / Math.max(1e-9, r.decodeNanos() / 1e9));
            out.println(PyJson.MAPPER.writeValueAsString(o));
            return 0;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
