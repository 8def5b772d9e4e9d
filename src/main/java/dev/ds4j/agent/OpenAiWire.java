package dev.ds4j.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.RenderOptions;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The chat-completions wire format for {@link OpenAiModelClient}: our messages and options → request JSON, and a
 * response → {@link ModelClient.Completion}. Kept apart from the transport so the conversion can be checked
 * without a network.
 */
final class OpenAiWire {
    private OpenAiWire() {}

    static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Messages in the OpenAI shape that {@code dev.ds4j.chat.MessageReader} reads back to equal messages. The
     * DeepSeek-only fields (message-level tools and response_format, task, wo_eos) are sent only when set: the
     * agent loop never sets them, and a server that does not know them should say so rather than have them
     * dropped here.
     */
    static ArrayNode messages(List<Message> messages) {
        ArrayNode out = JSON.createArrayNode();
        for (Message m : messages) {
            ObjectNode o = out.addObject().put("role", m.role().wireName());
            if (m.nullContent()) o.putNull("content"); else o.put("content", m.content());
            if (m.reasoning() != null) o.put("reasoning_content", m.reasoning());
            if (!m.toolCalls().isEmpty()) {
                ArrayNode calls = o.putArray("tool_calls");
                for (Message.ToolCall c : m.toolCalls()) {
                    ObjectNode call = calls.addObject();
                    if (c.id() != null) call.put("id", c.id());
                    call.put("type", "function");
                    // OpenAI sends arguments as JSON text, not as an object; servers re-parse it.
                    call.putObject("function").put("name", c.name()).put("arguments", c.arguments().toString());
                }
            }
            if (m.toolCallId() != null) o.put("tool_call_id", m.toolCallId());
            if (!m.tools().isEmpty()) o.set("tools", tools(m.tools()));
            if (m.responseFormat() != null) o.set("response_format", m.responseFormat());
            if (m.task() != null) o.put("task", m.task());
            if (m.woEos()) o.put("wo_eos", true);
        }
        return out;
    }

    /** Tool declarations as OpenAI tools: already-wrapped {@code {type, function}} objects pass as they are, bare function objects are wrapped. */
    static ArrayNode tools(List<JsonNode> declarations) {
        ArrayNode out = JSON.createArrayNode();
        for (JsonNode t : declarations) {
            if (t.has("function")) out.add(t);
            else out.addObject().put("type", "function").set("function", t);
        }
        return out;
    }

    /**
     * The request body. Thinking goes as {@code chat_template_kwargs.thinking}, the form vLLM and SGLang pass to
     * DeepSeek's chat template and that our server reads; effort as {@code reasoning_effort} (only when set).
     */
    static ObjectNode requestBody(String model, List<Message> messages, List<JsonNode> tools, RenderOptions options,
                                  Double temperature, Integer maxTokens, boolean stream, String forced, boolean returnRaw,
                                  ObjectNode extraBody) {
        if (options.revision() != RenderOptions.Revision.ORIGINAL)
            throw new IllegalArgumentException("encoder revision " + options.revision()
                    + ": an OpenAI-compatible endpoint renders with its own template, so a revision cannot be requested");
        ObjectNode b = JSON.createObjectNode().put("model", model);
        b.set("messages", messages(messages));
        if (!tools.isEmpty()) {
            b.set("tools", tools(tools));
            b.put("tool_choice", "auto");
        }
        boolean thinking = options.thinkingMode() == RenderOptions.ThinkingMode.THINKING;
        b.putObject("chat_template_kwargs").put("thinking", thinking);
        if (thinking && options.reasoningEffort() != null) b.put("reasoning_effort", options.reasoningEffort());
        if (temperature != null) b.put("temperature", temperature);
        if (maxTokens != null) b.put("max_tokens", maxTokens);
        b.put("stream", stream);
        // Usage comes on a last chunk only when asked for (OpenAI's rule, which vLLM and our server follow).
        if (stream) b.putObject("stream_options").put("include_usage", true);
        if (forced != null) b.put("ds4j_forced_output", forced);
        if (returnRaw) b.put("ds4j_return_raw", true);
        if (extraBody != null) merge(b, extraBody);
        return b;
    }

    /** Merges {@code extra} into {@code into}: objects merge key by key, anything else replaces. */
    static void merge(ObjectNode into, JsonNode extra) {
        for (Iterator<Map.Entry<String, JsonNode>> it = extra.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode cur = into.get(e.getKey());
            if (cur instanceof ObjectNode co && e.getValue().isObject()) merge(co, e.getValue());
            else into.set(e.getKey(), e.getValue().deepCopy());
        }
    }

