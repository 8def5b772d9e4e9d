package dev.ds4j.tokenizer;

/** UTF-8 in both directions with the replacement rules the tokenizer promises (see {@link Tokenizer}). */
final class Utf8 {
    private Utf8() {}

    static final int REPLACEMENT = 0xFFFD;

    /** Code points of s[from, to), with every unpaired surrogate replaced by U+FFFD. */
    static int[] codePoints(CharSequence s, int from, int to) {
        int[] out = new int[to - from];
        int n = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(s.charAt(i + 1))) {
                out[n++] = Character.toCodePoint(c, s.charAt(++i));
            } else {
                out[n++] = Character.isSurrogate(c) ? REPLACEMENT : c;
            }
        }
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    /** Writes the UTF-8 of cp (not a surrogate) at buf[pos]; returns the new position. */
    static int encode(int cp, byte[] buf, int pos) {
        if (cp < 0x80) {
            buf[pos++] = (byte) cp;
        } else if (cp < 0x800) {
            buf[pos++] = (byte) (0xC0 | cp >> 6);
            buf[pos++] = (byte) (0x80 | cp & 0x3F);
        } else if (cp < 0x10000) {
            buf[pos++] = (byte) (0xE0 | cp >> 12);
            buf[pos++] = (byte) (0x80 | cp >> 6 & 0x3F);
            buf[pos++] = (byte) (0x80 | cp & 0x3F);
        } else {
            buf[pos++] = (byte) (0xF0 | cp >> 18);
            buf[pos++] = (byte) (0x80 | cp >> 12 & 0x3F);
            buf[pos++] = (byte) (0x80 | cp >> 6 & 0x3F);
            buf[pos++] = (byte) (0x80 | cp & 0x3F);
        }
        return pos;
    }

    /**
     * Decodes b[off, off+len) into out, replacing each maximal ill-formed subpart by one U+FFFD (Unicode's
     * recommended practice, which Rust's {@code String::from_utf8_lossy} and therefore HF's decoder follow).
     * Returns how many bytes were consumed. When {@code end} is false a trailing sequence that is still a
     * valid prefix is left unconsumed, because later bytes may complete it; the replacement of every other
     * byte is already decided, so decoding in pieces yields the same text as decoding all at once.
     */
    static int decode(byte[] b, int off, int len, boolean end, StringBuilder out) {
        int p = off, limit = off + len;
        while (p < limit) {
            int b0 = b[p] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                p++;
                continue;
            }
            int need, lo = 0x80, hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) need = 1;
            else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                if (b0 == 0xE0) lo = 0xA0;
                else if (b0 == 0xED) hi = 0x9F; // D800..DFFF are not scalar values
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                if (b0 == 0xF0) lo = 0x90;
                else if (b0 == 0xF4) hi = 0x8F; // beyond U+10FFFF
            } else {
                out.append((char) REPLACEMENT);
                p++;
                continue;
            }
            int cp = b0 & (0x3F >> need), k = 1;
            for (; k <= need && p + k < limit; k++) {
                int bk = b[p + k] & 0xFF;
                if (bk < lo || bk > hi) break;
                cp = cp << 6 | bk & 0x3F;
                lo = 0x80;
                hi = 0xBF;
            }
            if (k > need) {
                out.appendCodePoint(cp);
                p += k;
            } else if (p + k == limit && !end) {
                break;
            } else {
                out.append((char) REPLACEMENT);
                p += k;
            }
        }
        return p - off;
    }
}
