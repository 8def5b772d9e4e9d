package dev.ds4j.session;

import dev.ds4j.kv.KvCache;
import dev.ds4j.kv.KvLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Numerics;
import dev.ds4j.model.Observer;
import dev.ds4j.model.Scratch;

import java.util.Arrays;

/**
 * One sequence being processed: it owns its KV cache and working buffers. Prefill any number of tokens
 * (internally in chunks), then decode one token at a time; every split gives the logits of one full pass.
 * Not thread-safe: one thread drives a session at a time; many sessions may share one {@link Model}.
 */
public final class Session {
    /**
     * @param numerics  PLAIN or OFFICIAL (§6)
     * @param indexTopk the CSA indexer's k; ≤ 0 = the configured index_topk, Integer.MAX_VALUE = unbounded
     * @param chunk     prefill chunk length (bounds the memory of the residual streams held at once)
     * @param mtp       keep the MTP block's cache in step so {@link #draft} can be called
     * @param kvLayout  how the KV cache stores entries; null = the numerics' own ({@link KvLayout#forNumerics}:
     *                  compact for official, fp32 for plain). FP32 with official numerics holds the same values
     *                  in four times the memory (for checking the compact layout against); COMPACT with plain
     *                  numerics is refused, since plain values lie on no grid.
     */
    public record Options(Numerics numerics, int indexTopk, int chunk, boolean mtp, Observer observer, KvLayout kvLayout) {
        public Options {
            if (chunk <= 0) throw new IllegalArgumentException("chunk must be positive");
            if (observer == null) observer = Observer.NONE;
            if (kvLayout == KvLayout.COMPACT && !numerics.official())
                throw new IllegalArgumentException("the compact KV layout holds official-numerics values only");
        }

        public Options(Numerics numerics, int indexTopk, int chunk, boolean mtp, Observer observer) {
            this(numerics, indexTopk, chunk, mtp, observer, null);
        }

        public static Options defaults() { return new Options(Numerics.OFFICIAL, 0, 256, false, Observer.NONE, null); }

        /** The layout a session with these options stores its cache in. */
        public KvLayout layout() { return kvLayout != null ? kvLayout : KvLayout.forNumerics(numerics.official()); }

        public Options withNumerics(Numerics n) { return new Options(n, indexTopk, chunk, mtp, observer, kvLayout); }
        public Options withIndexTopk(int k) { return new Options(numerics, k, chunk, mtp, observer, kvLayout); }
        public Options withChunk(int c) { return new Options(numerics, indexTopk, c, mtp, observer, kvLayout); }
        public Options withMtp(boolean m) { return new Options(numerics, indexTopk, chunk, m, observer, kvLayout); }
        public Options withObserver(Observer o) { return new Options(numerics, indexTopk, chunk, mtp, o, kvLayout); }
        public Options withKvLayout(KvLayout l) { return new Options(numerics, indexTopk, chunk, mtp, observer, l); }
    }

    private final Model model;
    private final Options opts;
    private final KvCache cache;
    private final Scratch scratch;
    private final int width;
    /** Final streams and token id of the last position processed (the MTP block's next input). */
    private final float[] lastStreams;
    private int lastToken = -1;
    private long mtpLength;

    public Session(Model model, Options opts) {
        if (opts.mtp() && !model.hasMtp()) throw new IllegalArgumentException("MTP requested but the checkpoint has no mtp.0.* tensors");
        this.model = model;
        this.opts = opts;
        this.cache = model.newCache(opts.layout());
        this.scratch = new Scratch(model.config());
        this.width = model.config().hcMult() * model.config().dim();
        this.lastStreams = new float[width];
    }

    public Model model() { return model; }
    public Options options() { return opts; }
    /** Tokens processed so far = the absolute position of the next token. */
    public long position() { return cache.length(); }
    /** Bytes of KV state held now (window rings, compressed entries, indexer keys, compressor state). */
    public long cacheBytes() { return cache.bytes(); }

    /** Per layer, the bytes of KV state held now, by part (the MTP layer last, when the model has one). */
    public dev.ds4j.kv.LayerCache.Bytes[] cacheBytesByLayer() { return cache.bytesByLayer(); }

    /**
     * Puts this session at position {@code tokens} with a synthetic cache (random valid entries, see
     * {@link KvCache#fillSynthetic}), without running the model: for measuring decode at long contexts.
     * The logits that follow are not those of any text. Not for sessions with MTP.
     */
    public void fillSynthetic(long tokens, long seed) {
        if (opts.mtp()) throw new IllegalStateException("a synthetic cache has no MTP state; open the session without MTP");
        if (tokens > model.config().maxPositions()) throw new IllegalArgumentException(tokens + " tokens exceed the model's " + model.config().maxPositions() + " positions");
        cache.fillSynthetic(tokens, seed);
        java.util.Arrays.fill(lastStreams, 0f);
        lastToken = -1;
        mtpLength = 0;
    }

    /**
     * Feeds tokens and returns logits: one row per token when {@code allRows}, else just the last row.
     */
    public float[][] prefill(int[] tokens, boolean allRows) { return prefill(tokens, allRows, null); }

