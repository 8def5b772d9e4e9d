package dev.ds4j.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.ParsedCompletion;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * A streamed chat completion ({@code "stream": true}), read one server-sent-event line at a time and put back
 * together into the {@link ModelClient.Completion} the non-streamed answer gives: reasoning and content deltas
 * appended, tool calls assembled by their {@code index} (id and name first, the arguments JSON in pieces, possibly
 * cut mid-token), the finish reason, and the usage of the last chunk ({@code stream_options.include_usage}).
 * Reasoning and content text also go to a sink as they arrive (a live view). No network here: the transport
 * feeds lines, so the reassembly can be checked on its own.
 *
 * <p>SSE framing as the spec has it: {@code data:} lines (one optional space after the colon) make an event, a
 * blank line ends it, lines starting with ':' are comments (keep-alives), other fields ({@code event:},
 * {@code id:}) are ignored, a trailing '\r' is dropped. {@code data: [DONE]} ends the stream.
 *
 * <p>Stricter than some clients, because an agent acts on what it gets: a stream that ends without {@code [DONE]}
 * or without a finish reason is an error naming how far it got (a half-received tool call must not run), an
 * {@code {"error": …}} event is an error with the server's message, and a chunk that is not JSON is named.
 */
final class OpenAiStream {
    private final String url;
    private final Consumer<String> onText;
    private final StringBuilder event = new StringBuilder();
    private boolean eventHasData, done;
    private int chunks;
    // Null until some reasoning arrives: a stream that sends none means none. (A thinking turn with empty reasoning
    // therefore gives null here where our server's whole answer says ""; both render the same.)
    private StringBuilder reasoning;
    private final StringBuilder content = new StringBuilder();
    private final Map<Integer, Call> calls = new TreeMap<>();
    private int lastIndex = -1;
    private String finish, raw;
    private JsonNode usage;

    /** A tool call as it streams in. */
    private static final class Call {
        String id, name;
        final StringBuilder arguments = new StringBuilder();
    }

    OpenAiStream(String url, Consumer<String> onText) {
        this.url = url;
        this.onText = onText;
    }

    /** Chunks (data events other than [DONE]) received so far. */
    int chunks() { return chunks; }

    /** Feeds one line without its terminator; true once {@code data: [DONE]} has been read. */
    boolean line(String line) {
        if (done) return true;
        if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
        if (line.isEmpty()) {
            dispatch();
            return done;
        }
        if (line.startsWith(":")) return false; // comment: a keep-alive
        int colon = line.indexOf(':');
        String field = colon < 0 ? line : line.substring(0, colon);
        if (!field.equals("data")) return false; // event:, id:, retry: carry nothing we use
        String value = colon < 0 ? "" : line.substring(colon + 1);
        if (value.startsWith(" ")) value = value.substring(1);
        if (eventHasData) event.append('\n');
        event.append(value);
        eventHasData = true;
        return false;
    }

    /**
     * The end of the body: the completion, or an error if the stream stopped short. An event not yet ended by a
     * blank line counts (some servers close right after their last line).
     */
    ModelClient.Completion end() {
        dispatch();
        if (!done)
            throw failure("the stream ended early after " + chunks + " chunks, without [DONE] (" + received()
                    + "); not retried, since the server may have done the work");
        if (finish == null)
            throw failure("the stream ended without a finish_reason after " + chunks + " chunks (" + received() + ")");
        boolean truncated = "length".equals(finish);
        List<ParsedCompletion.ToolCall> parsed = new ArrayList<>();
        for (Map.Entry<Integer, Call> e : calls.entrySet()) {
            Call c = e.getValue();
            if (c.name == null || c.name.isEmpty())
                throw malformed("tool call index " + e.getKey() + " never got a function name");
            parsed.add(new ParsedCompletion.ToolCall(c.name, c.arguments.isEmpty() ? "{}" : c.arguments.toString()));
        }
        // As in the non-streamed answer: a call written at the token limit may be incomplete, and must not run.
        if (truncated) parsed.clear();
        String r = reasoning == null ? null : reasoning.toString();
        String rawText = raw != null ? raw + (truncated ? "" : ControlToken.EOS.literal) : message(r).toString();
        return new ModelClient.Completion(new ParsedCompletion(r, content.toString(), parsed), rawText,
                usage == null ? 0 : usage.path("prompt_tokens").asInt(0), usage == null ? 0 : usage.path("completion_tokens").asInt(0),
                truncated, OpenAiWire.cachedTokens(usage));
    }

    /** What a non-streamed answer's message would have held: the raw text when the server sends no DSML. */
    private ObjectNode message(String r) {
        ObjectNode m = OpenAiWire.JSON.createObjectNode().put("role", "assistant");
        m.put("content", calls.isEmpty() || !content.isEmpty() ? content.toString() : null);
        if (r != null) m.put("reasoning_content", r);
        if (!calls.isEmpty()) {
            ArrayNode a = m.putArray("tool_calls");
            for (Call c : calls.values()) {
                ObjectNode o = a.addObject();
                if (c.id != null) o.put("id", c.id);
                o.put("type", "function").putObject("function").put("name", c.name).put("arguments", c.arguments.toString());
            }
        }
        return m;
    }

