package dev.ds4j.tokenizer;

/**
 * GPT-2's byte-to-character map. Vocabulary strings spell bytes with printable characters so that a token
 * never contains whitespace or control characters: bytes {@code !..~}, {@code ¡..¬} and {@code ®..ÿ} stand
 * for themselves, the other 68 bytes are shifted to U+0100..U+0143 in byte order.
 */
final class ByteLevel {
    private ByteLevel() {}

    /** BYTE_TO_CHAR[b] is the character that spells byte b. */
    static final char[] BYTE_TO_CHAR = new char[256];
    /** CHAR_TO_BYTE[c] for c below 0x144 is the byte c spells, or -1 when c spells none. */
    private static final short[] CHAR_TO_BYTE = new short[0x144];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, (short) -1);
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + shifted++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = (short) b;
        }
    }

    /** The byte that c spells, or -1. */
    static int byteOf(char c) { return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1; }

    /**
     * The bytes a token stands for, as HF's ByteLevel decoder computes them: the spelled bytes when every
     * character of the token is in the alphabet, otherwise the token's own UTF-8 (added tokens such as
     * {@code <｜User｜>} contain characters outside it and decode to themselves).
     */
    static byte[] tokenBytes(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            int b = byteOf(token.charAt(i));
            if (b < 0) return token.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            out[i] = (byte) b;
        }
        return out;
    }
}
