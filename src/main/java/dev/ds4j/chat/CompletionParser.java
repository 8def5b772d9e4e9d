package dev.ds4j.chat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a completion into reasoning, content and DSML tool calls, incrementally. Feed decoded text in
 * chunks of any size (special tokens as their literal text, the final EOS included); each
 * {@link #feed} returns the deltas that are certain, and {@link #finish} returns the whole message.
 * Parsing a completion in one chunk and in any split gives the same result: the whole-text parse is
 * this class fed once.
 *
 * <p>The grammar and its acceptance are the official strict parser's (CHAT_FORMAT §4.2), so a
 * completion the official parser accepts gives the same message here, and one it rejects is rejected
 * here, with the offset and the reason. One deliberate difference: the official parser accepts a tool
 * block that stops in the middle (an unclosed invoke at the end of the text); this one reports it.
 *
 * <p>Text that might be the start of a marker ({@code </think>}, {@code "\n\n<｜DSML｜tool_calls"},
 * {@code </｜DSML｜parameter>} …) is held back until it is decided, so no fragment of a tag ever leaks
 * into a content or argument delta.
 */
public final class CompletionParser {

    /** What a chunk of completion added. */
    public sealed interface Delta {}

    public record ReasoningDelta(String text) implements Delta {}

    public record ContentDelta(String text) implements Delta {}

    /** A tool call's name is complete: the call at {@code index} starts, with empty arguments so far. */
    public record ToolCallStart(int index, String name) implements Delta {}

    /** The next piece of the call's arguments string; the pieces concatenate to {@link ParsedCompletion.ToolCall#arguments}. */
    public record ToolCallArguments(int index, String fragment) implements Delta {}

    private static final String BOS = ControlToken.BOS.literal, EOS = ControlToken.EOS.literal;
    private static final String THINK = ControlToken.THINK.literal, THINK_END = ControlToken.THINK_END.literal;
    private static final String TRUE_HEAD = "\" string=\"true\">", FALSE_HEAD = "\" string=\"false\">";
    private static final String PARAM_PREFIX = " name=\"";
    private static final String GAP = ">\n";

    // Stops per state. Tokens that may never appear in reasoning or content are stops too, so the
    // error is found before the text would be emitted.
    private static final String[] REASONING_STOPS = {THINK_END, Dsml.BLOCK_START, BOS, EOS, THINK, Dsml.TOKEN};
    private static final String[] CONTENT_STOPS = {EOS, Dsml.BLOCK_START, BOS, THINK, THINK_END, Dsml.TOKEN};
    private static final String[] BLOCK_STOPS = {Dsml.INVOKE, Dsml.BLOCK_END};
    private static final String[] INVOKE_HEAD_STOPS = {Dsml.PARAM, Dsml.INVOKE_END};
    private static final String[] PARAM_NAME_STOPS = {TRUE_HEAD, FALSE_HEAD, Dsml.PARAM_END};
    // The value ends at the first /｜DSML｜parameter; the regex then wants "<" (or "<\n", Python's $) before it.
    private static final String[] PARAM_VALUE_STOPS = {"<" + Dsml.PARAM_END, "<\n" + Dsml.PARAM_END, Dsml.PARAM_END};
    private static final String[] PARAM_GAP_STOPS = {Dsml.PARAM, Dsml.INVOKE_END};
    private static final String[] END_STOPS = {EOS};

    /** {@code ^\s*name="(.*?)">\n$} with Python's semantics: Unicode \s as str.isspace, $ also before a final \n. */
    private static final Pattern INVOKE_HEAD = Pattern.compile(
            "^[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*name=\"(.*?)\">\\n$",
            Pattern.DOTALL | Pattern.UNIX_LINES);

    private enum State { REASONING, CONTENT, BLOCK_GAP, INVOKE_HEAD, PARAM_PREFIX, PARAM_NAME, PARAM_VALUE, PARAM_GAP, AFTER_BLOCK, DONE }

    private final StringBuilder pending = new StringBuilder();
    private long offset; // absolute position of pending[0] in the completion
    private State state;
    private ChatFormatException failure;

    private final StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
    private final StringBuilder acc = new StringBuilder(); // gap, head or name text of the current state
    private final List<ParsedCompletion.ToolCall> calls = new ArrayList<>();
    private String callName;
    private final StringBuilder callArgs = new StringBuilder();
    private final Set<String> callKeys = new HashSet<>();
    private boolean valueIsString;
    private List<Delta> out;

    public CompletionParser(RenderOptions.ThinkingMode mode) {
        state = mode == RenderOptions.ThinkingMode.THINKING ? State.REASONING : State.CONTENT;
    }

    /** Parses a whole completion; throws {@link ChatFormatException} naming the offset and reason when it is malformed. */
    public static ParsedCompletion parse(String completion, RenderOptions.ThinkingMode mode) {
        CompletionParser p = new CompletionParser(mode);
        p.feed(completion);
        return p.finish();
    }

    /** Consumes the next piece of completion text; returns the deltas it made certain. */
    public List<Delta> feed(String chunk) {
        if (failure != null) throw failure;
        out = new ArrayList<>();
        pending.append(chunk);
        try {
            while (step()) { /* keep going while a stop was consumed */ }
        } catch (ChatFormatException e) {
            failure = e;
            throw e;
        }
        return out;
    }

    /**
     * Characters fed but not yet accounted for by a delta or a marker: held back because they may begin
     * a marker. When a feed throws, its deltas are lost with it, so a caller that salvages a malformed
     * completion takes the text from (characters fed before that call − this count) on.
     */
    public int held() { return pending.length(); }

    /**
     * For a completion that ends without its EOS (max_tokens, a stop string, cancellation): releases the
     * held-back text as reasoning or content, whichever is current, since no marker can complete any
     * more. Inside a tool-call block nothing is released (that block is unfinished). Call it last.
     */
    public List<Delta> releaseHeld() {
        if (failure != null) throw failure;
        out = new ArrayList<>();
        if (!pending.isEmpty() && (state == State.REASONING || state == State.CONTENT)) {
            text(pending.toString());
            consume(pending.length());
        }
        return out;
    }

    /** True once the completion's EOS (or the end of its tool block) has been seen. */
    public boolean isDone() { return state == State.DONE; }

    /** Ends the completion and returns the parsed message, or throws why it is incomplete or malformed. */
    public ParsedCompletion finish() {
        if (failure != null) throw failure;
        switch (state) {
            case DONE -> { }
            case AFTER_BLOCK -> { // the official parser accepts a closed tool block without EOS
                if (!pending.isEmpty()) fail(0, "unexpected content after tool calls");
            }
            case REASONING -> fail(pending.length(), "invalid thinking format: missing </think>");
            case CONTENT -> fail(pending.length(), "invalid format: missing EOS token");
            default -> fail(pending.length(), "unclosed tool-call block (the completion ends inside " + where() + ")");
        }
        return new ParsedCompletion(reasoning.toString(), content.toString(), calls);
    }

    private String where() {
        return switch (state) {
            case BLOCK_GAP -> "<｜DSML｜tool_calls>";
            case INVOKE_HEAD -> "an invoke tag";
            case PARAM_PREFIX, PARAM_NAME -> "a parameter tag";
            case PARAM_VALUE -> "the value of parameter '" + acc + "'";
            case PARAM_GAP -> "invoke '" + callName + "'";
            default -> state.toString();
        };
    }

    /** One scan of the pending text in the current state; true when a stop was consumed and another scan may progress. */
    private boolean step() {
        switch (state) {
            case DONE -> {
                if (!pending.isEmpty()) fail(0, "unexpected text after the end-of-sentence token");
                return false;
            }
            case PARAM_PREFIX -> {
                int need = PARAM_PREFIX.length() - acc.length();
                int take = Math.min(need, pending.length());
                acc.append(pending, 0, take);
                if (!PARAM_PREFIX.startsWith(acc.toString()))
                    fail(0, "parameter format error: expected ' name=\"' after <｜DSML｜parameter, got '" + acc + "'");
                consume(take);
                if (acc.length() < PARAM_PREFIX.length()) return false;
                acc.setLength(0);
                state = State.PARAM_NAME;
                return true;
            }
            default -> { }
        }
        String[] stops = stopsOf(state);
        int match = -1, stop = -1;
        for (int s = 0; s < stops.length; s++) {
            int at = pending.indexOf(stops[s]);
            if (at >= 0 && (match < 0 || at < match)) { match = at; stop = s; }
        }
        int hold = holdStart(stops);
        if (match < 0 || (hold >= 0 && hold < match)) {
            int safe = hold < 0 ? pending.length() : hold;
            if (safe > 0) { text(pending.substring(0, safe)); consume(safe); }
            return false;
        }
        if (match > 0) text(pending.substring(0, match));
        consume(match);
        String s = stops[stop];
        onStop(s);
        consume(s.length());
        return true;
    }

    private static String[] stopsOf(State s) {
        return switch (s) {
            case REASONING -> REASONING_STOPS;
            case CONTENT -> CONTENT_STOPS;
            case BLOCK_GAP -> BLOCK_STOPS;
            case INVOKE_HEAD -> INVOKE_HEAD_STOPS;
            case PARAM_NAME -> PARAM_NAME_STOPS;
            case PARAM_VALUE -> PARAM_VALUE_STOPS;
            case PARAM_GAP -> PARAM_GAP_STOPS;
            case AFTER_BLOCK -> END_STOPS;
            default -> throw new IllegalStateException(s.toString());
        };
    }

    /** Start of the longest pending suffix that is a proper prefix of some stop, or -1. */
    private int holdStart(String[] stops) {
        int n = pending.length();
        int longest = 0;
        for (String s : stops) longest = Math.max(longest, s.length() - 1);
        for (int h = Math.max(0, n - longest); h < n; h++) {
            for (String s : stops) {
                int len = n - h;
                if (len < s.length() && startsWith(s, h, len)) return h;
            }
        }
        return -1;
    }

    private boolean startsWith(String stop, int from, int len) {
        for (int i = 0; i < len; i++) if (pending.charAt(from + i) != stop.charAt(i)) return false;
        return true;
    }

    /** Text that is certainly not part of a stop, in the current state. */
    private void text(String t) {
        switch (state) {
            case REASONING -> { reasoning.append(t); out.add(new ReasoningDelta(t)); }
            case CONTENT -> { content.append(t); out.add(new ContentDelta(t)); }
            case BLOCK_GAP, PARAM_GAP -> {
                acc.append(t);
                if (!GAP.startsWith(acc.toString()))
                    fail(0, "tool call format error: expected '>\\n' between tags, got '" + acc + "'");
            }
            case INVOKE_HEAD, PARAM_NAME -> acc.append(t);
            case PARAM_VALUE -> {
                StringBuilder frag = new StringBuilder();
                if (valueIsString) PyJson.appendEscaped(t, frag); else frag.append(t);
                args(frag.toString());
            }
            case AFTER_BLOCK -> fail(0, "unexpected content after tool calls");
            default -> throw new IllegalStateException(state.toString());
        }
    }

    private void onStop(String s) {
        switch (state) {
            case REASONING -> {
                if (s.equals(THINK_END)) { state = State.CONTENT; return; }
                if (s.equals(Dsml.BLOCK_START)) fail(0, "invalid thinking format: missing </think> (tool calls inside reasoning)");
                fail(0, "unexpected special token '" + s + "' in reasoning");
            }
            case CONTENT -> {
                if (s.equals(EOS)) { state = State.DONE; return; }
                if (s.equals(Dsml.BLOCK_START)) { state = State.BLOCK_GAP; acc.setLength(0); return; }
                fail(0, "unexpected special token '" + s + "' in content");
            }
            case BLOCK_GAP -> {
                checkGap();
                state = s.equals(Dsml.INVOKE) ? State.INVOKE_HEAD : State.AFTER_BLOCK;
            }
            case INVOKE_HEAD -> {
                Matcher m = INVOKE_HEAD.matcher(acc);
                if (!m.find()) fail(0, "tool name format error: '" + acc + "'");
                callName = m.group(1);
                callArgs.setLength(0);
                callKeys.clear();
                acc.setLength(0);
                out.add(new ToolCallStart(calls.size(), callName));
                afterParamOrHead(s);
            }
            case PARAM_NAME -> {
                if (s.equals(Dsml.PARAM_END))
                    fail(0, "parameter format error: no ' string=\"true|false\">' after the name '" + acc + "'");
                String key = acc.toString();
                if (!callKeys.add(key)) fail(0, "duplicate parameter name: '" + key + "'");
                valueIsString = s.equals(TRUE_HEAD);
                args((callKeys.size() == 1 ? "{" : ", ") + PyJson.quote(key) + ": " + (valueIsString ? "\"" : ""));
                state = State.PARAM_VALUE;
            }
            case PARAM_VALUE -> {
                if (s.equals(Dsml.PARAM_END)) fail(0, "parameter format error: the value must end with '<' before /｜DSML｜parameter");
                if (valueIsString) args("\"");
                state = State.PARAM_GAP;
                acc.setLength(0);
            }
            case PARAM_GAP -> {
                checkGap();
                afterParamOrHead(s);
            }
            case AFTER_BLOCK -> state = State.DONE;
            default -> throw new IllegalStateException(state.toString());
        }
    }

    private void afterParamOrHead(String s) {
        acc.setLength(0);
        if (s.equals(Dsml.PARAM)) {
            state = State.PARAM_PREFIX;
        } else { // </｜DSML｜invoke: the call is complete
            args(callKeys.isEmpty() ? "{}" : "}");
            calls.add(new ParsedCompletion.ToolCall(callName, callArgs.toString()));
            state = State.BLOCK_GAP;
        }
    }

    private void checkGap() {
        if (!acc.toString().equals(GAP)) fail(0, "tool call format error: expected '>\\n' between tags, got '" + acc + "'");
        acc.setLength(0);
    }

    private void args(String fragment) {
        callArgs.append(fragment);
        out.add(new ToolCallArguments(calls.size(), fragment));
    }

    private void consume(int n) {
        pending.delete(0, n);
        offset += n;
    }

    private void fail(int rel, String why) {
        throw new ChatFormatException("completion at character " + Math.max(0, offset + rel) + ": " + why);
    }
}
