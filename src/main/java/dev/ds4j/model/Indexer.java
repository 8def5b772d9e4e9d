package dev.ds4j.model;

import dev.ds4j.kv.CompressedCache;
import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Quant;
import dev.ds4j.tensor.Vec;

/**
 * Lightning indexer of a CSA layer (§4.6): scores every visible compressed entry j for the query at t as
 * Σ_h w_h·ReLU(q_h·K_j) with Hi small heads, and keeps the top-k. Its keys come from its own compressor.
 */
public final class Indexer {
    private final Matrix wqB;           // [Hi·Di, q_lora]
    private final Matrix weightsProj;   // [Hi, d]
    final Compressor compressor;
    private final int heads, headDim;
    private final float weightScale;
    private final RopeTable rope;

    public Indexer(Matrix wqB, Matrix weightsProj, Compressor compressor, ModelConfig c, RopeTable rope) {
        this.wqB = wqB;
        this.weightsProj = weightsProj;
        this.compressor = compressor;
        this.heads = c.indexHeads();
        this.headDim = c.indexHeadDim();
        this.weightScale = (float) (1.0 / Math.sqrt(headDim) / Math.sqrt(heads));
        this.rope = rope;
    }

    public long bytesPerToken() { return wqB.bytes() + weightsProj.bytes() + compressor.bytesPerToken(); }

    /**
     * The position-independent products of all rows: index queries from the query latents (rows.qr) into
     * rows.iq, head weights from the attn_norm outputs (rows.x) into rows.iw, and this indexer's compressor
     * projections.
     */
    void project(Rows rows, Numerics num) {
        int n = rows.n, qLora = wqB.cols(), d = weightsProj.cols();
        num.linear(wqB, rows.qr, 0, qLora, n, rows.iq, 0, heads * headDim, rows.lin);
        num.linear(weightsProj, rows.x, 0, d, n, rows.iw, 0, heads, rows.lin);
        compressor.project(rows.x, d, n, rows.ikv, rows.igate);
    }

    /**
     * Scores the first {@code visible} entries of {@code keys} for the query of row r (see {@link #project})
     * and writes them to {@code scores[0..visible)}. cos/sin are the query position's angles in this layer's
     * table (the attention has them already).
     */
    void score(Rows rows, int r, float[] cos, float[] sin, CompressedCache keys, int visible, float[] scores,
               Numerics num, Scratch s) {
        float[] q = s.indexQ, w = s.indexW;
        System.arraycopy(rows.iq, r * heads * headDim, q, 0, heads * headDim);
        for (int h = 0; h < heads; h++) {
            rope.apply(q, h * headDim, headDim, cos, sin, false, num);
            if (num.official()) {
                Quant.hadamard(q, h * headDim, headDim);
                Quant.bf16(q, h * headDim, headDim);
                Quant.fp4Sim(q, h * headDim, headDim);
            }
        }
        for (int h = 0; h < heads; h++) w[h] = num.act(rows.iw[r * heads + h] * weightScale);
        // Tiles of T keys (the vector width), decoded once from the cache's layout (FP4 in official) and
        // transposed so each lane scores one key for every head; tiles are split across the cores. This is
        // the O(visible) part of a query: at 1M tokens 262,144 keys per CSA layer, 2.1 G multiply-adds.
        int T = Vec.tileKeys(), D = headDim, tiles = (visible + T - 1) / T;
        boolean round = num.official();
        Vec.parallel(tiles, 8, (long) visible * heads * D, (t0, t1) -> {
            TileBuffers tb = TILES.get().size(T, D);
            for (int t = t0; t < t1; t++) {
                int j0 = t * T, m = Math.min(T, visible - j0);
                for (int u = 0; u < m; u++) {
                    keys.get(j0 + u, tb.key, 0);
                    for (int i = 0; i < D; i++) tb.tile[i * T + u] = tb.key[i];
                }
                for (int u = m; u < T; u++) for (int i = 0; i < D; i++) tb.tile[i * T + u] = 0f;
                if (m == T) Vec.scoreTile(q, w, heads, D, tb.tile, round, scores, j0);
                else {
                    Vec.scoreTile(q, w, heads, D, tb.tile, round, tb.out, 0);
                    System.arraycopy(tb.out, 0, scores, j0, m);
                }
            }
        });
    }

    /** Per-thread buffers of the scoring loop: one decoded key, one transposed tile, one tile of scores. */
    private static final class TileBuffers {
        float[] key = new float[0], tile = new float[0], out = new float[0];

        TileBuffers size(int T, int D) {
            if (tile.length < T * D) {
                key = new float[D];
                tile = new float[T * D];
                out = new float[T];
            }
            return this;
        }
    }

    private static final ThreadLocal<TileBuffers> TILES = ThreadLocal.withInitial(TileBuffers::new);

    /**
     * The indices of the k highest scores among the first n (k ≤ n), written to picks[0..k) best first. Equal
     * scores go to the lower index, so a pass is deterministic whatever the chunking. O(n log k): a bounded
     * min-heap of the k best so far (its root the worst of them), then a heap sort of those k.
     */
    public static void topK(float[] scores, int n, int k, int[] picks) {
        if (k <= 0) return;
        int size = 0;
        for (int j = 0; j < n; j++) {
            if (size < k) {
                picks[size] = j;
                siftUp(scores, picks, size++);
            } else if (scores[j] > scores[picks[0]]) {  // an equal score never displaces: its index is higher
                picks[0] = j;
                siftDown(scores, picks, 0, k);
            }
        }
        // Heap sort: the worst goes to the end each time, leaving picks[0..k) best first.
        for (int end = k - 1; end > 0; end--) {
            int t = picks[0];
            picks[0] = picks[end];
            picks[end] = t;
            siftDown(scores, picks, 0, end);
        }
    }

    /** a ranks below b: a lower score, or an equal score at a higher index. */
    private static boolean worse(float[] scores, int a, int b) {
        return scores[a] < scores[b] || (scores[a] == scores[b] && a > b);
    }

    private static void siftUp(float[] scores, int[] heap, int i) {
        int x = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!worse(scores, x, heap[parent])) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = x;
    }

    private static void siftDown(float[] scores, int[] heap, int i, int size) {
        int x = heap[i];
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) break;
            if (c + 1 < size && worse(scores, heap[c + 1], heap[c])) c++;
            if (!worse(scores, heap[c], x)) break;
            heap[i] = heap[c];
            i = c;
        }
        heap[i] = x;
    }
}
