package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * What {@code ds4j render} reads: {@code {"messages", "tools"?, "response_format"?, "thinking_mode",
 * "reasoning_effort"?, "drop_thinking"?, "encoder_revision"?}}. The golden-case shape, with the mode
 * fields inside a {@code "mode"} object, is accepted too.
 */
public record RenderRequest(List<Message> messages, List<JsonNode> tools, JsonNode responseFormat, RenderOptions options) {

    /**
     * @param revision the encoder revision to use, or null to take {@code encoder_revision} from the
     *                 file; absent both, "original", except that effort "low" (which only the 0731
     *                 revision knows) selects 0731.
     */
    public static RenderRequest fromJson(JsonNode root, RenderOptions.Revision revision) {
        if (root == null || !root.isObject()) throw new ChatFormatException("request: must be a JSON object with \"messages\"");
        JsonNode mode = root.has("mode") && root.get("mode").isObject() ? root.get("mode") : root;
        String modePath = mode == root ? "" : "mode.";

        String tm = MessageReader.string(mode.get("thinking_mode"), modePath + "thinking_mode", false);
        RenderOptions.ThinkingMode thinking = RenderOptions.ThinkingMode.parse(tm, modePath + "thinking_mode");
        String effort = MessageReader.string(mode.get("reasoning_effort"), modePath + "reasoning_effort", true);
        JsonNode dt = mode.get("drop_thinking");
        if (dt != null && !dt.isNull() && !dt.isBoolean())
            throw new ChatFormatException(modePath + "drop_thinking: must be a boolean, got " + MessageReader.kind(dt));
        boolean drop = dt == null || dt.isNull() || dt.booleanValue();
        if (revision == null) {
            String r = MessageReader.string(root.get("encoder_revision"), "encoder_revision", true);
            if (r != null) revision = RenderOptions.Revision.parse(r, "encoder_revision");
            else revision = "low".equals(effort) ? RenderOptions.Revision.R0731 : RenderOptions.Revision.ORIGINAL;
        }
        RenderOptions opts = new RenderOptions(thinking, effort, drop, revision);

        List<Message> messages = MessageReader.messages(root.get("messages"), "messages");
        List<JsonNode> tools = MessageReader.tools(root.get("tools"), "tools");
        JsonNode rf = root.get("response_format");
        return new RenderRequest(messages, tools, rf == null || rf.isNull() ? null : rf, opts);
    }

    public Prompt render() { return PromptRenderer.render(messages, tools, responseFormat, options); }
}
