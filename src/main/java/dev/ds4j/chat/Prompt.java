package dev.ds4j.chat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A rendered prompt: plain text interleaved with control tokens that only the protocol placed.
 * {@link #text()} is the exact string DeepSeek's encoder produces; {@link #tokenIds} tokenises each
 * run of plain text with no added-token matching and inserts the control ids between runs. For text
 * that does not spell a control literal this equals tokenising {@link #text()} the Hugging Face way;
 * for text that does, the literal stays text, which is the point.
 */
public final class Prompt {
    /** What the prompt needs from a tokenizer. */
    public interface Encoder {
        /** Ids of plain text; never matches added tokens. */
        int[] encodeText(String text);

        /** Id of a control token's literal. */
        int controlId(ControlToken token);
    }

    private final List<Object> pieces; // String (plain text) or ControlToken

    private Prompt(List<Object> pieces) { this.pieces = Collections.unmodifiableList(pieces); }

    public String text() {
        StringBuilder sb = new StringBuilder();
        for (Object p : pieces) sb.append(p instanceof ControlToken c ? c.literal : (String) p);
        return sb.toString();
    }

    @Override
    public String toString() { return text(); }

    /** Pieces in order: {@link String} for plain text, {@link ControlToken} for control tokens. */
    public List<Object> pieces() { return pieces; }

    /** Token ids with the DeepSeek tokenizer: plain-text runs as plain text, control tokens by their ids. */
    public int[] tokenIds(dev.ds4j.tokenizer.Tokenizer tokenizer) {
        return tokenIds(new Encoder() {
            @Override public int[] encodeText(String text) { return tokenizer.encodeText(text); }
            @Override public int controlId(ControlToken token) { return tokenizer.requireAddedTokenId(token.literal); }
        });
    }

    public int[] tokenIds(Encoder encoder) {
        List<int[]> parts = new ArrayList<>();
        StringBuilder run = new StringBuilder();
        for (Object p : pieces) {
            if (p instanceof ControlToken c) {
                if (!run.isEmpty()) { parts.add(encoder.encodeText(run.toString())); run.setLength(0); }
                parts.add(new int[]{encoder.controlId(c)});
            } else {
                run.append((String) p);
            }
        }
        if (!run.isEmpty()) parts.add(encoder.encodeText(run.toString()));
        int n = 0;
        for (int[] part : parts) n += part.length;
        int[] ids = new int[n];
        int at = 0;
        for (int[] part : parts) { System.arraycopy(part, 0, ids, at, part.length); at += part.length; }
        return ids;
    }

    static final class Builder {
        private final List<Object> pieces = new ArrayList<>();

        /** Text from a message, a tool or a schema: never becomes a control token. */
        Builder text(String s) {
            if (!s.isEmpty()) pieces.add(s);
            return this;
        }

        Builder control(ControlToken t) {
            pieces.add(t);
            return this;
        }

        /**
         * Protocol template text (the tools block, DSML framing): control literals in it are real
         * control tokens, exactly as the official tokenisation of the whole prompt makes them.
         */
        Builder protocol(String template) {
            int i = 0;
            while (i < template.length()) {
                int best = -1;
                ControlToken found = null;
                for (ControlToken t : ControlToken.values()) {
                    int at = template.indexOf(t.literal, i);
                    if (at >= 0 && (best < 0 || at < best)) { best = at; found = t; }
                }
                if (found == null) { text(template.substring(i)); break; }
                text(template.substring(i, best));
                control(found);
                i = best + found.literal.length();
            }
            return this;
        }

        Builder append(Builder other) {
            pieces.addAll(other.pieces);
            return this;
        }

        Prompt build() { return new Prompt(new ArrayList<>(pieces)); }
    }
}
