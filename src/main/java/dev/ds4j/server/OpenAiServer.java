package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.Dsml;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.MessageReader;
import dev.ds4j.chat.Prompt;
import dev.ds4j.chat.PromptRenderer;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.Engine;
import dev.ds4j.generate.Forcing;
import dev.ds4j.generate.Generator;
import dev.ds4j.generate.SamplingParams;
import io.javalin.Javalin;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The OpenAI-compatible HTTP face of an {@link Engine}: chat completions (streamed or not, with tools and
 * reasoning), text completions, models, health and Prometheus metrics. It sees requests, prompts and
 * text, never a tensor. Every bad request gets a 4xx in OpenAI's error shape and the server keeps serving.
 */
public final class OpenAiServer implements AutoCloseable {
    private final Engine engine;
    private final String modelId;
    private final String apiKey;
    private final Javalin app;
    private volatile boolean allowControlText;

    public OpenAiServer(Engine engine, String modelId, String apiKey) {
        this.engine = engine;
        this.modelId = modelId;
        this.apiKey = apiKey == null || apiKey.isEmpty() ? null : apiKey;
        ResponsesApi responses = new ResponsesApi(this);
        AnthropicApi anthropic = new AnthropicApi(this);
        this.app = Javalin.create(cfg -> {
            cfg.showJavalinBanner = false;
            cfg.http.maxRequestSize = 64L << 20;
            cfg.useVirtualThreads = true;
        });
        app.before("/v1/*", this::authorize);
        app.post("/v1/chat/completions", this::chatCompletions);
        app.post("/v1/completions", this::completions);
        app.post("/v1/responses", responses::create);
        app.post("/v1/messages", anthropic::create);
        app.get("/v1/models", ctx -> ctx.json(models()));
        app.get("/health", ctx -> ctx.contentType("application/json").result("{\"status\":\"ok\"}"));
        app.get("/metrics", this::metrics);
        app.exception(ApiException.class, (e, ctx) -> error(ctx, e));
        app.exception(ChatFormatException.class, (e, ctx) -> error(ctx, ApiException.badRequest(paramOf(e.getMessage()), e.getMessage())));
        app.exception(Exception.class, (e, ctx) -> {
            e.printStackTrace();
            error(ctx, new ApiException(500, "server_error", null, null, "internal error: " + e));
        });
        app.error(404, ctx -> {
            String ct = ctx.res().getContentType();
            if (ct == null || !ct.startsWith("application/json")) error(ctx, new ApiException(404, "invalid_request_error", null, "not_found", "no route " + ctx.method() + " " + ctx.path()));
        });
        app.error(405, ctx -> error(ctx, new ApiException(405, "invalid_request_error", null, null, "method " + ctx.method() + " not allowed on " + ctx.path())));
    }

    public OpenAiServer start(String host, int port) {
        app.start(host, port);
        return this;
    }

    public int port() { return app.port(); }

    /** Accept control-token text in user and system content as plain text instead of refusing it. */
    public OpenAiServer allowControlText(boolean allow) {
        this.allowControlText = allow;
        return this;
    }

    Engine engine() { return engine; }

    String modelId() { return modelId; }

    @Override
    public void close() { app.stop(); }

    private void authorize(Context ctx) {
        if (apiKey == null) return;
        String h = ctx.header("Authorization");
        String xk = ctx.header("x-api-key");
        if (!(("Bearer " + apiKey).equals(h) || apiKey.equals(xk)))
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", "missing or wrong API key (send Authorization: Bearer KEY)");
    }

    private ObjectNode models() {
        ObjectNode o = PyJson.MAPPER.createObjectNode().put("object", "list");
        o.putArray("data").addObject().put("id", modelId).put("object", "model").put("created", 0).put("owned_by", "ds4j");
        return o;
    }

    private void metrics(Context ctx) {
        Engine.Stats s = engine.stats();
        StringBuilder m = new StringBuilder();
        metric(m, "requests_total", "counter", s.requests());
        metric(m, "requests_active", "gauge", s.active());
        metric(m, "requests_queued", "gauge", s.queued());
        metric(m, "requests_cancelled_total", "counter", s.cancelled());
        metric(m, "requests_failed_total", "counter", s.failed());
        metric(m, "prompt_tokens_total", "counter", s.promptTokens());
        metric(m, "prompt_tokens_cached_total", "counter", s.cachedTokens());
        metric(m, "completion_tokens_total", "counter", s.completionTokens());
        metric(m, "batch_steps_total", "counter", s.steps());
        metric(m, "batch_step_sequences_total", "counter", s.stepSequences());
        if (s.prefixCache() != null) {
            metric(m, "prefix_cache_entries", "gauge", s.prefixCache().entries());
            metric(m, "prefix_cache_bytes", "gauge", s.prefixCache().bytes());
            metric(m, "prefix_cache_budget_bytes", "gauge", s.prefixCache().budget());
            metric(m, "prefix_cache_hits_total", "counter", s.prefixCache().hits());
            metric(m, "prefix_cache_misses_total", "counter", s.prefixCache().misses());
            metric(m, "prefix_cache_evictions_total", "counter", s.prefixCache().evictions());
        }
        ctx.contentType("text/plain; version=0.0.4").result(m.toString());
    }

