package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a conversation into the DeepSeek-V4 prompt, byte for byte as the official
 * {@code encoding_dsv4.py} does (CHAT_FORMAT §3): tool results merged into user turns and sorted into
 * call order, the interleaved-thinking rule, dropping of earlier reasoning, role tokens emitted as the
 * suffix of the previous turn. Its quirks are reproduced on purpose, since a prompt the model was not
 * trained on silently costs quality.
 */
public final class PromptRenderer {
    private PromptRenderer() {}

    /**
     * Renders messages plus request-level tools and response format. Request-level tools go onto
     * messages[0] when it is a system or developer message (replacing tools there), otherwise onto a
     * new empty system message at index 0 — the vLLM / SGLang convention of the golden cases. A
     * request-level response format follows the same placement (our choice; CHAT_FORMAT §9.3).
     */
    public static Prompt render(List<Message> messages, List<JsonNode> requestTools, JsonNode requestResponseFormat, RenderOptions opts) {
        List<Message> ms = new ArrayList<>(messages);
        boolean hasTools = requestTools != null && !requestTools.isEmpty();
        boolean hasFormat = truthy(requestResponseFormat);
        if (hasTools || hasFormat) {
            Message first = ms.isEmpty() ? null : ms.get(0);
            boolean carrier = first != null && (first.role() == Message.Role.SYSTEM || first.role() == Message.Role.DEVELOPER);
            Message base = carrier ? first : Message.system("");
            Message withTools = base.withTools(hasTools ? requestTools : base.tools(), hasFormat ? requestResponseFormat : base.responseFormat());
            if (carrier) ms.set(0, withTools); else ms.add(0, withTools);
        }
        return render(ms, opts);
    }

    public static Prompt render(List<Message> messages, RenderOptions opts) {
        List<Turn> turns = sortToolResults(mergeToolMessages(messages));
        boolean thinking = opts.thinkingMode() == RenderOptions.ThinkingMode.THINKING;

        // §3.3: tools anywhere switch dropping off; tool calls in history do not count.
        boolean drop = opts.dropThinking();
        for (Turn t : turns) if (!t.tools.isEmpty()) { drop = false; break; }
        if (thinking && drop) turns = dropThinking(turns);

        Prompt.Builder out = new Prompt.Builder().control(ControlToken.BOS);
        int lastUser = lastUserIndex(turns);
        for (int i = 0; i < turns.size(); i++) {
            if (i == 0 && thinking) out.protocol(opts.effortPrefix());
            renderTurn(turns, i, thinking, drop, lastUser, out);
            renderSuffix(turns, i, thinking, drop, lastUser, out);
        }
        return out.build();
    }

    /** A message after preprocessing: user turns may hold several text and tool-result blocks. */
    private static final class Turn {
        Message.Role role;
        String content;
        boolean nullContent;
        List<Block> blocks; // user turns built from user/tool messages; null otherwise
        String reasoning;
        List<Message.ToolCall> calls;
        List<JsonNode> tools;
        JsonNode responseFormat;
        String task;
        boolean woEos;

        Turn copy() {
            Turn t = new Turn();
            t.role = role; t.content = content; t.nullContent = nullContent;
            t.blocks = blocks == null ? null : new ArrayList<>(blocks);
            t.reasoning = reasoning; t.calls = calls; t.tools = tools; t.responseFormat = responseFormat;
            t.task = task; t.woEos = woEos;
            return t;
        }
    }

    private record Block(boolean toolResult, String toolUseId, String text) {}

    /** §3.2a: tool results become blocks of a user turn; consecutive user messages join one turn. */
    private static List<Turn> mergeToolMessages(List<Message> messages) {
        List<Turn> out = new ArrayList<>();
        for (Message m : messages) {
            Turn last = out.isEmpty() ? null : out.get(out.size() - 1);
            boolean lastIsBlockUser = last != null && last.role == Message.Role.USER && last.blocks != null;
            if (m.role() == Message.Role.TOOL) {
                Block b = new Block(true, m.toolCallId() == null ? "" : m.toolCallId(), m.nullContent() ? "None" : m.content());
                if (lastIsBlockUser) {
                    last.blocks.add(b);
                } else {
                    Turn t = new Turn();
                    t.role = Message.Role.USER; t.content = ""; t.blocks = new ArrayList<>(List.of(b));
                    t.tools = List.of(); t.calls = List.of();
                    out.add(t);
                }
            } else if (m.role() == Message.Role.USER) {
                Block b = new Block(false, null, m.content());
                if (lastIsBlockUser && last.task == null) {
                    last.blocks.add(b);
                } else {
                    Turn t = new Turn();
                    t.role = Message.Role.USER; t.content = m.content(); t.blocks = new ArrayList<>(List.of(b));
                    t.task = m.task(); t.woEos = m.woEos();
                    t.tools = List.of(); t.calls = List.of(); // the official encoder drops tools/response_format from users
                    out.add(t);
                }
            } else {
                Turn t = new Turn();
                t.role = m.role(); t.content = m.content(); t.nullContent = m.nullContent(); t.reasoning = m.reasoning();
                t.calls = m.toolCalls(); t.tools = m.tools(); t.responseFormat = m.responseFormat();
                t.task = m.task(); t.woEos = m.woEos();
                out.add(t);
            }
        }
        return out;
    }

