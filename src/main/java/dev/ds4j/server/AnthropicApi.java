package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.MessageReader;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.Engine;
import dev.ds4j.generate.Generator;
import dev.ds4j.generate.SamplingParams;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * POST /v1/messages, Anthropic's Messages API: thinking, text and tool_use blocks, streamed as
 * content_block_* events, errors in Anthropic's shape. Thinking is off unless the request enables it,
 * as in Anthropic's API (the OpenAI endpoints default to on, as DeepSeek's API does).
 */
final class AnthropicApi {
    private final OpenAiServer server;

    AnthropicApi(OpenAiServer server) { this.server = server; }

    void create(Context ctx) throws IOException {
        JsonNode r = OpenAiServer.body(ctx);
        server.checkModel(r);
        JsonNode max = r.get("max_tokens");
        if (max == null || !max.isIntegralNumber() || max.intValue() < 1)
            throw ApiException.badRequest("max_tokens", "max_tokens: is required and must be a positive integer");
        ObjectNode chat = PyJson.MAPPER.createObjectNode();
        for (String f : new String[]{"temperature", "top_p", "top_k", "max_tokens"}) if (r.has(f)) chat.set(f, r.get(f));
        if (r.has("stop_sequences")) chat.set("stop", r.get("stop_sequences"));
        SamplingParams params = RequestReader.sampling(chat);
        RenderOptions mode = mode(r);
        List<Message> msgs;
        List<JsonNode> tools;
        try {
            msgs = MessageReader.messages(AnthropicInput.messages(r.get("system"), r.get("messages")), "messages");
            tools = MessageReader.tools(AnthropicInput.tools(r.get("tools")), "tools");
        } catch (ChatFormatException e) {
            throw ApiException.badRequest(null, "messages (as chat messages): " + e.getMessage());
        }
        String required = null;
        JsonNode choice = r.get("tool_choice");
        if (choice != null && !choice.isNull()) {
            switch (choice.path("type").asText("")) {
                case "none" -> tools = List.of();
                case "auto" -> { }
                case "any" -> required = "";
                case "tool" -> {
                    if (!choice.path("name").isTextual()) throw ApiException.badRequest("tool_choice.name", "tool_choice.name: must be a string");
                    required = choice.get("name").textValue();
                }
                default -> throw ApiException.badRequest("tool_choice.type", "tool_choice.type: must be auto, any, tool or none");
            }
        }
        required = OpenAiServer.checkToolChoice(required, tools, "tool_choice");
        int[] ids = server.promptIds(msgs, tools, null, mode, params);

        String id = "msg_" + Ids.hex(24);
        ChatTurn turn = new ChatTurn(mode.thinkingMode());
        Engine engine = server.engine();
        if (!r.path("stream").asBoolean(false)) {
            Blocks b = new Blocks(null);
            Generator.Result res = TurnRunner.complete(engine.submit(ids, params, server.forcing(r, mode, required), null), turn, b::accept);
            b.close();
            ObjectNode o = message(id, ids.length);
            o.set("content", b.content);
            o.put("stop_reason", stopReason(res, turn));
            if (res.stopSequence() != null) o.put("stop_sequence", res.stopSequence());
            usage(o.putObject("usage"), res);
            ctx.json(o);
            return;
        }
        LinkedBlockingQueue<String> pieces = new LinkedBlockingQueue<>();
        Engine.Job job = engine.submit(ids, params, server.forcing(r, mode, required), pieces::add);
        OutputStream out = OpenAiServer.startSse(ctx);
        Blocks b = new Blocks(out);
        try {
            ObjectNode start = PyJson.MAPPER.createObjectNode();
            start.set("message", message(id, ids.length));
            b.event("message_start", start);
        } catch (IOException e) {
            job.cancel();
            return;
        }
        Generator.Result res = TurnRunner.stream(job, pieces, turn, b::accept);
        if (res == null) return;
        try {
            b.close();
            ObjectNode delta = PyJson.MAPPER.createObjectNode();
            ObjectNode d = delta.putObject("delta").put("stop_reason", stopReason(res, turn));
            if (res.stopSequence() != null) d.put("stop_sequence", res.stopSequence()); else d.putNull("stop_sequence");
            usage(delta.putObject("usage"), res);
            b.event("message_delta", delta);
            b.event("message_stop", PyJson.MAPPER.createObjectNode());
        } catch (IOException ignored) {
            // the client left after the last token
        }
    }

    /** {@code thinking: {type: enabled|adaptive|disabled}}; effort from {@code output_config.effort} (max → max). */
    private static RenderOptions mode(JsonNode r) {
        JsonNode t = r.get("thinking");
        boolean on = false;
        if (t != null && !t.isNull()) {
            String type = t.path("type").asText("");
            on = switch (type) {
                case "enabled", "adaptive" -> true;
                case "disabled" -> false;
                default -> throw ApiException.badRequest("thinking.type", "thinking.type: must be enabled, adaptive or disabled, got '" + type + "'");
            };
        }
        String effort = r.path("output_config").path("effort").asText("");
        return new RenderOptions(on ? RenderOptions.ThinkingMode.THINKING : RenderOptions.ThinkingMode.CHAT,
                on ? (effort.equals("max") ? "max" : "high") : null, true, RenderOptions.Revision.ORIGINAL);
    }

