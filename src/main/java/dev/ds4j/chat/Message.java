package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * One OpenAI-style chat message, validated (CHAT_FORMAT §3.1). Content parts are already flattened to
 * text; {@code nullContent} remembers an explicit JSON null, which the official encoder renders as the
 * text {@code None} for tool results and reminders (kept for byte parity).
 */
public record Message(Role role, String content, boolean nullContent, String reasoning, List<ToolCall> toolCalls,
                      String toolCallId, List<JsonNode> tools, JsonNode responseFormat, String task, boolean woEos) {

    public enum Role {
        SYSTEM, DEVELOPER, USER, ASSISTANT, TOOL, LATEST_REMINDER;

        public String wireName() { return name().toLowerCase(java.util.Locale.ROOT); }

        static Role parse(String s) {
            for (Role r : values()) if (r.wireName().equals(s)) return r;
            return null;
        }
    }

    /**
     * A tool call in assistant history. {@code arguments} is the parsed argument object in its original
     * key order; it is re-rendered as DSML parameters (strings raw, everything else as Python JSON).
     */
    public record ToolCall(String id, String name, ObjectNode arguments) {}

    public Message {
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
        tools = tools == null ? List.of() : List.copyOf(tools);
        if (content == null) content = "";
    }

    public static Message system(String content) {
        return new Message(Role.SYSTEM, content, false, null, null, null, null, null, null, false);
    }

    public static Message user(String content) {
        return new Message(Role.USER, content, false, null, null, null, null, null, null, false);
    }

    public static Message assistant(String reasoning, String content, List<ToolCall> calls) {
        return new Message(Role.ASSISTANT, content, false, reasoning, calls, null, null, null, null, false);
    }

    public static Message tool(String toolCallId, String content) {
        return new Message(Role.TOOL, content, false, null, null, toolCallId, null, null, null, false);
    }

    Message withTools(List<JsonNode> newTools, JsonNode newResponseFormat) {
        return new Message(role, content, nullContent, reasoning, toolCalls, toolCallId, newTools, newResponseFormat, task, woEos);
    }
}
