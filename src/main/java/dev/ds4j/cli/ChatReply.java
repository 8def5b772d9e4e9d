package dev.ds4j.cli;

import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.CompletionParser;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.RenderOptions;

import java.io.PrintStream;

/**
 * One assistant reply as it streams: the generated text goes through the completion parser, and
 * reasoning and content come out live, reasoning between {@code [thinking]} and {@code [/thinking]}
 * lines (faint when colours are on). If the model breaks the chat format (a stray special token,
 * malformed DSML), the rest of its text is shown and kept as content, as the server does; a tool call
 * is shown but not kept, since the chat offers no tools.
 */
final class ChatReply {
    static final String THINKING_OPEN = "[thinking]", THINKING_CLOSE = "[/thinking]";

    private final CompletionParser parser;
    private final PrintStream out; // null: collect only (--json)
    private final String faint, reset;
    private final StringBuilder text = new StringBuilder(), reasoning = new StringBuilder(), content = new StringBuilder();
    private int accounted; // characters of text that the parser has turned into deltas or markers
    private String formatError;
    private int toolCalls;
    private boolean inReasoning, inToolCall, atLineStart = true;

    ChatReply(RenderOptions.ThinkingMode mode, PrintStream out, boolean color) {
        this.parser = new CompletionParser(mode);
        this.out = out;
        this.faint = color ? Ansi.FAINT : "";
        this.reset = color ? Ansi.RESET : "";
    }

    /** The next piece of generated text. */
    void feed(String piece) {
        text.append(piece);
        if (formatError != null) {
            content(piece);
            return;
        }
        try {
            for (CompletionParser.Delta d : parser.feed(piece)) show(d);
            accounted = text.length() - parser.held();
        } catch (ChatFormatException e) {
            formatError = e.getMessage();
            content(text.substring(accounted));
        }
    }

    /** The reply ended: with its EOS, or cut short (max tokens, Ctrl-C). */
    void finish(boolean eos) {
        if (formatError == null) {
            try {
                if (eos) {
                    for (CompletionParser.Delta d : parser.feed(ControlToken.EOS.literal)) show(d);
                    parser.finish();
                } else {
                    for (CompletionParser.Delta d : parser.releaseHeld()) show(d);
                }
            } catch (ChatFormatException e) {
                formatError = e.getMessage();
                content(text.substring(accounted));
            }
        }
        closeReasoning();
        closeToolCall();
        if (out != null) {
            if (!atLineStart) out.println();
            out.flush();
        }
    }

    private void show(CompletionParser.Delta d) {
        switch (d) {
            case CompletionParser.ReasoningDelta r -> reasoning(r.text());
            case CompletionParser.ContentDelta c -> content(c.text());
            case CompletionParser.ToolCallStart s -> {
                closeReasoning();
                closeToolCall();
                toolCalls++;
                inToolCall = true;
                print((atLineStart ? "" : "\n") + "[tool call " + s.name() + " ", true);
            }
            case CompletionParser.ToolCallArguments a -> print(a.fragment(), true);
        }
    }

    private void reasoning(String s) {
        reasoning.append(s);
        if (!inReasoning && reasoning.length() == s.length()) {
            inReasoning = true;
            print(THINKING_OPEN + "\n", true);
        }
        print(s, true);
    }

    private void content(String s) {
        if (s.isEmpty()) return;
        closeReasoning();
        closeToolCall();
        content.append(s);
        print(s, false);
    }

    private void closeReasoning() {
        if (!inReasoning) return;
        inReasoning = false;
        print((atLineStart ? "" : "\n") + THINKING_CLOSE + "\n", true);
    }

    private void closeToolCall() {
        if (!inToolCall) return;
        inToolCall = false;
        print("]\n", true);
    }

    private void print(String s, boolean dim) {
        if (out == null || s.isEmpty()) return;
        out.print(dim ? faint + s + reset : s);
        out.flush();
        atLineStart = s.endsWith("\n");
    }

    String text() { return text.toString(); }
    String reasoning() { return reasoning.toString(); }
    String content() { return content.toString(); }
    /** Why the text broke the chat format, or null. */
    String formatError() { return formatError; }
    int toolCalls() { return toolCalls; }
}