    private String received() {
        String s = (reasoning == null ? 0 : reasoning.length()) + " chars of reasoning, " + content.length() + " of content, "
                + calls.size() + " tool call" + (calls.size() == 1 ? "" : "s");
        return finish == null ? s : s + ", finish_reason " + finish;
    }

    private void dispatch() {
        if (!eventHasData) return;
        String data = event.toString();
        event.setLength(0);
        eventHasData = false;
        if (data.strip().equals("[DONE]")) {
            done = true;
            return;
        }
        int n = chunks + 1;
        JsonNode chunk;
        try {
            chunk = OpenAiWire.JSON.readTree(data);
        } catch (JsonProcessingException e) {
            throw malformed("chunk " + n + " is not JSON (" + OpenAiWire.snippet(data) + ")");
        }
        if (chunk == null || !chunk.isObject()) throw malformed("chunk " + n + " is not a JSON object (" + OpenAiWire.snippet(data) + ")");
        chunks = n;
        JsonNode err = chunk.get("error");
        if (err != null && !err.isNull())
            throw failure("the server reported an error in the stream after " + (n - 1) + " chunks: " + OpenAiWire.errorMessage(data));
        JsonNode choices = chunk.get("choices");
        if (choices != null && !choices.isNull()) {
            if (!choices.isArray()) throw malformed("chunk " + n + ": 'choices' is not an array");
            for (JsonNode choice : choices)
                if (choice.path("index").asInt(0) == 0) choice(choice, n);
        }
        JsonNode u = chunk.get("usage");
        if (u != null && u.isObject()) usage = u;
        JsonNode r = chunk.get("ds4j_raw_output");
        if (r != null && r.isTextual()) raw = r.textValue();
    }

    private void choice(JsonNode choice, int n) {
        JsonNode delta = choice.get("delta");
        if (delta != null && !delta.isNull()) {
            if (!delta.isObject()) throw malformed("chunk " + n + ": 'delta' is not an object");
            String rc = text(delta, "reasoning_content", n);
            if (rc == null) rc = text(delta, "reasoning", n);
            if (rc != null && !rc.isEmpty()) {
                if (reasoning == null) reasoning = new StringBuilder();
                reasoning.append(rc);
                emit(rc);
            }
            String c = text(delta, "content", n);
            if (c != null && !c.isEmpty()) {
                content.append(c);
                emit(c);
            }
            JsonNode tc = delta.get("tool_calls");
            if (tc != null && !tc.isNull()) {
                if (!tc.isArray()) throw malformed("chunk " + n + ": 'delta.tool_calls' is not an array");
                for (JsonNode t : tc) toolCall(t, n);
            }
        }
        JsonNode f = choice.get("finish_reason");
        if (f != null && f.isTextual()) finish = f.textValue();
    }

    private void toolCall(JsonNode t, int n) {
        if (!t.isObject()) throw malformed("chunk " + n + ": a 'delta.tool_calls' entry is not an object");
        JsonNode idx = t.get("index");
        String id = t.path("id").isTextual() ? t.get("id").textValue() : null;
        int index;
        if (idx != null && idx.canConvertToInt() && idx.isIntegralNumber() && idx.intValue() >= 0) {
            index = idx.intValue();
        } else if (idx == null || idx.isNull()) {
            // No index (some older servers): a new id starts a new call, anything else continues the last one.
            Call last = calls.get(lastIndex);
            index = last == null || (id != null && !id.equals(last.id)) ? lastIndex + 1 : lastIndex;
        } else {
            throw malformed("chunk " + n + ": tool call 'index' is not a non-negative integer (" + idx + ")");
        }
        Call call = calls.computeIfAbsent(index, k -> new Call());
        lastIndex = index;
        if (id != null && call.id == null) call.id = id;
        JsonNode fn = t.get("function");
        if (fn == null || fn.isNull()) return;
        if (!fn.isObject()) throw malformed("chunk " + n + ": tool call " + index + " 'function' is not an object");
        JsonNode name = fn.get("name");
        if (name != null && name.isTextual() && !name.textValue().isEmpty()) {
            // Servers send the name once; one that resends it whole must not get it doubled.
            if (call.name == null) call.name = name.textValue();
            else if (!call.name.equals(name.textValue())) call.name += name.textValue();
        }
        JsonNode a = fn.get("arguments");
        if (a == null || a.isNull()) return;
        if (a.isTextual()) call.arguments.append(a.textValue());
        else if (a.isObject()) { // the whole object at once
            call.arguments.setLength(0);
            call.arguments.append(a);
        }
        else throw malformed("chunk " + n + ": tool call " + index + " 'function.arguments' is not a string but " + kind(a));
    }

    private String text(JsonNode delta, String field, int n) {
        JsonNode v = delta.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw malformed("chunk " + n + ": 'delta." + field + "' is not a string but " + kind(v));
        return v.textValue();
    }

    private void emit(String text) {
        if (onText != null) onText.accept(text);
    }

    private static String kind(JsonNode v) { return v.getNodeType().toString().toLowerCase(); }

    private ModelClientException failure(String what) {
        return new ModelClientException("POST " + url + ": " + what, url, 200, 1, null);
    }

    private ModelClientException malformed(String what) {
        return failure("the stream is not a chat completion stream: " + what);
    }
}
