package dev.ds4j.model;

import dev.ds4j.kv.LayerCache;
import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Quant;
import dev.ds4j.tensor.Vec;

/**
 * The attention block shared by all three layer kinds (§4.3): low-rank queries, one shared key=value head
 * (MQA), a sliding window of the last {@code window} tokens, plus compressed entries — all of them for HCA,
 * the indexer's top-k for CSA — and a learned per-head sink, in one softmax. Since V = K the output carries
 * the keys' rotation on its rope dims, which is undone at the query position before the grouped output
 * projection.
 */
public final class Attention {
    private final Matrix wqA, wqB, wkv, woA, woB;
    private final float[] qNorm, kvNorm, sink;
    final Compressor compressor;   // null for sliding-only layers
    final Indexer indexer;         // CSA only
    private final RopeTable rope;
    private final int heads, headDim, nope, window, groups, oLora, ratio, configuredTopk;
    private final float eps, softmaxScale;

    public Attention(Matrix wqA, float[] qNorm, Matrix wqB, Matrix wkv, float[] kvNorm, Matrix woA, Matrix woB,
                     float[] sink, Compressor compressor, Indexer indexer, RopeTable rope, int ratio, ModelConfig c) {
        this.wqA = wqA;
        this.qNorm = qNorm;
        this.wqB = wqB;
        this.wkv = wkv;
        this.kvNorm = kvNorm;
        this.woA = woA;
        this.woB = woB;
        this.sink = sink;
        this.compressor = compressor;
        this.indexer = indexer;
        this.rope = rope;
        this.ratio = ratio;
        this.heads = c.nHeads();
        this.headDim = c.headDim();
        this.nope = c.nopeDim();
        this.window = c.window();
        this.groups = c.oGroups();
        this.oLora = c.oLoraRank();
        this.configuredTopk = c.indexTopk();
        this.eps = c.normEps();
        this.softmaxScale = (float) (1.0 / Math.sqrt(headDim));
    }

    public int ratio() { return ratio; }

    public long bytesPerToken() {
        long b = wqA.bytes() + wqB.bytes() + wkv.bytes() + woA.bytes() + woB.bytes();
        if (compressor != null) b += compressor.bytesPerToken();
        if (indexer != null) b += indexer.bytesPerToken();
        return b;
    }

    /**
     * The position-independent products of all rows, one read of each weight: the query latent qr (also the
     * indexer's input) with its norm, the queries q, the shared key/value kv, and the compressors' and the
     * indexer's projections. Input: rows.x (attn_norm output).
     */
    void project(Rows rows, Numerics num) {
        int n = rows.n, d = wqA.cols();
        int qLora = wqA.rows(), qWidth = heads * headDim;
        num.linear(wqA, rows.x, 0, d, n, rows.qr, 0, qLora, rows.lin);
        for (int r = 0; r < n; r++) RmsNorm.apply(rows.qr, r * qLora, qLora, qNorm, eps, rows.qr, r * qLora, num);
        num.linear(wqB, rows.qr, 0, qLora, n, rows.q, 0, qWidth, rows.lin);
        num.linear(wkv, rows.x, 0, d, n, rows.kv, 0, headDim, rows.lin);
        if (compressor != null) compressor.project(rows.x, d, n, rows.ckv, rows.cgate);
        if (indexer != null) indexer.project(rows, num);
    }

