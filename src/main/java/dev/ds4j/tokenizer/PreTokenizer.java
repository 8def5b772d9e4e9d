package dev.ds4j.tokenizer;

/**
 * The DeepSeek-V3/V4 pre-tokenizer, a hand-written scanner equivalent to three Isolated {@code Split}s run in
 * sequence (each applies to every piece the previous one produced, and both matches and the gaps between
 * them become pieces):
 * <ol>
 *   <li>{@code \p{N}{1,3}}</li>
 *   <li>{@code [一-龥぀-ゟ゠-ヿ]+}</li>
 *   <li>{@code [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
 *       ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}</li>
 * </ol>
 * A scanner rather than {@link java.util.regex}: it states the Oniguruma semantics HF relies on (Unicode
 * White_Space for {@code \s}, how backtracking settles {@code \s*[\r\n]+} and {@code \s+(?!\S)}) in
 * one place instead of depending on engine flags, and it splits about twice as fast. Categories come from
 * {@link Character#getType} (Unicode 16.0 in JDK 25), which agree with the oracle's on every code point; the
 * tests cross-check this class against {@code java.util.regex} and against HF tokenizers itself.
 * Works on code points; a piece is reported as a half-open index range.
 */
final class PreTokenizer {
    private PreTokenizer() {}

    /** The exact regexes, as tokenizer.json spells them; loading refuses a file with anything else. */
    static final String REGEX_NUMBERS = "\\p{N}{1,3}";
    static final String REGEX_CJK = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
    static final String REGEX_WORDS = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
            + "|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

    interface Sink {
        void piece(int start, int end);
    }

    // Character classes as bits; a code point can have several (CR and LF are also WS).
    private static final int L = 1, M = 2, N = 4, P = 8, S = 16, WS = 32, CRLF = 64;
    private static final byte[] BMP = new byte[0x10000];

    static {
        for (int c = 0; c < BMP.length; c++) BMP[c] = (byte) computeClass(c);
    }

    private static int computeClass(int cp) {
        int bits = switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER -> L;
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> M;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> N;
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION,
                 Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> P;
            case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL,
                 Character.OTHER_SYMBOL -> S;
            default -> 0;
        };
        if (isWhiteSpace(cp)) bits |= WS;
        if (cp == '\r' || cp == '\n') bits |= CRLF;
        return bits;
    }

    /**
     * Unicode's White_Space property, which is what Oniguruma's {@code \s} matches. Not
     * {@link Character#isWhitespace}: that includes U+001C..U+001F and excludes the no-break spaces.
     */
    static boolean isWhiteSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    private static int cls(int cp) { return cp < 0x10000 ? BMP[cp] : computeClass(cp); }

    private static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF);
    }

    /** Reports the pieces of cp[from, to) in order. */
    static void split(int[] cp, int from, int to, Sink sink) {
        int gap = from, i = from;
        while (i < to) {
            if ((cls(cp[i]) & N) == 0) {
                i++;
                continue;
            }
            int end = i + 1;
            while (end < to && end - i < 3 && (cls(cp[end]) & N) != 0) end++;
            if (gap < i) splitCjk(cp, gap, i, sink);
            splitCjk(cp, i, end, sink);
            gap = i = end;
        }
        if (gap < to) splitCjk(cp, gap, to, sink);
    }

    private static void splitCjk(int[] cp, int from, int to, Sink sink) {
        int gap = from, i = from;
        while (i < to) {
            if (!isCjk(cp[i])) {
                i++;
                continue;
            }
            int end = i + 1;
            while (end < to && isCjk(cp[end])) end++;
            if (gap < i) splitWords(cp, gap, i, sink);
            splitWords(cp, i, end, sink);
            gap = i = end;
        }
        if (gap < to) splitWords(cp, gap, to, sink);
    }

    private static void splitWords(int[] cp, int from, int to, Sink sink) {
        int gap = from, i = from;
        while (i < to) {
            int end = matchWords(cp, i, to);
            if (end < 0) {
                i++;
                continue;
            }
            if (gap < i) sink.piece(gap, i);
            sink.piece(i, end);
            gap = i = end;
        }
        if (gap < to) sink.piece(gap, to);
    }

    /**
     * End of the match of regex 3 starting exactly at i within cp[i, to), or -1. Alternatives are tried in
     * order and the first that matches wins, as in a backtracking engine; the end of the piece is the end of
     * the subject string, which matters for {@code (?!\S)}.
     */
    private static int matchWords(int[] cp, int i, int to) {
        int c = cp[i], ci = cls(c);
        int next = i + 1 < to ? cls(cp[i + 1]) : 0;
        // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+  (the class is exactly ASCII punctuation and symbols)
        if (c < 0x80 && (ci & (P | S)) != 0 && i + 1 < to && isAsciiLetter(cp[i + 1])) {
            int e = i + 2;
            while (e < to && isAsciiLetter(cp[e])) e++;
            return e;
        }
        // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ : a mark may be taken by either part, the span is the same
        if ((ci & (L | M)) != 0 || ((ci & (CRLF | P | S)) == 0 && (next & (L | M)) != 0)) {
            int e = i + 1;
            while (e < to && (cls(cp[e]) & (L | M)) != 0) e++;
            return e;
        }
        //  ?[\p{P}\p{S}]+[\r\n]*
        if ((ci & (P | S)) != 0 || (c == ' ' && (next & (P | S)) != 0)) {
            int e = i + 1;
            while (e < to && (cls(cp[e]) & (P | S)) != 0) e++;
            while (e < to && (cp[e] == '\r' || cp[e] == '\n')) e++;
            return e;
        }
        if ((ci & WS) == 0) return -1;
        int runEnd = i + 1, lastBreak = (ci & CRLF) != 0 ? i : -1;
        while (runEnd < to) {
            int k = cls(cp[runEnd]);
            if ((k & WS) == 0) break;
            if ((k & CRLF) != 0) lastBreak = runEnd;
            runEnd++;
        }
        // \s*[\r\n]+ : backtracking gives the run up to and including its last line break
        if (lastBreak >= 0) return lastBreak + 1;
        // \s+(?!\S) : the whole run at the end of the piece, else all but the last whitespace
        if (runEnd == to) return runEnd;
        if (runEnd - i >= 2) return runEnd - 1;
        // \s+
        return runEnd;
    }

    private static boolean isAsciiLetter(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
}
