package dev.ds4j.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads OpenAI-style messages and tool lists from JSON and rejects what the protocol cannot render,
 * naming the exact field ({@code messages[2].tool_calls[0].function.arguments}). Unknown fields are
 * ignored, as OpenAI clients send many (name, refusal, annotations …).
 */
public final class MessageReader {
    private MessageReader() {}

    private static final Set<String> TASKS = Set.of("action", "query", "authority", "domain", "title", "read_url");

    public static List<Message> messages(JsonNode node, String path) {
        if (node == null || node.isMissingNode() || node.isNull()) throw err(path, "is required");
        if (!node.isArray()) throw err(path, "must be an array of messages, got " + kind(node));
        if (node.isEmpty()) throw err(path, "is empty; at least one message is needed");
        List<Message> out = new ArrayList<>(node.size());
        for (int i = 0; i < node.size(); i++) out.add(message(node.get(i), path + "[" + i + "]"));
        checkToolLinks(out, path);
        return out;
    }

    /** A request-level OpenAI tool list ({@code [{type: "function", function: {name, …}}]}) → the function objects. */
    public static List<JsonNode> tools(JsonNode node, String path) {
        if (node == null || node.isMissingNode() || node.isNull()) return List.of();
        if (!node.isArray()) throw err(path, "must be an array of tools, got " + kind(node));
        List<JsonNode> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            String p = path + "[" + i + "]";
            JsonNode t = node.get(i);
            if (!t.isObject()) throw err(p, "must be an object, got " + kind(t));
            JsonNode type = t.get("type");
            if (type != null && !"function".equals(type.asText(null)))
                throw err(p + ".type", "must be \"function\", got " + type);
            JsonNode f = t.get("function");
            if (f == null || !f.isObject()) throw err(p + ".function", "must be an object with name, description and parameters");
            String name = string(f.get("name"), p + ".function.name", false);
            if (name == null || name.isEmpty()) throw err(p + ".function.name", "is required");
            if (!names.add(name)) throw err(p + ".function.name", "duplicate tool name '" + name + "'");
            JsonNode params = f.get("parameters");
            if (params != null && !params.isNull() && !params.isObject())
                throw err(p + ".function.parameters", "must be a JSON Schema object, got " + kind(params));
            checkStrings(f, p + ".function");
            out.add(f);
        }
        return out;
    }

    private static Message message(JsonNode m, String path) {
        if (!m.isObject()) throw err(path, "must be an object, got " + kind(m));
        JsonNode roleNode = m.get("role");
        String roleName = string(roleNode, path + ".role", false);
        if (roleName == null) throw err(path + ".role", "is required");
        Message.Role role = Message.Role.parse(roleName);
        if (role == null)
            throw err(path + ".role", "unknown role '" + roleName + "' (expected system, developer, user, assistant, tool or latest_reminder)");

        JsonNode c = m.get("content");
        // The official encoder prints Python's None for a null tool result and a null or absent reminder.
        boolean nullContent = role == Message.Role.LATEST_REMINDER ? (c == null || c.isNull()) : (c != null && c.isNull());
        String content = content(c, path + ".content", role);
        String reasoning = string(m.has("reasoning_content") ? m.get("reasoning_content") : m.get("reasoning"),
                path + (m.has("reasoning_content") ? ".reasoning_content" : ".reasoning"), true);

        List<Message.ToolCall> calls = List.of();
        JsonNode tc = m.get("tool_calls");
        if (tc != null && !tc.isNull() && !(tc.isArray() && tc.isEmpty())) {
            if (role != Message.Role.ASSISTANT) throw err(path + ".tool_calls", "only assistant messages carry tool calls");
            calls = toolCalls(tc, path + ".tool_calls");
        }
        String toolCallId = string(m.get("tool_call_id"), path + ".tool_call_id", true);

        List<JsonNode> tools = List.of();
        JsonNode toolsNode = m.get("tools");
        if (toolsNode != null && !toolsNode.isNull() && !(toolsNode.isArray() && toolsNode.isEmpty())) {
            if (role != Message.Role.SYSTEM && role != Message.Role.DEVELOPER)
                throw err(path + ".tools", "tools belong on a system or developer message, or at request level");
            tools = tools(toolsNode, path + ".tools");
        }
        JsonNode rf = m.get("response_format");
        if (rf != null && rf.isNull()) rf = null;
        if (rf != null) {
            if (role != Message.Role.SYSTEM && role != Message.Role.DEVELOPER)
                throw err(path + ".response_format", "response_format belongs on a system or developer message, or at request level");
            checkStrings(rf, path + ".response_format");
        }
        String task = string(m.get("task"), path + ".task", true);
        if (task != null && !TASKS.contains(task))
            throw err(path + ".task", "unknown task '" + task + "' (expected one of action, query, authority, domain, title, read_url)");
        JsonNode wo = m.get("wo_eos");
        if (wo != null && !wo.isNull() && !wo.isBoolean()) throw err(path + ".wo_eos", "must be a boolean, got " + kind(wo));
        boolean woEos = wo != null && wo.asBoolean(false);

        if (role == Message.Role.DEVELOPER && content.isEmpty())
            throw err(path + ".content", "a developer message needs non-empty content");
        return new Message(role, content, nullContent, reasoning, calls, toolCallId, tools, rf, task, woEos);
    }

    /** Flattens content: a string, null, or OpenAI content parts (text parts joined by a blank line). */
    private static String content(JsonNode c, String path, Message.Role role) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return checked(c.textValue(), path);
        if (!c.isArray()) throw err(path, "must be a string, null or an array of content parts, got " + kind(c));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < c.size(); i++) {
            String p = path + "[" + i + "]";
            JsonNode part = c.get(i);
            if (part.isTextual()) { // some clients send bare strings
                if (i > 0) sb.append("\n\n");
                sb.append(checked(part.textValue(), p));
                continue;
            }
            if (!part.isObject()) throw err(p, "must be a content part object, got " + kind(part));
            String type = string(part.get("type"), p + ".type", false);
            if (i > 0) sb.append("\n\n");
            if ("text".equals(type)) {
                String t = string(part.get("text"), p + ".text", true);
                sb.append(t == null ? "" : t);
            } else if (role == Message.Role.TOOL) {
                sb.append("[Unsupported ").append(type).append(']'); // what the official encoder writes
            } else {
                throw err(p + ".type", "content part type '" + type + "' is not supported (DeepSeek-V4 is text-only)");
            }
        }
        return sb.toString();
    }

    private static List<Message.ToolCall> toolCalls(JsonNode tc, String path) {
        if (!tc.isArray()) throw err(path, "must be an array, got " + kind(tc));
        List<Message.ToolCall> out = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < tc.size(); i++) {
            String p = path + "[" + i + "]";
            JsonNode call = tc.get(i);
            if (!call.isObject()) throw err(p, "must be an object, got " + kind(call));
            JsonNode type = call.get("type");
            if (type != null && !type.isNull() && !"function".equals(type.asText(null)))
                throw err(p + ".type", "must be \"function\", got " + type);
            JsonNode f = call.get("function");
            if (f == null || !f.isObject()) throw err(p + ".function", "must be an object with name and arguments");
            String id = string(call.get("id"), p + ".id", true);
            if (id == null) id = string(f.get("id"), p + ".function.id", true);
            if (id != null && !id.isEmpty() && !ids.add(id)) throw err(p + ".id", "duplicate tool call id '" + id + "'");
            String name = string(f.get("name"), p + ".function.name", false);
            if (name == null || name.isEmpty()) throw err(p + ".function.name", "is required");
            String why = Dsml.unrepresentable("name", name);
            if (why != null) throw err(p + ".function.name", why);
            out.add(new Message.ToolCall(id, name, arguments(f.get("arguments"), p + ".function.arguments")));
        }
        return out;
    }

    /** Arguments as a JSON string (parsed the way Python's json.loads does) or, leniently, as an object. */
    private static ObjectNode arguments(JsonNode a, String path) {
        JsonNode obj;
        if (a == null || a.isNull()) {
            obj = PyJson.MAPPER.createObjectNode();
        } else if (a.isObject()) {
            obj = a;
        } else if (a.isTextual()) {
            String text = checked(a.textValue(), path);
            try {
                obj = text.isBlank() ? PyJson.MAPPER.createObjectNode() : PyJson.loads(text);
            } catch (JsonProcessingException e) {
                throw err(path, "is not valid JSON: " + e.getOriginalMessage());
            }
            if (obj == null || !obj.isObject()) throw err(path, "must encode a JSON object, got " + kind(obj));
        } else {
            throw err(path, "must be a JSON string (or an object), got " + kind(a));
        }
        checkStrings(obj, path);
        for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String why = Dsml.unrepresentable("key", e.getKey());
            if (why != null) throw err(path, "parameter name '" + e.getKey() + "' " + why);
            if (e.getValue().isTextual() && (why = Dsml.unrepresentable("value", e.getValue().textValue())) != null)
                throw err(path, "the string value of '" + e.getKey() + "' " + why);
        }
        return (ObjectNode) obj;
    }

    /**
     * Every tool result must answer a call of the latest assistant turn that made calls, at most once.
     * Ids never reach the prompt; they only order the results (§3.2b), so a wrong id would silently
     * reorder them.
     */
    private static void checkToolLinks(List<Message> ms, String path) {
        List<Message.ToolCall> open = null;
        int openAt = -1;
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < ms.size(); i++) {
            Message m = ms.get(i);
            switch (m.role()) {
                case ASSISTANT -> {
                    open = m.toolCalls().isEmpty() ? null : m.toolCalls();
                    openAt = i;
                    answered.clear();
                }
                case TOOL -> {
                    String p = path + "[" + i + "]";
                    if (open == null)
                        throw err(p, "tool result without a preceding assistant tool call");
                    String id = m.toolCallId();
                    if (id == null || id.isEmpty()) continue;
                    boolean known = open.stream().anyMatch(c -> id.equals(c.id()));
                    boolean anyIds = open.stream().anyMatch(c -> c.id() != null && !c.id().isEmpty());
                    if (anyIds && !known)
                        throw err(p + ".tool_call_id", "'" + id + "' matches no tool call of " + path + "[" + openAt + "]");
                    if (!answered.add(id)) throw err(p + ".tool_call_id", "tool call '" + id + "' already has a result");
                }
                default -> { }
            }
        }
    }

    static String string(JsonNode n, String path, boolean nullable) {
        if (n == null || n.isMissingNode() || n.isNull()) return null;
        if (!n.isTextual()) throw err(path, "must be a string" + (nullable ? " or null" : "") + ", got " + kind(n));
        return checked(n.textValue(), path);
    }

    /** Strings must be valid Unicode: a lone surrogate (from a JSON {@code \ud83d} escape) has no UTF-8 form. */
    static String checked(String s, String path) {
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (Character.isHighSurrogate(ch) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) { i++; continue; }
            if (Character.isSurrogate(ch))
                throw err(path, String.format("contains an unpaired UTF-16 surrogate U+%04X at character %d", (int) ch, i));
        }
        return s;
    }

    private static void checkStrings(JsonNode n, String path) {
        if (n.isTextual()) checked(n.textValue(), path);
        else if (n.isArray()) for (int i = 0; i < n.size(); i++) checkStrings(n.get(i), path + "[" + i + "]");
        else if (n.isObject()) for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            checked(e.getKey(), path);
            checkStrings(e.getValue(), path + "." + e.getKey());
        }
    }

    static String kind(JsonNode n) {
        if (n == null || n.isMissingNode()) return "nothing";
        return switch (n.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }

    static ChatFormatException err(String path, String what) {
        return new ChatFormatException(path + ": " + what);
    }
}