    private ObjectNode message(String id, int promptTokens) {
        ObjectNode o = PyJson.MAPPER.createObjectNode().put("id", id).put("type", "message").put("role", "assistant").put("model", server.modelId());
        o.putArray("content");
        o.putNull("stop_reason");
        o.putNull("stop_sequence");
        o.putObject("usage").put("input_tokens", promptTokens).put("output_tokens", 0);
        return o;
    }

    private static String stopReason(Generator.Result res, ChatTurn turn) {
        if (res.finish() == Generator.Finish.LENGTH) return "max_tokens";
        if (res.stopSequence() != null) return "stop_sequence";
        return turn.parseError() == null && !turn.calls.isEmpty() ? "tool_use" : "end_turn";
    }

    private static void usage(ObjectNode u, Generator.Result res) {
        u.put("input_tokens", res.promptTokens() - res.cachedTokens()).put("output_tokens", res.completionTokens())
                .put("cache_read_input_tokens", res.cachedTokens()).put("cache_creation_input_tokens", 0);
    }

    /** The reply's content blocks, built from the turn's deltas and, when streaming, sent as events. */
    private static final class Blocks {
        final ArrayNode content = PyJson.MAPPER.createArrayNode();
        private final OutputStream out;
        private ObjectNode open;
        private final StringBuilder text = new StringBuilder();

        Blocks(OutputStream out) { this.out = out; }

        void accept(ChatTurn.Delta d) throws IOException {
            if (d.reasoning() != null) {
                if (!isOpen("thinking")) openBlock(PyJson.MAPPER.createObjectNode().put("type", "thinking").put("thinking", "").put("signature", ""));
                delta(PyJson.MAPPER.createObjectNode().put("type", "thinking_delta").put("thinking", d.reasoning()), d.reasoning());
            } else if (d.content() != null) {
                if (!isOpen("text")) openBlock(PyJson.MAPPER.createObjectNode().put("type", "text").put("text", ""));
                delta(PyJson.MAPPER.createObjectNode().put("type", "text_delta").put("text", d.content()), d.content());
            } else if (d.toolStart() != null) {
                ObjectNode b = PyJson.MAPPER.createObjectNode().put("type", "tool_use").put("id", "toolu_" + Ids.hex(24)).put("name", d.toolStart().name());
                b.putObject("input");
                openBlock(b);
            } else {
                delta(PyJson.MAPPER.createObjectNode().put("type", "input_json_delta").put("partial_json", d.toolArgs().fragment()), d.toolArgs().fragment());
            }
        }

        private boolean isOpen(String type) { return open != null && open.path("type").asText().equals(type); }

        private void openBlock(ObjectNode block) throws IOException {
            close();
            open = block;
            text.setLength(0);
            ObjectNode e = PyJson.MAPPER.createObjectNode().put("index", content.size());
            e.set("content_block", block.deepCopy());
            event("content_block_start", e);
        }

        private void delta(ObjectNode delta, String piece) throws IOException {
            text.append(piece);
            ObjectNode e = PyJson.MAPPER.createObjectNode().put("index", content.size());
            e.set("delta", delta);
            event("content_block_delta", e);
        }

        void close() throws IOException {
            if (open == null) return;
            switch (open.path("type").asText()) {
                case "thinking" -> open.put("thinking", text.toString());
                case "text" -> open.put("text", text.toString());
                default -> {
                    JsonNode input;
                    try {
                        input = PyJson.MAPPER.readTree(text.isEmpty() ? "{}" : text.toString());
                    } catch (IOException e) {
                        input = null;
                    }
                    // The parser only yields JSON-valued parameters; should one not parse, keep the raw text visible.
                    if (input instanceof ObjectNode obj) open.set("input", obj);
                    else open.putObject("input").put("_raw_arguments", text.toString());
                }
            }
            event("content_block_stop", PyJson.MAPPER.createObjectNode().put("index", content.size()));
            content.add(open);
            open = null;
        }

        void event(String type, ObjectNode data) throws IOException {
            if (out == null) return;
            ObjectNode e = PyJson.MAPPER.createObjectNode().put("type", type);
            e.setAll(data);
            out.write(("event: " + type + "\ndata: " + PyJson.MAPPER.writeValueAsString(e) + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    /** Anthropic's error shape: {"type": "error", "error": {"type", "message"}}. */
    static void error(Context ctx, ApiException e) {
        String type = switch (e.status) {
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503 -> "overloaded_error";
            default -> e.status >= 500 ? "api_error" : "invalid_request_error";
        };
        ObjectNode o = PyJson.MAPPER.createObjectNode().put("type", "error");
        o.putObject("error").put("type", type).put("message", e.getMessage());
        ctx.status(e.status).json(o);
    }
}
