package dev.ds4j.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The DeepSeek-V3/V4 tokenizer: byte-level BPE as described by a HF {@code tokenizer.json}, with the exact
 * pre-tokenizer of those models (see {@link PreTokenizer}); {@link #load} refuses files that need anything
 * else. Immutable after loading and safe to share between threads.
 *
 * <p><b>Two ways to encode.</b> {@link #encodeText} treats its input as plain text: a user who types
 * {@code <｜User｜>} gets the ordinary tokens of those characters, never the control token. Control ids are
 * inserted by the protocol layer, looked up with {@link #addedTokenId}. {@link #encodeWithAddedTokens} is
 * what HF's {@code tokenizer.encode(text, add_special_tokens=False)} does: it first cuts the text at every
 * added-token content (special or not) and maps those to their ids. It exists for compatibility and tests.
 *
 * <p><b>Unpaired surrogates.</b> A Java string may contain a lone UTF-16 surrogate, which has no UTF-8
 * form. Each one is encoded as U+FFFD (REPLACEMENT CHARACTER), like any other text that cannot be
 * represented; decoding such tokens therefore gives U+FFFD back where the surrogate was.
 *
 * <p><b>Decoding</b> concatenates the bytes of the tokens and reads them as UTF-8, replacing each maximal
 * ill-formed subpart by U+FFFD as HF does. Added tokens decode to their content. For generation use
 * {@link #newStreamDecoder()}, which never splits a character across two pieces of output.
 */
public final class Tokenizer {
    private final Path source;
    private final Bpe bpe;
    private final int[] byteIds;
    private final PieceCache cache = new PieceCache();
    private final AddedTokenMatcher rawAdded;
    private final AddedTokenMatcher normalizedAdded;
    private final Map<String, Integer> addedIds;
    private final String[] contents;
    private final byte[] tokenData;
    private final int[] tokenOffsets;

    /**
     * @param contents token string of each id (vocabulary spelling or added-token content), null where unassigned
     * @param rawAdded added tokens matched before normalisation ("normalized": false)
     * @param normalizedAdded added tokens matched afterwards; the normaliser is empty, but HF's two passes
     *                        decide which of two overlapping tokens wins
     */
    Tokenizer(Path source, Bpe bpe, int[] byteIds, String[] contents, Map<String, Integer> rawAdded,
              Map<String, Integer> normalizedAdded) {
        this.source = source;
        this.bpe = bpe;
        this.byteIds = byteIds.clone();
        this.contents = contents.clone();
        this.rawAdded = new AddedTokenMatcher(rawAdded);
        this.normalizedAdded = new AddedTokenMatcher(normalizedAdded);
        var all = new java.util.HashMap<String, Integer>(rawAdded);
        all.putAll(normalizedAdded);
        this.addedIds = Map.copyOf(all);
        tokenOffsets = new int[contents.length + 1];
        byte[] data = new byte[contents.length * 8];
        int size = 0;
        for (int id = 0; id < contents.length; id++) {
            if (contents[id] != null) {
                byte[] b = ByteLevel.tokenBytes(contents[id]);
                if (size + b.length > data.length) data = java.util.Arrays.copyOf(data, Math.max(data.length * 2, size + b.length));
                System.arraycopy(b, 0, data, size, b.length);
                size += b.length;
            }
            tokenOffsets[id + 1] = size;
        }
        tokenData = java.util.Arrays.copyOf(data, size);
    }

    /**
     * Reads a HF tokenizer.json. Throws {@link IllegalArgumentException} naming the file and the JSON path
     * when the content is malformed or describes a tokenizer this class does not implement.
     */
    public static Tokenizer load(Path tokenizerJson) throws IOException {
        return TokenizerLoader.load(tokenizerJson);
    }

    /** The file this tokenizer was loaded from. */
    public Path source() { return source; }

    /** Number of ids, including added tokens: valid ids are 0 to vocabSize() - 1. */
    public int vocabSize() { return contents.length; }

    /** Ids of text as plain text: added-token contents in it are not recognised. */
    public int[] encodeText(String text) {
        IntList out = new IntList(text.length() / 3 + 8);
        new Encoder(out).encode(text, 0, text.length());
        return out.toArray();
    }

    /**
     * Ids of text with added-token contents recognised anywhere in it, longest first, as HF's
     * {@code encode(text, add_special_tokens=False)} does. Never use this on untrusted text inside a prompt.
     */
    public int[] encodeWithAddedTokens(String text) {
        IntList out = new IntList(text.length() / 3 + 8);
        Encoder enc = new Encoder(out);
        int[] id = new int[1];
        int pos = 0;
        while (pos < text.length()) {
            long m = rawAdded.find(text, pos, text.length(), id);
            int start = m < 0 ? text.length() : (int) (m >>> 32);
            encodeNormalizedSpan(text, pos, start, enc);
            if (m < 0) break;
            out.add(id[0]);
            pos = (int) m;
        }
        return out.toArray();
    }

    private void encodeNormalizedSpan(String text, int from, int to, Encoder enc) {
        int[] id = new int[1];
        int pos = from;
        while (pos < to) {
            long m = normalizedAdded.find(text, pos, to, id);
            int start = m < 0 ? to : (int) (m >>> 32);
            enc.encode(text, pos, start);
            if (m < 0) break;
            enc.out.add(id[0]);
            pos = (int) m;
        }
    }

    /** The id of an added token (control token such as {@code <｜User｜>}) by its exact content. */
    public OptionalInt addedTokenId(String content) {
        Integer id = addedIds.get(content);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** Like {@link #addedTokenId} but throws IllegalArgumentException for a content that is not an added token. */
    public int requireAddedTokenId(String content) {
        Integer id = addedIds.get(content);
        if (id == null)
            throw new IllegalArgumentException(source + ": no added token with content '" + content + "'");
        return id;
    }

    /** The token's string as tokenizer.json spells it (byte-level spelling for vocabulary tokens). */
    public String tokenContent(int id) {
        checkId(id);
        return contents[id];
    }

    /** The bytes the token stands for in decoded text. */
    public byte[] tokenBytes(int id) {
        checkId(id);
        return java.util.Arrays.copyOfRange(tokenData, tokenOffsets[id], tokenOffsets[id + 1]);
    }

    /** The text of ids; bytes that do not form valid UTF-8 become U+FFFD. */
    public String decode(int[] ids) {
        int total = 0;
        for (int id : ids) {
            checkId(id);
            total += tokenOffsets[id + 1] - tokenOffsets[id];
        }
        byte[] bytes = new byte[total];
        int p = 0;
        for (int id : ids) {
            int len = tokenOffsets[id + 1] - tokenOffsets[id];
            System.arraycopy(tokenData, tokenOffsets[id], bytes, p, len);
            p += len;
        }
        StringBuilder sb = new StringBuilder(total);
        Utf8.decode(bytes, 0, total, true, sb);
        return sb.toString();
    }

    /** A decoder for one generated sequence; it is not thread-safe, the tokenizer is. */
    public StreamDecoder newStreamDecoder() { return new StreamDecoder(this); }

    /** Appends the bytes of id to dst at pos, growing it if needed; returns the (possibly new) array. */
    byte[] appendTokenBytes(int id, byte[] dst, int pos) {
        checkId(id);
        int len = tokenOffsets[id + 1] - tokenOffsets[id];
        if (pos + len > dst.length) dst = java.util.Arrays.copyOf(dst, Math.max(dst.length * 2, pos + len));
        System.arraycopy(tokenData, tokenOffsets[id], dst, pos, len);
        return dst;
    }

    Bpe bpe() { return bpe; }

    int tokenByteLength(int id) { return tokenOffsets[id + 1] - tokenOffsets[id]; }

    private void checkId(int id) {
        if (id < 0 || id >= contents.length)
            throw new IllegalArgumentException("token id " + id + " is out of range [0, " + contents.length + ")");
        if (contents[id] == null)
            throw new IllegalArgumentException("token id " + id + " is not assigned in " + source);
    }

    /** Per-call state of encoding: pre-tokenises a span and runs BPE on each piece. */
    private final class Encoder implements PreTokenizer.Sink {
        final IntList out;
        private int[] cps;
        private byte[] buf = new byte[64];

        Encoder(IntList out) { this.out = out; }

        void encode(String text, int from, int to) {
            if (from >= to) return;
            cps = Utf8.codePoints(text, from, to);
            PreTokenizer.split(cps, 0, cps.length, this);
        }

        @Override
        public void piece(int start, int end) {
            if (buf.length < (end - start) * 4) buf = new byte[(end - start) * 4];
            int len = 0;
            for (int i = start; i < end; i++) len = Utf8.encode(cps[i], buf, len);
            if (len == 1) {
                out.add(byteIds[buf[0] & 0xFF]);
            } else if (len <= PieceCache.MAX_BYTES) {
                int h = PieceCache.hash(buf, len);
                int[] ids = cache.get(buf, len, h);
                if (ids == null) {
                    IntList tmp = new IntList(len);
                    bpe.encode(buf, len, tmp);
                    ids = tmp.toArray();
                    cache.put(buf, len, h, ids);
                }
                for (int id : ids) out.add(id);
            } else {
                bpe.encode(buf, len, out);
            }
        }
    }
}
