package dev.ds4j.model;

import dev.ds4j.kv.CompressedCache;
import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Quant;

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
        // Four keys at a time, decoded once from the cache's layout (FP4 in official) and shared by every head:
        // four independent sums hide the add latency, and each key's sum keeps its own order (bit-identical
        // to one key at a time). This loop is O(visible) per query: at 1M tokens 262,144 keys per CSA layer.
        float[] k = s.indexKey;
        int D = headDim, j = 0;
        for (; j + 4 <= visible; j += 4) {
            for (int u = 0; u < 4; u++) keys.get(j + u, k, u * D);
            float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
            for (int h = 0; h < heads; h++) {
                int qOff = h * D;
                float d0 = 0, d1 = 0, d2 = 0, d3 = 0;
                for (int i = 0; i < D; i++) {
                    float qi = q[qOff + i];
                    d0 += qi * k[i];
                    d1 += qi * k[D + i];
                    d2 += qi * k[2 * D + i];
                    d3 += qi * k[3 * D + i];
                }
                float wh = w[h];
                d0 = num.act(d0);
                d1 = num.act(d1);
                d2 = num.act(d2);
                d3 = num.act(d3);
                if (d0 > 0) t0 += num.act(wh * d0);
                if (d1 > 0) t1 += num.act(wh * d1);
                if (d2 > 0) t2 += num.act(wh * d2);
                if (d3 > 0) t3 += num.act(wh * d3);
            }
            scores[j] = num.act(t0);
            scores[j + 1] = num.act(t1);
            scores[j + 2] = num.act(t2);
            scores[j + 3] = num.act(t3);
        }
        for (; j < visible; j++) {
            keys.get(j, k, 0);
            float total = 0;
            for (int h = 0; h < heads; h++) {
                int qOff = h * D;
                float dot = 0;
                for (int i = 0; i < D; i++) dot += q[qOff + i] * k[i];
                dot = num.act(dot);
                if (dot > 0) total += num.act(w[h] * dot);
            }
            scores[j] = num.act(total);
        }
    }

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