    /**
     * A chat completion response → Completion. A response cut off by max_tokens keeps its text as content and
     * drops its tool calls, as {@link LocalModelClient} does: a call written at the limit may be incomplete, and
     * must not run. The raw text is the server's {@code ds4j_raw_output} (ours, on request) with the EOS that
     * ended it; other servers give no raw text, so it is the JSON of the returned message, which says honestly
     * what was received (it starts with '{', which DSML never does).
     */
    static ModelClient.Completion completion(String body, String url) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw malformed(url, "the body is not JSON (" + snippet(body) + ")");
        }
        if (root == null || !root.isObject()) throw malformed(url, "the body is not a JSON object (" + snippet(body) + ")");
        JsonNode choices = root.get("choices");
        if (choices == null || !choices.isArray() || choices.isEmpty())
            throw malformed(url, "'choices' is missing or empty (" + snippet(body) + ")");
        JsonNode choice = choices.get(0);
        JsonNode msg = choice.get("message");
        if (msg == null || !msg.isObject()) throw malformed(url, "'choices[0].message' is missing or not an object");

        String content = text(msg, "content", url);
        String reasoning = msg.hasNonNull("reasoning_content") ? text(msg, "reasoning_content", url) : text(msg, "reasoning", url);
        boolean truncated = "length".equals(choice.path("finish_reason").asText(null));
        List<ParsedCompletion.ToolCall> calls = new ArrayList<>();
        JsonNode tc = msg.get("tool_calls");
        if (tc != null && !tc.isNull()) {
            if (!tc.isArray()) throw malformed(url, "'choices[0].message.tool_calls' is not an array");
            for (int i = 0; i < tc.size(); i++) {
                String path = "choices[0].message.tool_calls[" + i + "].function";
                JsonNode f = tc.get(i).get("function");
                if (f == null || !f.isObject()) throw malformed(url, "'" + path + "' is missing or not an object");
                JsonNode name = f.get("name");
                if (name == null || !name.isTextual() || name.textValue().isEmpty())
                    throw malformed(url, "'" + path + ".name' is missing or not a non-empty string");
                JsonNode a = f.get("arguments");
                // Some servers send the arguments object itself; the tools take JSON text either way.
                String args = a == null || a.isNull() ? "{}" : a.isTextual() ? a.textValue() : a.toString();
                calls.add(new ParsedCompletion.ToolCall(name.textValue(), args));
            }
        }
        if (truncated) calls.clear();
        JsonNode rawNode = root.get("ds4j_raw_output");
        String raw = rawNode != null && rawNode.isTextual()
                ? rawNode.textValue() + (truncated ? "" : ControlToken.EOS.literal)
                : msg.toString();
        JsonNode usage = root.path("usage");
        return new ModelClient.Completion(new ParsedCompletion(reasoning, content == null ? "" : content, calls), raw,
                usage.path("prompt_tokens").asInt(0), usage.path("completion_tokens").asInt(0), truncated, cachedTokens(usage));
    }

    private static String text(JsonNode msg, String field, String url) {
        JsonNode v = msg.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw malformed(url, "'choices[0].message." + field + "' is not a string but " + v.getNodeType().toString().toLowerCase());
        return v.textValue();
    }

    /** The server's own words from an error body: OpenAI's {error: {message}}, {error: "…"}, vLLM's {message}, FastAPI's {detail}, else the text. */
    static String errorMessage(String body) {
        try {
            JsonNode r = JSON.readTree(body);
            if (r != null && r.isObject()) {
                JsonNode e = r.get("error");
                if (e != null && e.isObject() && e.path("message").isTextual()) return e.get("message").textValue();
                if (e != null && e.isTextual()) return e.textValue();
                if (r.path("message").isTextual()) return r.get("message").textValue();
                if (r.has("detail")) return r.get("detail").isTextual() ? r.get("detail").textValue() : r.get("detail").toString();
            }
        } catch (JsonProcessingException ignored) {
            // not JSON: the text itself is the best we have
        }
        return body == null || body.isBlank() ? "(empty body)" : snippet(body);
    }

    static String snippet(String s) {
        String t = s.strip().replaceAll("\\s+", " ");
        return t.length() <= 300 ? t : t.substring(0, 300) + "…";
    }

    private static ModelClientException malformed(String url, String what) {
        return new ModelClientException("POST " + url + ": the response is not a chat completion: " + what, url, 200, 1, null);
    }

    /**
     * Prompt tokens the server did not compute again (its prefix cache), as OpenAI reports them
     * ({@code usage.prompt_tokens_details.cached_tokens}; vLLM and our server do too); 0 when absent.
     */
    static int cachedTokens(JsonNode usage) {
        return usage == null ? 0 : usage.path("prompt_tokens_details").path("cached_tokens").asInt(0);
    }
}
