package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.PyJson;

/**
 * Translates a Responses API request (instructions, input items, flat function tools, text.format) into
 * chat-completions shapes, checking each item's shape with its own field path. Consecutive reasoning,
 * assistant message and function_call items form one assistant turn, as the Responses API splits a turn
 * into items while the chat protocol renders it as one message.
 */
final class ResponsesInput {
    private ResponsesInput() {}

    static ArrayNode messages(JsonNode instructions, JsonNode input) {
        ArrayNode out = PyJson.MAPPER.createArrayNode();
        if (instructions != null && !instructions.isNull()) {
            if (!instructions.isTextual()) throw ApiException.badRequest("instructions", "instructions: must be a string");
            out.addObject().put("role", "system").put("content", instructions.textValue());
        }
        if (input == null || input.isNull()) throw ApiException.badRequest("input", "input: is required");
        if (input.isTextual()) {
            out.addObject().put("role", "user").put("content", input.textValue());
            return out;
        }
        if (!input.isArray()) throw ApiException.badRequest("input", "input: must be a string or an array of input items");
        if (input.isEmpty()) throw ApiException.badRequest("input", "input: is empty; at least one item is needed");
        ObjectNode assistant = null; // the assistant turn being assembled from consecutive items
        for (int i = 0; i < input.size(); i++) {
            String p = "input[" + i + "]";
            JsonNode item = input.get(i);
            if (!item.isObject()) throw ApiException.badRequest(p, p + ": must be an object");
            String type = item.path("type").asText(item.has("role") ? "message" : "");
            switch (type) {
                case "message" -> {
                    String role = text(item, "role", p);
                    String content = content(item.get("content"), p + ".content");
                    if (role.equals("assistant")) {
                        if (assistant == null) assistant = out.addObject().put("role", "assistant");
                        assistant.put("content", assistant.path("content").asText("") + content);
                    } else {
                        if (!role.equals("user") && !role.equals("system") && !role.equals("developer"))
                            throw ApiException.badRequest(p + ".role", p + ".role: must be user, system, developer or assistant, got '" + role + "'");
                        out.addObject().put("role", role).put("content", content);
                        assistant = null;
                    }
                }
                case "reasoning" -> {
                    if (assistant == null) assistant = out.addObject().put("role", "assistant");
                    StringBuilder sb = new StringBuilder(assistant.path("reasoning_content").asText(""));
                    JsonNode parts = item.get("content");
                    if (parts == null || parts.isNull() || parts.isEmpty()) parts = item.get("summary"); // only a summary came back
                    if (parts != null && parts.isArray())
                        for (JsonNode part : parts) sb.append(part.path("text").asText(""));
                    assistant.put("reasoning_content", sb.toString());
                }
                case "function_call" -> {
                    if (assistant == null) assistant = out.addObject().put("role", "assistant");
                    ArrayNode calls = assistant.has("tool_calls") ? (ArrayNode) assistant.get("tool_calls") : assistant.putArray("tool_calls");
                    JsonNode args = item.get("arguments");
                    if (args == null || !args.isTextual())
                        throw ApiException.badRequest(p + ".arguments", p + ".arguments: must be a JSON string");
                    ObjectNode call = calls.addObject().put("id", text(item, "call_id", p)).put("type", "function");
                    call.putObject("function").put("name", text(item, "name", p)).put("arguments", args.textValue());
                }
                case "function_call_output" -> {
                    JsonNode output = item.get("output");
                    String text = output != null && output.isTextual() ? output.textValue() : content(output, p + ".output");
                    out.addObject().put("role", "tool").put("tool_call_id", text(item, "call_id", p)).put("content", text);
                    assistant = null;
                }
                default -> throw ApiException.badRequest(p + ".type", p + ".type: input item type '" + type
                        + "' is not supported (message, reasoning, function_call and function_call_output are)");
            }
        }
        return out;
    }

    /** Message content: a string or text parts (input_text, output_text), joined as the chat protocol joins parts. */
    private static String content(JsonNode c, String path) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.textValue();
        if (!c.isArray()) throw ApiException.badRequest(path, path + ": must be a string or an array of content parts");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < c.size(); i++) {
            JsonNode part = c.get(i);
            String type = part.path("type").asText("");
            if (!type.equals("input_text") && !type.equals("output_text") && !type.equals("text"))
                throw ApiException.badRequest(path + "[" + i + "].type", path + "[" + i + "].type: content part '" + type
                        + "' is not supported (DeepSeek-V4 is text-only)");
            JsonNode t = part.get("text");
            if (t == null || !t.isTextual()) throw ApiException.badRequest(path + "[" + i + "].text", path + "[" + i + "].text: must be a string");
            if (i > 0) sb.append("\n\n");
            sb.append(t.textValue());
        }
        return sb.toString();
    }

    private static String text(JsonNode item, String field, String path) {
        JsonNode v = item.get(field);
        if (v == null || !v.isTextual() || v.textValue().isEmpty())
            throw ApiException.badRequest(path + "." + field, path + "." + field + ": must be a non-empty string");
        return v.textValue();
    }

    /** Flat function tools ({type, name, description, parameters}) → chat tools ({type, function: {…}}). */
    static JsonNode tools(JsonNode tools) {
        return chatTools(tools, "function", "", "parameters", "only function tools are supported, got '%s'");
    }

    /**
     * Flat tool objects of another API → chat tools: each needs type {@code wantType} (absent means
     * {@code defaultType}); name, description and the schema under {@code schemaKey} are carried over.
     */
    static JsonNode chatTools(JsonNode tools, String wantType, String defaultType, String schemaKey, String refusal) {
        if (tools == null || tools.isNull()) return null;
        if (!tools.isArray()) throw ApiException.badRequest("tools", "tools: must be an array");
        ArrayNode out = PyJson.MAPPER.createArrayNode();
        for (int i = 0; i < tools.size(); i++) {
            JsonNode t = tools.get(i);
            String type = t.path("type").asText(defaultType);
            if (!type.equals(wantType))
                throw ApiException.badRequest("tools[" + i + "].type", "tools[" + i + "].type: " + refusal.formatted(type));
            ObjectNode f = PyJson.MAPPER.createObjectNode();
            if (t.has("name")) f.set("name", t.get("name"));
            if (t.has("description")) f.set("description", t.get("description"));
            if (t.has(schemaKey)) f.set("parameters", t.get(schemaKey));
            out.addObject().put("type", "function").set("function", f);
        }
        return out;
    }

    /** text.format → the chat protocol's response_format (null for plain text). */
    static JsonNode responseFormat(JsonNode format) {
        if (format == null || format.isNull()) return null;
        String type = format.path("type").asText("");
        return switch (type) {
            case "text" -> null;
            case "json_object" -> PyJson.MAPPER.createObjectNode().put("type", "json_object");
            case "json_schema" -> {
                ObjectNode rf = PyJson.MAPPER.createObjectNode().put("type", "json_schema");
                ObjectNode js = rf.putObject("json_schema");
                for (String k : new String[]{"name", "description", "schema", "strict"}) if (format.has(k)) js.set(k, format.get(k));
                yield rf;
            }
            default -> throw ApiException.badRequest("text.format.type", "text.format.type: must be text, json_object or json_schema, got '" + type + "'");
        };
    }
}
