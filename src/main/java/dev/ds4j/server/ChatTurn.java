package dev.ds4j.server;

import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.CompletionParser;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.RenderOptions;

import java.util.ArrayList;
import java.util.List;

/**
 * One assistant turn as it streams: generated text goes through the DSML parser and comes out as
 * reasoning, content and tool-call deltas in OpenAI's shape. If the model writes malformed DSML, the
 * rest of its text is passed on as content (what vLLM does) rather than dropped, and the turn says so.
 */
final class ChatTurn {
    /** A delta for the client; exactly one of the fields is set. */
    record Delta(String reasoning, String content, ToolStart toolStart, ToolArgs toolArgs) {}

    record ToolStart(int index, String id, String name) {}

    record ToolArgs(int index, String fragment) {}

    private final CompletionParser parser;
    private final StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
    /** A tool call as it streams; its arguments grow fragment by fragment. */
    record Call(String id, String name, StringBuilder arguments) {}

    final List<Call> calls = new ArrayList<>();
    private String parseError;

    ChatTurn(RenderOptions.ThinkingMode mode) { parser = new CompletionParser(mode); }

    List<Delta> feed(String text) {
        List<Delta> out = new ArrayList<>();
        if (parseError != null) {
            content.append(text);
            out.add(new Delta(null, text, null, null));
            return out;
        }
        try {
            for (CompletionParser.Delta d : parser.feed(text)) out.add(convert(d));
        } catch (ChatFormatException e) {
            parseError = e.getMessage();
        }
        return out;
    }

    /**
     * Ends the turn. With an EOS the parser checks the completion is whole; without one (max_tokens or a
     * stop string cut it) text held back at the end is released and an unfinished tool block dropped.
     */
    List<Delta> finish(boolean eos) {
        if (!eos) {
            List<Delta> out = new ArrayList<>();
            if (parseError == null) for (CompletionParser.Delta d : parser.releaseHeld()) out.add(convert(d));
            return out;
        }
        List<Delta> out = feed(ControlToken.EOS.literal);
        if (parseError == null) {
            try {
                parser.finish();
            } catch (ChatFormatException e) {
                parseError = e.getMessage();
            }
        }
        return out;
    }

    private Delta convert(CompletionParser.Delta d) {
        return switch (d) {
            case CompletionParser.ReasoningDelta r -> { reasoning.append(r.text()); yield new Delta(r.text(), null, null, null); }
            case CompletionParser.ContentDelta c -> { content.append(c.text()); yield new Delta(null, c.text(), null, null); }
            case CompletionParser.ToolCallStart s -> {
                String id = "call_" + Ids.hex(24);
                calls.add(new Call(id, s.name(), new StringBuilder()));
                yield new Delta(null, null, new ToolStart(s.index(), id, s.name()), null);
            }
            case CompletionParser.ToolCallArguments a -> {
                calls.get(a.index()).arguments().append(a.fragment());
                yield new Delta(null, null, null, new ToolArgs(a.index(), a.fragment()));
            }
        };
    }

    String reasoning() { return reasoning.toString(); }

    String content() { return content.toString(); }

    String parseError() { return parseError; }
}
