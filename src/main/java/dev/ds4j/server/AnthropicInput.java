package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.PyJson;

/**
 * Translates an Anthropic Messages request (system, messages of content blocks, tools with input_schema,
 * thinking) into chat-completions shapes, checking each block with its own field path. A user turn's
 * tool_result blocks become tool messages, placed before its text, since the chat protocol puts tool
 * results right after the assistant turn that called them.
 */
final class AnthropicInput {
    private AnthropicInput() {}

    static ArrayNode messages(JsonNode system, JsonNode messages) {
        ArrayNode out = PyJson.MAPPER.createArrayNode();
        if (system != null && !system.isNull()) out.addObject().put("role", "system").put("content", text(system, "system"));
        if (messages == null || messages.isNull()) throw ApiException.badRequest("messages", "messages: is required");
        if (!messages.isArray()) throw ApiException.badRequest("messages", "messages: must be an array");
        if (messages.isEmpty()) throw ApiException.badRequest("messages", "messages: is empty; at least one message is needed");
        for (int i = 0; i < messages.size(); i++) {
            String p = "messages[" + i + "]";
            JsonNode m = messages.get(i);
            if (!m.isObject()) throw ApiException.badRequest(p, p + ": must be an object");
            String role = m.path("role").asText("");
            JsonNode content = m.get("content");
            if (content == null || content.isNull()) throw ApiException.badRequest(p + ".content", p + ".content: is required");
            if (role.equals("user")) user(content, p + ".content", out);
            else if (role.equals("assistant")) assistant(content, p + ".content", out);
            else throw ApiException.badRequest(p + ".role", p + ".role: must be user or assistant, got '" + role + "'");
        }
        return out;
    }

    private static void user(JsonNode content, String path, ArrayNode out) {
        if (content.isTextual()) {
            out.addObject().put("role", "user").put("content", content.textValue());
            return;
        }
        if (!content.isArray()) throw ApiException.badRequest(path, path + ": must be a string or an array of content blocks");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < content.size(); i++) {
            String p = path + "[" + i + "]";
            JsonNode b = content.get(i);
            switch (b.path("type").asText("")) {
                case "text" -> {
                    if (!text.isEmpty()) text.append("\n\n");
                    text.append(string(b, "text", p));
                }
                case "tool_result" -> {
                    JsonNode c = b.get("content");
                    String result = c == null || c.isNull() ? "" : text(c, p + ".content");
                    if (b.path("is_error").asBoolean(false)) result = "Error: " + result;
                    out.addObject().put("role", "tool").put("tool_call_id", string(b, "tool_use_id", p)).put("content", result);
                }
                default -> throw unsupported(b, p);
            }
        }
        if (!text.isEmpty() || content.isEmpty()) out.addObject().put("role", "user").put("content", text.toString());
    }

    private static void assistant(JsonNode content, String path, ArrayNode out) {
        ObjectNode m = out.addObject().put("role", "assistant");
        if (content.isTextual()) {
            m.put("content", content.textValue());
            return;
        }
        if (!content.isArray()) throw ApiException.badRequest(path, path + ": must be a string or an array of content blocks");
        StringBuilder text = new StringBuilder(), thinking = new StringBuilder();
        for (int i = 0; i < content.size(); i++) {
            String p = path + "[" + i + "]";
            JsonNode b = content.get(i);
            switch (b.path("type").asText("")) {
                case "text" -> text.append(string(b, "text", p));
                case "thinking" -> thinking.append(string(b, "thinking", p));
                case "redacted_thinking" -> { } // opaque to us: nothing to render
                case "tool_use" -> {
                    JsonNode input = b.get("input");
                    if (input == null || !input.isObject()) throw ApiException.badRequest(p + ".input", p + ".input: must be an object");
                    ArrayNode calls = m.has("tool_calls") ? (ArrayNode) m.get("tool_calls") : m.putArray("tool_calls");
                    ObjectNode call = calls.addObject().put("id", string(b, "id", p)).put("type", "function");
                    call.putObject("function").put("name", string(b, "name", p)).set("arguments", input);
                }
                default -> throw unsupported(b, p);
            }
        }
        m.put("content", text.toString());
        if (!thinking.isEmpty()) m.put("reasoning_content", thinking.toString());
    }

    private static ApiException unsupported(JsonNode b, String p) {
        return ApiException.badRequest(p + ".type", p + ".type: content block '" + b.path("type").asText("")
                + "' is not supported here (text, thinking, tool_use and tool_result are; DeepSeek-V4 is text-only)");
    }

    /** A string, or text blocks joined by blank lines. */
    private static String text(JsonNode c, String path) {
        if (c.isTextual()) return c.textValue();
        if (!c.isArray()) throw ApiException.badRequest(path, path + ": must be a string or an array of text blocks");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < c.size(); i++) {
            JsonNode b = c.get(i);
            if (!"text".equals(b.path("type").asText())) throw unsupported(b, path + "[" + i + "]");
            if (i > 0) sb.append("\n\n");
            sb.append(string(b, "text", path + "[" + i + "]"));
        }
        return sb.toString();
    }

    private static String string(JsonNode b, String field, String path) {
        JsonNode v = b.get(field);
        if (v == null || !v.isTextual()) throw ApiException.badRequest(path + "." + field, path + "." + field + ": must be a string");
        return v.textValue();
    }

    /** Anthropic tools ({name, description, input_schema}) → chat tools. Server tools are refused. */
    static JsonNode tools(JsonNode tools) {
        return ResponsesInput.chatTools(tools, "custom", "custom", "input_schema",
                "server tool '%s' is not available; define it as a custom tool");
    }
}
