package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * An assistant turn split into its three channels. {@code arguments} is the official rebuild
 * (CHAT_FORMAT §4.4): string values JSON-quoted, other values pasted verbatim, so it is not
 * necessarily valid JSON — {@link ToolCall#argumentsValidJson} says whether it is.
 */
public record ParsedCompletion(String reasoningContent, String content, List<ToolCall> toolCalls) {

    public record ToolCall(String name, String arguments) {
        public boolean argumentsValidJson() {
            try {
                JsonNode n = PyJson.loads(arguments);
                return n != null && n.isObject();
            } catch (Exception e) {
                return false;
            }
        }
    }

    public ParsedCompletion {
        toolCalls = List.copyOf(toolCalls);
    }

    /** {@code {"reasoning_content", "content", "tool_calls": [{"type": "function", "function": {"name", "arguments"}}]}}. */
    public ObjectNode toJson() {
        ObjectNode o = PyJson.MAPPER.createObjectNode();
        o.put("reasoning_content", reasoningContent);
        o.put("content", content);
        ArrayNode calls = o.putArray("tool_calls");
        for (ToolCall c : toolCalls) {
            ObjectNode call = calls.addObject();
            call.put("type", "function");
            ObjectNode f = call.putObject("function");
            f.put("name", c.name());
            f.put("arguments", c.arguments());
        }
        return o;
    }
}