    /**
     * The cache-dependent part for row r, the token at {@code pos} (which must be the next position of
     * {@code cache}): RoPE, the cache writes, the compressed entries this token completes, the indexer's
     * choice and the softmax over window, compressed entries and sink. Leaves the head outputs, de-rotated,
     * in rows.o. {@code topk} ≤ 0 means the configured index_topk.
     */
    void attend(Rows rows, int r, long pos, LayerCache cache, int topk, int layer, Observer obs, Numerics num, Scratch s) {
        int qWidth = heads * headDim, qOff0 = r * qWidth;
        float[] q = rows.q, kv = rows.kv;
        rope.angles(pos, s.cos, s.sin);
        for (int h = 0; h < heads; h++) {
            RmsNorm.applyUnweighted(q, qOff0 + h * headDim, headDim, eps, num);
            rope.apply(q, qOff0 + h * headDim, headDim, s.cos, s.sin, false, num);
        }
        // Shared key/value: into the ring at its position (the slot it replaces is out of every later window).
        int kvOff = r * headDim;
        RmsNorm.apply(kv, kvOff, headDim, kvNorm, eps, kv, kvOff, num);
        rope.apply(kv, kvOff, headDim, s.cos, s.sin, false, num);
        if (num.official()) Quant.fp8Sim(kv, kvOff, nope, 64);
        cache.window.put(pos, kv, kvOff);

        // Compressed entries that this token completes become visible to it and to every later query.
        if (compressor != null && compressor.accept(rows.ckv, rows.cgate, r, pos, cache.compressor, s.entry, num))
            cache.compressed.append(s.entry, 0);
        if (indexer != null && indexer.compressor.accept(rows.ikv, rows.igate, r, pos, cache.indexCompressor, s.indexEntry, num))
            cache.indexKeys.append(s.indexEntry, 0);

        int visible = ratio > 0 ? (int) ((pos + 1) / ratio) : 0;
        int[] picks = null;
        int nPicked = visible;
        if (indexer != null) {
            int k = Math.min(topk > 0 ? topk : configuredTopk, visible);
            float[] scores = s.indexScores(visible);
            picks = s.picks(Math.max(k, 1));
            if (visible > 0) {
                indexer.score(rows, r, s.cos, s.sin, cache.indexKeys, visible, scores, num, s);
                Indexer.topK(scores, visible, k, picks);
            }
            nPicked = k;
            obs.indexPicks(layer, pos, picks, k, scores, visible);
        }

        // One softmax per head over window keys (in position order), compressed keys and the sink. Scores are
        // split across the cores by key (each key decoded from the cache's layout once, for every head), the
        // weighted sum by head (each head's sum runs in key order): no result depends on the split.
        long first = Math.max(0, pos - window + 1);
        int nWin = (int) (pos - first + 1);
        int n = nWin + nPicked;
        float[] sc = s.attnScores(heads * n);      // [head][key]: logits, then the probabilities used in P·V
        float[] o = rows.o;
        int[] picked = picks;
        long flops = (long) n * heads * headDim;
        Vec.parallel(n, 8, flops, (i0, i1) -> {
            float[] key = KEY.get().size(headDim);
            for (int i = i0; i < i1; i++) {
                loadKey(cache, i, nWin, first, picked, key);
                for (int h = 0; h < heads; h++) sc[h * n + i] = Vec.dot(q, qOff0 + h * headDim, key, 0, headDim) * softmaxScale;
            }
        });
        for (int h = 0; h < heads; h++) {
            int row = h * n;
            float max = sink[h];
            for (int i = 0; i < n; i++) max = Math.max(max, sc[row + i]);
            float denom = (float) Math.exp(sink[h] - max);
            for (int i = 0; i < n; i++) {
                float p = (float) Math.exp(sc[row + i] - max);
                denom += p;
                sc[row + i] = num.act(p);      // official: BF16 probabilities in P·V, fp32 denominator
            }
            s.headInv[h] = 1f / denom;
        }
        java.util.Arrays.fill(o, qOff0, qOff0 + qWidth, 0f);
        Vec.parallel(heads, 1, flops, (h0, h1) -> {
            float[] key = KEY.get().size(headDim);
            for (int i = 0; i < n; i++) {
                loadKey(cache, i, nWin, first, picked, key);
                for (int h = h0; h < h1; h++) Vec.axpy(sc[h * n + i], key, 0, o, qOff0 + h * headDim, headDim);
            }
        });
        for (int h = 0; h < heads; h++) {
            int qOff = qOff0 + h * headDim;
            float inv = s.headInv[h];
            for (int c = 0; c < headDim; c++) o[qOff + c] = num.act(o[qOff + c] * inv);
            rope.apply(o, qOff, headDim, s.cos, s.sin, true, num);
        }
    }

    /** A per-thread buffer for one decoded key. */
    private static final class KeyBuffer {
        private float[] key = new float[0];

        float[] size(int n) {
            if (key.length < n) key = new float[n];
            return key;
        }
    }

    private static final ThreadLocal<KeyBuffer> KEY = ThreadLocal.withInitial(KeyBuffer::new);

    /**
     * Grouped output projection of all rows: group g's heads (concatenated) through rows g·oLora.. of wo_a,
     * then wo_b. Output: rows.sub (d per row).
     */
    void output(Rows rows, Numerics num) {
        int n = rows.n, qWidth = heads * headDim, zWidth = groups * oLora, groupWidth = heads / groups * headDim;
        for (int g = 0; g < groups; g++)
            woA.matmul(rows.o, g * groupWidth, qWidth, n, rows.z, 0, zWidth, g * oLora, (g + 1) * oLora);
        num.act(rows.z, 0, n * zWidth);
        num.linear(woB, rows.z, 0, zWidth, n, rows.sub, 0, woB.rows(), rows.lin);
    }

    /** Key i of the softmax: window position first+i for i < nWin, then the picked (or every) compressed entry. */
    private static void loadKey(LayerCache cache, int i, int nWin, long first, int[] picks, float[] key) {
        if (i < nWin) cache.window.get(first + i, key, 0);
        else cache.compressed.get(picks != null ? picks[i - nWin] : i - nWin, key, 0);
    }
}
