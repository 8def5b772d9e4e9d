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
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;

/**
 * The local engine as a {@link ModelClient}: render with {@link PromptRenderer}, tokenise, generate on a fresh
 * {@link Session}, parse with {@link CompletionParser}.
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

    public LocalModelClient(Model model, Tokenizer tokenizer, String name, SamplingParams params, List<String> forcedScript) {
        this.model = Objects.requireNonNull(model, "model");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.generator = new Generator(tokenizer);
        this.params = Objects.requireNonNull(params, "params");
        this.name = Objects.requireNonNull(name, "name");
        this.script = new ArrayDeque<>(forcedScript == null ? List.of() : forcedScript);
    }

    @Override public String modelName() { return name; }

    /** How many scripted completions are still to be forced. */
    public synchronized int scriptLeft() { return script.size(); }

    @Override
    public synchronized Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options) {
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
        // A fresh session per turn: simple and correct; reusing the previous turn's KV cache is a later optimisation.
        Session session = new Session(model, Session.Options.defaults());
        Generator.Result res = generator.generate(session, prompt, p, forced, null);
        if (!res.eos()) {
            // Cut off (max_tokens or a stop string): the strict parser needs the EOS that ends a whole completion,
            // so the text is kept as content with no tool calls (a half-written call must not run) and the loop
            // ends the run on the truncation.
            return new Completion(new ParsedCompletion(null, res.text(), List.of()), res.text(),
                    res.promptTokens(), res.completionTokens(), true);
        }
        // The generator's text stops before the EOS token; the grammar ends with it, as the server's ChatTurn adds it.
        String raw = res.text() + ControlToken.EOS.literal;
        ParsedCompletion parsed = CompletionParser.parse(raw, options.thinkingMode());
        return new Completion(parsed, raw, res.promptTokens(), res.completionTokens(), false);
    }
}