    /** §3.2b: results of parallel calls are put back into call order (stable; unknown ids count as 0). */
    private static List<Turn> sortToolResults(List<Turn> turns) {
        Map<String, Integer> order = new HashMap<>();
        for (Turn t : turns) {
            if (t.role == Message.Role.ASSISTANT && !t.calls.isEmpty()) {
                order = new HashMap<>();
                for (int i = 0; i < t.calls.size(); i++) {
                    String id = t.calls.get(i).id();
                    if (id != null && !id.isEmpty()) order.put(id, i);
                }
            } else if (t.role == Message.Role.USER && t.blocks != null && !order.isEmpty()) {
                List<Block> results = new ArrayList<>();
                for (Block b : t.blocks) if (b.toolResult()) results.add(b);
                if (results.size() > 1) {
                    Map<String, Integer> o = order;
                    results.sort((a, b) -> Integer.compare(o.getOrDefault(a.toolUseId(), 0), o.getOrDefault(b.toolUseId(), 0)));
                    int k = 0;
                    for (int i = 0; i < t.blocks.size(); i++) if (t.blocks.get(i).toolResult()) t.blocks.set(i, results.get(k++));
                }
            }
        }
        return turns;
    }

    /** §3.4: before the last user turn, reasoning goes and developer messages go. */
    private static List<Turn> dropThinking(List<Turn> turns) {
        int lastUser = lastUserIndex(turns);
        List<Turn> out = new ArrayList<>();
        for (int i = 0; i < turns.size(); i++) {
            Turn t = turns.get(i);
            boolean keep = switch (t.role) {
                case USER, SYSTEM, TOOL, LATEST_REMINDER -> true;
                default -> i >= lastUser;
            };
            if (keep) out.add(t);
            else if (t.role == Message.Role.ASSISTANT) {
                Turn c = t.copy();
                c.reasoning = null;
                out.add(c);
            }
        }
        return out;
    }

    private static int lastUserIndex(List<Turn> turns) {
        for (int i = turns.size() - 1; i >= 0; i--)
            if (turns.get(i).role == Message.Role.USER || turns.get(i).role == Message.Role.DEVELOPER) return i;
        return -1;
    }

    private static void renderTurn(List<Turn> turns, int i, boolean thinking, boolean drop, int lastUser, Prompt.Builder out) {
        Turn t = turns.get(i);
        switch (t.role) {
            case SYSTEM -> {
                out.text(t.content);
                appendToolsAndFormat(t, out);
            }
            case DEVELOPER -> {
                out.control(ControlToken.USER).text(t.content);
                appendToolsAndFormat(t, out);
            }
            case USER -> {
                out.control(ControlToken.USER);
                boolean readUrl = "read_url".equals(t.task);
                for (int b = 0; b < t.blocks.size(); b++) {
                    Block block = t.blocks.get(b);
                    if (b > 0) out.text("\n\n");
                    if (block.toolResult()) out.text("<tool_result>").text(block.text()).text("</tool_result>");
                    else if (readUrl) userTextWithUrl(block.text(), out);
                    else out.text(block.text());
                }
            }
            case LATEST_REMINDER -> out.control(ControlToken.LATEST_REMINDER).text(t.nullContent ? "None" : t.content);
            case ASSISTANT -> {
                boolean prevHasTask = i > 0 && turns.get(i - 1).task != null;
                if (thinking && !prevHasTask && (!drop || i > lastUser)) {
                    out.text(t.reasoning == null ? "" : t.reasoning).control(ControlToken.THINK_END);
                }
                out.text(t.content);
                if (!t.calls.isEmpty()) Dsml.renderToolCalls(t.calls, out);
                if (!t.woEos) out.control(ControlToken.EOS);
            }
            case TOOL -> throw new IllegalStateException("tool messages are merged into user turns before rendering");
        }
    }

    /** The read_url task's user text marks the URL with the {@code <｜extracted_url｜>} control token. */
    private static void userTextWithUrl(String text, Prompt.Builder out) {
        String lit = ControlToken.EXTRACTED_URL.literal;
        int from = 0, at;
        while ((at = text.indexOf(lit, from)) >= 0) {
            out.text(text.substring(from, at)).control(ControlToken.EXTRACTED_URL);
            from = at + lit.length();
        }
        out.text(text.substring(from));
    }

    private static void appendToolsAndFormat(Turn t, Prompt.Builder out) {
        if (!t.tools.isEmpty()) {
            out.text("\n\n");
            Dsml.renderTools(t.tools, out);
        }
        if (truthy(t.responseFormat)) {
            out.protocol("\n\n" + Dsml.RESPONSE_FORMAT_HEADER).text(PyJson.dumps(t.responseFormat));
        }
    }

    /** §3.7: the role token of the next assistant turn is the suffix of this one; tasks replace it. */
    private static void renderSuffix(List<Turn> turns, int i, boolean thinking, boolean drop, int lastUser, Prompt.Builder out) {
        if (i + 1 < turns.size()) {
            Message.Role next = turns.get(i + 1).role;
            if (next != Message.Role.ASSISTANT && next != Message.Role.LATEST_REMINDER) return;
        }
        Turn t = turns.get(i);
        if (t.task != null) {
            if (!t.task.equals("action")) {
                out.control(ControlToken.forTask(t.task));
            } else {
                out.control(ControlToken.ASSISTANT).control(thinking ? ControlToken.THINK : ControlToken.THINK_END)
                        .control(ControlToken.TASK_ACTION);
            }
        } else if (t.role == Message.Role.USER || t.role == Message.Role.DEVELOPER) {
            out.control(ControlToken.ASSISTANT)
                    .control(thinking && (!drop || i >= lastUser) ? ControlToken.THINK : ControlToken.THINK_END);
        }
    }

    /** Python truthiness of a JSON value, which is what {@code if response_format:} tests. */
    static boolean truthy(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) return false;
        if (n.isContainerNode()) return !n.isEmpty();
        if (n.isTextual()) return !n.textValue().isEmpty();
        if (n.isBoolean()) return n.booleanValue();
        if (n.isNumber()) return n.doubleValue() != 0;
        return true;
    }
}
