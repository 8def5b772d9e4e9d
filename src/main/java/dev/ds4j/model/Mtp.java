package dev.ds4j.model;

import dev.ds4j.kv.KvCache;
import dev.ds4j.tensor.Matrix;

/**
 * The multi-token-prediction block (§4.10): from the main model's residual streams at position i (before
 * its HC head) and the embedding of token i+1, a sliding-window block predicts token i+2. It shares the
 * main embedding and head; it has its own KV ring, so it must see every position in order.
 */
public final class Mtp {
    final Block block;
    private final Matrix eProj, hProj;
    private final float[] enorm, hnorm, norm;
    private final HyperConnection.Head hcHead;
    private final int d, hc;
    private final float eps;

    Mtp(Block block, Matrix eProj, Matrix hProj, float[] enorm, float[] hnorm, float[] norm, HyperConnection.Head hcHead, ModelConfig c) {
        this.block = block;
        this.eProj = eProj;
        this.hProj = hProj;
        this.enorm = enorm;
        this.hnorm = hnorm;
        this.norm = norm;
        this.hcHead = hcHead;
        this.d = c.dim();
        this.hc = c.hcMult();
        this.eps = c.normEps();
    }

    public Block block() { return block; }

    /**
     * Draft logits for token i+2 from the main streams at position i ({@code mainStreams}, hc·d floats) and
     * the token at i+1. Advances {@code cache}, which must be at position i.
     */
    void forward(Model m, float[] mainStreams, int mainOff, int nextToken, long pos, KvCache cache, float[] logits,
                 Numerics num, Scratch s) {
        float[] e = new float[d], h = new float[d], proj = new float[d];
        float[] X = new float[hc * d];
        m.embedding(nextToken, e);
        RmsNorm.apply(e, 0, d, enorm, eps, e, 0, num);
        float[] eOut = new float[d];
        num.linear(eProj, e, 0, eOut, s.lin);
        for (int j = 0; j < hc; j++) {
            RmsNorm.apply(mainStreams, mainOff + j * d, d, hnorm, eps, h, 0, num);
            num.linear(hProj, h, 0, proj, s.lin);
            for (int i = 0; i < d; i++) X[j * d + i] = num.act(proj[i] + eOut[i]);
        }
        Rows rows = s.rows();
        rows.reset(1, 1);
        rows.seqStart[0] = 0;
        rows.seqStart[1] = 1;
        rows.caches[0] = cache;
        rows.scratch[0] = s;
        rows.token[0] = nextToken;
        rows.pos[0] = pos;
        block.forward(X, rows, 0, Observer.NONE, num, null);
        if (logits == null) return;   // only the cache was wanted (catching up on known positions)
        float[] y = new float[d];
        hcHead.collapse(X, 0, y, num);
        RmsNorm.apply(y, 0, d, norm, eps, y, 0, num);
        m.head(y, logits);
    }
}
