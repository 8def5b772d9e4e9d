package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What a tool call gave: {@code text} is what the model reads; {@code details} is structured data for the log
 * and the live view (exit code, truncation, counts), never shown to the model as such.
 */
public record ToolResult(boolean ok, String text, ObjectNode details) {

    public ToolResult {
        if (text == null) text = "";
        if (details == null) details = JsonNodeFactory.instance.objectNode();
    }

    public static ToolResult ok(String text) {
        return new ToolResult(true, text, null);
    }

    public static ToolResult ok(String text, ObjectNode details) {
        return new ToolResult(true, text, details);
    }

    public static ToolResult error(String text) {
        return new ToolResult(false, "error: " + text, null);
    }

    public static ToolResult error(String text, ObjectNode details) {
        return new ToolResult(false, "error: " + text, details);
    }
}
