package dev.ds4j.tokenizer;

/**
 * Turns generated ids into text as they arrive. A character often spans several byte-level tokens (emoji,
 * CJK); its bytes are held back until it is complete, so no piece of output ends inside a code point and
 * the pieces concatenate to exactly {@link Tokenizer#decode} of all ids. One instance per sequence; not
 * thread-safe.
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private byte[] pending = new byte[16];
    private int pendingLength;

    StreamDecoder(Tokenizer tokenizer) { this.tokenizer = tokenizer; }

    /** Adds one id; returns the text that became complete, possibly empty. */
    public String accept(int id) {
        pending = tokenizer.appendTokenBytes(id, pending, pendingLength);
        pendingLength += tokenizer.tokenByteLength(id);
        return drain(false);
    }

    /**
     * Ends the sequence: returns what was held back (an incomplete character at the end becomes U+FFFD, as in
     * {@link Tokenizer#decode}) and resets the decoder for reuse.
     */
    public String finish() { return drain(true); }

    /** Whether bytes of an incomplete character are being held back. */
    public boolean hasPending() { return pendingLength > 0; }

    private String drain(boolean end) {
        if (pendingLength == 0) return "";
        StringBuilder sb = new StringBuilder(pendingLength);
        int used = Utf8.decode(pending, 0, pendingLength, end, sb);
        System.arraycopy(pending, used, pending, 0, pendingLength - used);
        pendingLength -= used;
        return sb.toString();
    }
}
