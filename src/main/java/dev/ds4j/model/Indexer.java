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
     * Scores the first {@code visible} entries of {@code keys} for one query and writes them to
     * {@code scores[0..visible)}. qr is the query's low-rank latent (q_norm output), x the attn_norm output;
     * cos/sin are the query position's angles in this layer's table (the attention has them already).
     */
    public void score(float[] qr, int qrOff, float[] x, int xOff, float[] cos, float[] sin, CompressedCache keys, int visible,
                      float[] scores, Numerics num, Scratch s) {
        float[] q = s.indexQ, w = s.indexW;
        num.linear(wqB, qr, qrOff, q, s.lin);
        for (int h = 0; h < heads; h++) {
            rope.apply(q, h * headDim, headDim, cos, sin, false, num);
            if (num.official()) {
                Quant.hadamard(q, h * headDim, headDim);
                Quant.bf16(q, h * headDim, headDim);
                Quant.fp4Sim(q, h * headDim, headDim);
            }
        }
        num.linear(weightsProj, x, xOff, w, s.lin);
        for (int h = 0; h < heads; h++) w[h] = num.act(w[h] * weightScale);
        float[] k = keys.data();
        for (int j = 0; j < visible; j++) {
            int kOff = j * headDim;
            float total = 0;
            for (int h = 0; h < heads; h++) {
                int qOff = h * headDim;
                float dot = 0;
                for (int i = 0; i < headDim; i++) dot += q[qOff + i] * k[kOff + i];
                dot = num.act(dot);
                if (dot > 0) total += num.act(w[h] * dot);
            }
            scores[j] = num.act(total);
        }
    }

    /**
     * The indices of the k highest scores among the first n (k ≤ n), written to picks[0..k). Equal scores
     * go to the lower index, so a pass is deterministic whatever the chunking.
     */
    public static void topK(float[] scores, int n, int k, int[] picks) {
        // Partial selection into a small sorted buffer: k is at most a few thousand, n up to 256K.
        int size = 0;
        for (int j = 0; j < n; j++) {
            float v = scores[j];
            if (size == k && !(v > scores[picks[size - 1]])) continue;
            int i = size < k ? size++ : size - 1;
            while (i > 0 && v > scores[picks[i - 1]]) {
                picks[i] = picks[i - 1];
                i--;
            }
            picks[i] = j;
        }
    }
}