    private static void metric(StringBuilder m, String name, String type, long value) {
        m.append("# TYPE ds4j_").append(name).append(' ').append(type).append("\nds4j_").append(name).append(' ').append(value).append('\n');
    }

    /** The body as JSON; invalid UTF-8 and invalid JSON are 400s, not silently repaired. */
    static JsonNode body(Context ctx) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(ctx.bodyAsBytes())).toString();
        } catch (CharacterCodingException e) {
            throw ApiException.badRequest(null, "request body is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = PyJson.loads(text);
        } catch (IOException e) {
            throw ApiException.badRequest(null, "request body is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) throw ApiException.badRequest(null, "request body must be a JSON object");
        return root;
    }

    void checkModel(JsonNode r) {
        JsonNode m = r.get("model");
        if (m == null || m.isNull()) throw ApiException.badRequest("model", "model: is required (this server serves '" + modelId + "')");
        if (!m.isTextual() || !m.textValue().equals(modelId))
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                    "model '" + m.asText() + "' does not exist; this server serves '" + modelId + "'");
    }

    int[] checkContext(int[] prompt, SamplingParams p) {
        for (int id : p.logitBias().keySet())
            if (id < 0 || id >= engine.vocabSize())
                throw ApiException.badRequest("logit_bias", "logit_bias: token id " + id + " is outside the vocabulary [0, " + engine.vocabSize() + ")");
        int ctxLen = engine.contextLength();
        if (prompt.length >= ctxLen)
            throw new ApiException(400, "invalid_request_error", "messages", "context_length_exceeded",
                    "the prompt is " + prompt.length + " tokens, over the model's context of " + ctxLen + " tokens");
        if ((long) prompt.length + p.maxTokens() > ctxLen)
            throw new ApiException(400, "invalid_request_error", "max_tokens", "context_length_exceeded",
                    "prompt (" + prompt.length + " tokens) + max_tokens (" + p.maxTokens() + ") exceeds the model's context of " + ctxLen + " tokens");
        return prompt;
    }

    /**
     * Renders a conversation and checks it fits. Control-token literals typed into system or user text are
     * refused (400) unless the server allows them as plain text: the protocol layer would tokenise them
     * harmlessly, but a client that sends them is almost always doing prompt templating by hand, which
     * this endpoint does for it. Tool results may contain anything (they quote files and web pages).
     */
    int[] promptIds(List<Message> messages, List<JsonNode> tools, JsonNode rf, RenderOptions mode, SamplingParams params) {
        if (!allowControlText)
            for (int i = 0; i < messages.size(); i++) {
                Message m = messages.get(i);
                if (m.role() != Message.Role.USER && m.role() != Message.Role.SYSTEM && m.role() != Message.Role.DEVELOPER) continue;
                String literal = ControlText.find(m.content());
                if (literal != null)
                    throw new ApiException(400, "invalid_request_error", "messages[" + i + "].content", "control_token_in_content",
                            "messages[" + i + "].content: contains the control token text '" + literal + "'; the server renders the "
                                    + "chat template itself (start it with --allow-control-text to pass such text on as plain text)");
            }
        Prompt prompt = PromptRenderer.render(messages, tools, rf, mode);
        return checkContext(prompt.tokenIds(engine.tokenizer()), params);
    }

    int[] forced(JsonNode r) {
        JsonNode f = r.get("ds4j_forced_output");
        if (f == null || f.isNull()) return null;
        if (!f.isTextual()) throw ApiException.badRequest("ds4j_forced_output", "ds4j_forced_output: must be a string");
        return engine.tokenizer().encodeWithAddedTokens(f.textValue());
    }

    /**
     * What the output must start with: the request's forced output, or for a tool choice that demands a call
     * ({@code toolChoice} "" = any tool, else the tool's name) the opening of a DSML tool-call block, right
     * away in chat mode and right after {@code </think>} in thinking mode.
     */
    Forcing forcing(JsonNode r, RenderOptions mode, String toolChoice) {
        int[] f = forced(r);
        if (f != null || toolChoice == null) return Forcing.prefix(f);
        int[] opener = engine.tokenizer().encodeWithAddedTokens(Dsml.toolCallOpener(toolChoice.isEmpty() ? null : toolChoice));
        if (mode.thinkingMode() == RenderOptions.ThinkingMode.CHAT) return Forcing.prefix(opener);
        return Forcing.after(engine.tokenizer().requireAddedTokenId(ControlToken.THINK_END.literal), opener);
    }

    /** Checks that a tool choice names a declared tool; "" (any tool) needs at least one. */
    static String checkToolChoice(String choice, List<JsonNode> tools, String param) {
        if (choice == null) return null;
        if (tools.isEmpty()) throw ApiException.badRequest(param, param + ": requires a tool call but the request declares no tools");
        if (!choice.isEmpty() && tools.stream().noneMatch(t -> choice.equals(t.path("name").asText())))
            throw ApiException.badRequest(param, param + ": names tool '" + choice + "', which is not among the declared tools");
        return choice;
    }

    private void chatCompletions(Context ctx) throws IOException {
        JsonNode r = body(ctx);
        checkModel(r);
        SamplingParams params = RequestReader.sampling(r);
        RenderOptions mode = RequestReader.mode(r);
        List<Message> messages = MessageReader.messages(r.get("messages"), "messages");
        List<JsonNode> tools = MessageReader.tools(r.get("tools"), "tools");
        JsonNode choice = r.get("tool_choice");
        String required = null; // null: the model decides; "": some tool; else that tool
        if (choice != null && !choice.isNull()) {
            if (choice.isTextual()) {
                switch (choice.textValue()) {
                    case "none" -> tools = List.of();
                    case "auto" -> { }
                    case "required" -> required = "";
                    default -> throw ApiException.badRequest("tool_choice", "tool_choice: must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": …}}");
                }
            } else if (choice.isObject() && choice.path("function").path("name").isTextual()) {
                required = choice.path("function").path("name").textValue();
            } else {
                throw ApiException.badRequest("tool_choice", "tool_choice: must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": …}}");
            }
        }
        required = checkToolChoice(required, tools, "tool_choice");
        JsonNode rf = r.get("response_format");
        if (rf != null && rf.isObject() && "text".equals(rf.path("type").asText())) rf = null;
        int[] ids = promptIds(messages, tools, rf, mode, params);
        boolean stream = r.path("stream").asBoolean(false);
        boolean usageInStream = r.path("stream_options").path("include_usage").asBoolean(false);
        String id = "chatcmpl-" + Long.toHexString(System.nanoTime()) + Integer.toHexString(System.identityHashCode(ctx));
        long created = System.currentTimeMillis() / 1000;
        ChatTurn turn = new ChatTurn(mode.thinkingMode());

        if (!stream) {
            Generator.Result res = TurnRunner.complete(engine.submit(ids, params, forcing(r, mode, required), null), turn, null);
            ObjectNode o = PyJson.MAPPER.createObjectNode().put("id", id).put("object", "chat.completion").put("created", created).put("model", modelId);
            ObjectNode c = o.putArray("choices").addObject().put("index", 0);
            ObjectNode msg = c.putObject("message").put("role", "assistant");
            if (turn.parseError() != null) {
                msg.put("content", res.text()); // malformed DSML: the whole text as content, as vLLM does
            } else {
                msg.put("content", turn.calls.isEmpty() || !turn.content().isEmpty() ? turn.content() : null);
                if (mode.thinkingMode() == RenderOptions.ThinkingMode.THINKING) msg.put("reasoning_content", turn.reasoning());
                if (!turn.calls.isEmpty()) {
                    ArrayNode tc = msg.putArray("tool_calls");
                    for (ChatTurn.Call call : turn.calls)
                        tc.addObject().put("id", call.id()).put("type", "function").putObject("function")
                                .put("name", call.name()).put("arguments", call.arguments().toString());
                }
            }
            c.put("finish_reason", finishReason(res, turn));
            usage(o.putObject("usage"), res);
            // The model's text exactly as generated (special tokens as text, EOS left out), for debugging templates.
            if (r.path("ds4j_return_raw").asBoolean(false)) o.put("ds4j_raw_output", res.text());
            ctx.json(o);
            return;
        }

        LinkedBlockingQueue<String> pieces = new LinkedBlockingQueue<>();
        Engine.Job job = engine.submit(ids, params, forcing(r, mode, required), pieces::add);
        OutputStream out = startSse(ctx);
        try {
            ObjectNode first = choice();
            first.putObject("delta").put("role", "assistant").put("content", "");
            first.putNull("finish_reason");
            sse(out, wrap(id, created, first));
        } catch (IOException e) {
            job.cancel();
            return;
        }
        Generator.Result res = TurnRunner.stream(job, pieces, turn, d -> sse(out, deltaChunk(id, created, d)));
        if (res == null) return;
        try {
            ObjectNode last = choice();
            last.putObject("delta");
            last.put("finish_reason", finishReason(res, turn));
            ObjectNode lastChunk = wrap(id, created, last);
            // Streamed too, so a client gets the same raw text either way: on the finish chunk, which is always sent.
            if (r.path("ds4j_return_raw").asBoolean(false)) lastChunk.put("ds4j_raw_output", res.text());
            sse(out, lastChunk);
            if (usageInStream) {
                ObjectNode u = PyJson.MAPPER.createObjectNode().put("id", id).put("object", "chat.completion.chunk").put("created", created).put("model", modelId);
                u.putArray("choices");
                usage(u.putObject("usage"), res);
                sse(out, u);
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException ignored) {
            // the client left after the last token: nothing is running any more
        }
    }

    static OutputStream startSse(Context ctx) throws IOException {
        ctx.res().setStatus(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        return ctx.res().getOutputStream();
    }

    private void completions(Context ctx) throws IOException {
        JsonNode r = body(ctx);
        checkModel(r);
        SamplingParams params = RequestReader.sampling(r.has("max_tokens") ? r : ((ObjectNode) r.deepCopy()).put("max_tokens", 16));
        JsonNode p = r.get("prompt");
        if (p == null || !p.isTextual()) throw ApiException.badRequest("prompt", "prompt: must be a string");
        // A raw completion prompt is the caller's own template: control literals in it are meant as tokens.
        int[] ids = checkContext(engine.tokenizer().encodeWithAddedTokens(p.textValue()), params);
        if (ids.length == 0) throw ApiException.badRequest("prompt", "prompt: empty");
        Generator.Result res = TurnRunner.await(engine.submit(ids, params, forced(r), null));
        ObjectNode o = PyJson.MAPPER.createObjectNode().put("id", "cmpl-" + Long.toHexString(System.nanoTime())).put("object", "text_completion")
                .put("created", System.currentTimeMillis() / 1000).put("model", modelId);
        o.putArray("choices").addObject().put("index", 0).put("text", res.text()).putNull("logprobs")
                .put("finish_reason", res.finish() == Generator.Finish.LENGTH ? "length" : "stop");
        usage(o.putObject("usage"), res);
        ctx.json(o);
    }

    private static String finishReason(Generator.Result res, ChatTurn turn) {
        if (res.finish() == Generator.Finish.LENGTH) return "length";
        return turn.parseError() == null && !turn.calls.isEmpty() ? "tool_calls" : "stop";
    }

    static void usage(ObjectNode u, Generator.Result res) {
        u.put("prompt_tokens", res.promptTokens()).put("completion_tokens", res.completionTokens())
                .put("total_tokens", res.promptTokens() + res.completionTokens());
        u.putObject("prompt_tokens_details").put("cached_tokens", res.cachedTokens());
    }

    private static ObjectNode choice() {
        return PyJson.MAPPER.createObjectNode().put("index", 0);
    }

    private ObjectNode wrap(String id, long created, ObjectNode choice) {
        ObjectNode o = PyJson.MAPPER.createObjectNode().put("id", id).put("object", "chat.completion.chunk").put("created", created).put("model", modelId);
        o.putArray("choices").add(choice);
        return o;
    }

    private ObjectNode deltaChunk(String id, long created, ChatTurn.Delta d) {
        ObjectNode choice = choice();
        ObjectNode delta = choice.putObject("delta");
        if (d.reasoning() != null) delta.put("reasoning_content", d.reasoning());
        else if (d.content() != null) delta.put("content", d.content());
        else if (d.toolStart() != null) {
            ObjectNode tc = delta.putArray("tool_calls").addObject().put("index", d.toolStart().index()).put("id", d.toolStart().id()).put("type", "function");
            tc.putObject("function").put("name", d.toolStart().name()).put("arguments", "");
        } else {
            delta.putArray("tool_calls").addObject().put("index", d.toolArgs().index()).putObject("function").put("arguments", d.toolArgs().fragment());
        }
        choice.putNull("finish_reason");
        return wrap(id, created, choice);
    }

    static void sse(OutputStream out, ObjectNode o) throws IOException {
        out.write(("data: " + PyJson.MAPPER.writeValueAsString(o) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void error(Context ctx, ApiException e) {
        if (ctx.path().startsWith("/v1/messages")) {
            AnthropicApi.error(ctx, e);
            return;
        }
        ObjectNode o = PyJson.MAPPER.createObjectNode();
        ObjectNode err = o.putObject("error").put("message", e.getMessage()).put("type", e.type);
        if (e.param != null) err.put("param", e.param); else err.putNull("param");
        if (e.code != null) err.put("code", e.code); else err.putNull("code");
        ctx.status(e.status).json(o);
    }

    /** "messages[2].role: …" → "messages[2].role". */
    private static String paramOf(String message) {
        int c = message.indexOf(": ");
        return c > 0 && !message.substring(0, c).contains(" ") ? message.substring(0, c) : null;
    }
}