    /** As {@link #prefill(int[], boolean)}; {@code progress} (if not null) gets the tokens done after each chunk. */
    public float[][] prefill(int[] tokens, boolean allRows, java.util.function.IntConsumer progress) {
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        float[][] rows = new float[allRows ? tokens.length : 1][];
        for (int off = 0; off < tokens.length; off += opts.chunk()) {
            int len = Math.min(opts.chunk(), tokens.length - off);
            float[] X = model.forward(tokens, off, len, cache, opts.indexTopk(), opts.observer(), opts.numerics(), scratch);
            if (opts.mtp()) catchUpMtp(tokens, off, len, X);
            // The rows that want logits share one read of the output head.
            int[] offs = new int[len];
            int n = 0;
            for (int t = 0; t < len; t++) if (allRows || off + t == tokens.length - 1) offs[n++] = t * width;
            if (n > 0) {
                float[][] chunkRows = model.logits(X, offs, n, opts.numerics());
                if (allRows) System.arraycopy(chunkRows, 0, rows, off, n);
                else rows[0] = chunkRows[0];
            }
            System.arraycopy(X, (len - 1) * width, lastStreams, 0, width);
            lastToken = tokens[off + len - 1];
            if (progress != null) progress.accept(off + len);
        }
        return rows;
    }

    /**
     * One batched step: feeds {@code tokens[b]} to {@code sessions[b]} for every b in a single layer-outer
     * pass ({@link Model#forwardBatch}) and returns the logits after each sequence's last token, or null for
     * sequences where {@code wantLogits[b]} is false (a prefill chunk that is not the prompt's end). The
     * sessions must be distinct, share one model and options, and run without MTP.
     */
    public static float[][] step(Session[] sessions, int[][] tokens, boolean[] wantLogits, java.util.concurrent.ExecutorService pool) {
        int B = sessions.length;
        if (B == 0) return new float[0][];
        Model model = sessions[0].model;
        Options o = sessions[0].opts;
        var caches = new dev.ds4j.kv.KvCache[B];
        var scratch = new Scratch[B];
        for (int b = 0; b < B; b++) {
            Session s = sessions[b];
            if (s.model != model || !s.opts.equals(o)) throw new IllegalArgumentException("a batch needs one model and one set of options");
            if (s.opts.mtp()) throw new IllegalArgumentException("batched steps run without MTP");
            if (tokens[b].length == 0) throw new IllegalArgumentException("sequence " + b + " has no tokens this step");
            caches[b] = s.cache;
            scratch[b] = s.scratch;
        }
        float[] X = model.forwardBatch(tokens, caches, scratch, o.indexTopk(), o.numerics(), pool);
        // Every sequence that wants logits shares one read of the output head.
        int[] offs = new int[B], which = new int[B];
        int n = 0, row = 0;
        for (int b = 0; b < B; b++) {
            Session s = sessions[b];
            row += tokens[b].length;
            int off = (row - 1) * s.width;
            System.arraycopy(X, off, s.lastStreams, 0, s.width);
            s.lastToken = tokens[b][tokens[b].length - 1];
            if (wantLogits[b]) {
                offs[n] = off;
                which[n++] = b;
            }
        }
        float[][] logits = new float[B][];
        float[][] rows = n == 0 ? new float[0][] : model.logits(X, offs, n, o.numerics());
        for (int i = 0; i < n; i++) logits[which[i]] = rows[i];
        return logits;
    }

    /** Feeds one token and returns the next-token logits. */
    public float[] decode(int token) { return prefill(new int[]{token}, false)[0]; }

    /**
     * The MTP block's draft logits for the token after {@code nextToken}, where nextToken is the token that
     * follows the last one processed (usually just sampled). Its cache advances by one position.
     */
    public float[] draft(int nextToken) {
        if (!opts.mtp()) throw new IllegalStateException("session was opened without MTP");
        if (lastToken < 0) throw new IllegalStateException("draft needs at least one processed token");
        if (mtpLength != cache.length() - 1) throw new IllegalStateException("MTP cache is not at the last position");
        float[] logits = new float[model.config().vocabSize()];
        model.mtpLogits(lastStreams, 0, nextToken, mtpLength, cache, logits, opts.numerics(), scratch);
        mtpLength++;
        return logits;
    }

    /** MTP position i needs token i+1: feed every position whose successor is now known. */
    private void catchUpMtp(int[] tokens, int off, int len, float[] X) {
        long start = cache.length() - len;
        for (long pos = mtpLength; pos < start + len - 1; pos++) {
            int next = tokens[off + (int) (pos + 1 - start)];
            if (pos < start) model.mtpLogits(lastStreams, 0, next, pos, cache, null, opts.numerics(), scratch);
            else model.mtpLogits(X, (int) (pos - start) * width, next, pos, cache, null, opts.numerics(), scratch);
            mtpLength = pos + 1;
        }
    }

    /** Makes this session an exact copy of {@code other} (same model and options). */
    public void copyFrom(Session other) {
        if (other.model != model) throw new IllegalArgumentException("sessions of different models");
        cache.copyFrom(other.cache);
        System.arraycopy(other.lastStreams, 0, lastStreams, 0, width);
        lastToken = other.lastToken;
        mtpLength = other.mtpLength;
    }

    /** Writes this session's state (cache, last streams, MTP position) to a snapshot stream. */
    public void write(java.io.DataOutputStream out) throws java.io.IOException {
        cache.write(out);
        for (float f : lastStreams) out.writeFloat(f);
        out.writeInt(lastToken);
        out.writeLong(mtpLength);
    }

    /** Replaces this session's state with a snapshot {@link #write} made for the same model and options. */
    public void read(java.io.DataInputStream in) throws java.io.IOException {
        cache.read(in);
        for (int i = 0; i < width; i++) lastStreams[i] = in.readFloat();
        lastToken = in.readInt();
        mtpLength = in.readLong();
        if (lastToken >= model.config().vocabSize() || mtpLength < 0 || mtpLength > cache.length())
            throw new java.io.IOException("snapshot's last token or MTP position is out of range");
    }

    @Override
    public String toString() { return "Session[position=" + position() + ", cache=" + cacheBytes() + " B, " + opts + "]"; }

    static int[] range(int[] a, int from, int to) { return Arrays.copyOfRange(a, from, to); }
}
