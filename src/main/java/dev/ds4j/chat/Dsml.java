package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The DSML tool-call syntax (CHAT_FORMAT §2.1, §2.3, §4.3) in one place: the markers the parser looks
 * for and the text the renderer writes. The tag prefix {@code ｜DSML｜} is a control token; everything
 * else in a tag is ordinary text.
 */
public final class Dsml {
    private Dsml() {}

    static final String TOKEN = "｜DSML｜";
    /** Start of a tool block as the strict parser sees it: exactly two newlines, no closing {@code >} yet. */
    static final String BLOCK_START = "\n\n<" + TOKEN + "tool_calls";
    static final String BLOCK_END = "</" + TOKEN + "tool_calls>";
    static final String INVOKE = "<" + TOKEN + "invoke";
    static final String INVOKE_END = "</" + TOKEN + "invoke";
    static final String PARAM = "<" + TOKEN + "parameter";
    static final String PARAM_END = "/" + TOKEN + "parameter";

    /** The §2.1 tools block; {@code {tool_schemas}} is replaced by the schemas, one JSON line each. */
    static final String TOOLS_TEMPLATE = """
            ## Tools

            You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "<｜DSML｜tool_calls>" block like the following:

            <｜DSML｜tool_calls>
            <｜DSML｜invoke name="$TOOL_NAME">
            <｜DSML｜parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</｜DSML｜parameter>
            ...
            </｜DSML｜invoke>
            <｜DSML｜invoke name="$TOOL_NAME2">
            ...
            </｜DSML｜invoke>
            </｜DSML｜tool_calls>

            String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, arrays, objects), pass the value in JSON format and set `string="false"`.

            If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside <think>...</think> BEFORE any tool calls or final response.

            Otherwise, output directly after </think> with tool calls or final response.

            ### Available Tool Schemas

            {tool_schemas}

            You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.
            """;

    static final String RESPONSE_FORMAT_HEADER =
            "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

    /** Appends the tools block; schemas are request text, so they go in as plain text. */
    static void renderTools(List<JsonNode> functions, Prompt.Builder out) {
        int at = TOOLS_TEMPLATE.indexOf("{tool_schemas}");
        out.protocol(TOOLS_TEMPLATE.substring(0, at));
        for (int i = 0; i < functions.size(); i++) {
            if (i > 0) out.text("\n");
            out.text(PyJson.dumps(functions.get(i)));
        }
        out.protocol(TOOLS_TEMPLATE.substring(at + "{tool_schemas}".length()));
    }

    /**
     * The text a tool-call block starts with, up to the tool's name (name null: the model chooses it) or
     * through the invoke tag (name given). Forcing it makes the model call a tool (tool_choice).
     */
    public static String toolCallOpener(String name) {
        return "\n\n<" + TOKEN + "tool_calls>\n" + INVOKE + " name=\"" + (name == null ? "" : name + "\">\n");
    }

    /** {@code "\n\n<｜DSML｜tool_calls>\n" + invokes joined by "\n" + "\n</｜DSML｜tool_calls>"} (§2.3). */
    static void renderToolCalls(List<Message.ToolCall> calls, Prompt.Builder out) {
        out.protocol("\n\n<｜DSML｜tool_calls>\n");
        for (int c = 0; c < calls.size(); c++) {
            Message.ToolCall call = calls.get(c);
            if (c > 0) out.text("\n");
            out.protocol("<｜DSML｜invoke name=\"").text(call.name()).protocol("\">\n");
            boolean first = true;
            for (Iterator<Map.Entry<String, JsonNode>> it = call.arguments().fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!first) out.text("\n");
                first = false;
                JsonNode v = e.getValue();
                out.protocol("<｜DSML｜parameter name=\"").text(e.getKey())
                        .protocol("\" string=\"" + (v.isTextual() ? "true" : "false") + "\">")
                        .text(v.isTextual() ? v.textValue() : PyJson.dumps(v))
                        .protocol("</｜DSML｜parameter>");
            }
            out.protocol("\n</｜DSML｜invoke>");
        }
        out.protocol("\n</｜DSML｜tool_calls>");
    }

    /**
     * Why a name, key or string value cannot be written into DSML, or null when it can. DSML has no
     * escapes: a string value ends at the first {@code /｜DSML｜parameter}, a key at the first
     * {@code " string="true">}, and no name or key may contain the tag token itself.
     */
    static String unrepresentable(String what, String s) {
        switch (what) {
            case "name" -> { if (s.contains(TOKEN)) return "contains '" + TOKEN + "'"; }
            case "key" -> {
                if (s.contains(TOKEN)) return "contains '" + TOKEN + "'";
                if (s.contains("\" string=\"")) return "contains '\" string=\"'";
            }
            case "value" -> { if (s.contains(PARAM_END)) return "contains '" + PARAM_END + "', which ends a DSML parameter"; }
            default -> throw new IllegalArgumentException(what);
        }
        return null;
    }
}
