package dev.ds4j.model;

import dev.ds4j.tensor.Vec;

/**
 * One transformer block: attention and MoE sub-layers, each wrapped in its own hyper-connection over the hc
 * residual streams (§3 step 3). The MTP block is a Block too.
 */
public final class Block {
    final int index;
    final float[] attnNorm, ffnNorm;
    final HyperConnection hcAttn, hcFfn;
    final Attention attn;
    final MoE moe;
    private final float eps;
    private final int streamsWidth;

    Block(int index, float[] attnNorm, float[] ffnNorm, HyperConnection hcAttn, HyperConnection hcFfn, Attention attn, MoE moe, ModelConfig c) {
        this.index = index;
        this.attnNorm = attnNorm;
        this.ffnNorm = ffnNorm;
        this.hcAttn = hcAttn;
        this.hcFfn = hcFfn;
        this.attn = attn;
        this.moe = moe;
        this.eps = c.normEps();
        this.streamsWidth = c.hcMult() * c.dim();
    }

    public Attention attention() { return attn; }
    public MoE moe() { return moe; }

    /** Weight bytes one token reads in this block: both hyper-connections, norms, attention, router and the experts it uses. */
    public long bytesPerToken() { return hcAttn.bytes() + hcFfn.bytes() + 4L * (attnNorm.length + ffnNorm.length) + attn.bytesPerToken() + moe.bytesPerToken(); }

    /**
     * Advances the streams of every row (X[r·hc·d ..), in place) through this block, whose cache is layer
     * {@link #index} of each sequence's cache (the MTP block's is the one after the main layers). Weight products run once for all rows; the attention's
     * cache-dependent part runs row by row in position order, one sequence per task on {@code pool} (null:
     * this thread), each with its own {@link Scratch}.
     */
    void forward(float[] X, Rows rows, int topk, Observer obs, Numerics num, java.util.concurrent.ExecutorService pool) {
        int d = attnNorm.length, n = rows.n;
        long rowWork = (long) n * streamsWidth * 8;
        hcAttn.pre(X, rows, num);
        Vec.parallel(n, 1, rowWork, (r0, r1) -> {
            for (int r = r0; r < r1; r++) RmsNorm.apply(rows.sub, r * d, d, attnNorm, eps, rows.x, r * d, num);
        });
        attn.project(rows, num);
        Parallel.forEach(rows.seqs > 1 ? pool : null, rows.seqs, q -> {
            var cache = rows.caches[q].layer(index);
            for (int r = rows.seqStart[q]; r < rows.seqStart[q + 1]; r++)
                attn.attend(rows, r, rows.pos[r], cache, topk, index, obs, num, rows.scratch[q]);
        });
        attn.output(rows, num);
        Vec.parallel(n, 1, rowWork, (r0, r1) -> {
            float[] tmp = streamsBuffer(streamsWidth);
            for (int r = r0; r < r1; r++) hcAttn.post(X, rows, r, tmp, num);
        });

        hcFfn.pre(X, rows, num);
        Vec.parallel(n, 1, rowWork, (r0, r1) -> {
            for (int r = r0; r < r1; r++) RmsNorm.apply(rows.sub, r * d, d, ffnNorm, eps, rows.x, r * d, num);
        });
        moe.forward(rows, num);
        Vec.parallel(n, 1, rowWork, (r0, r1) -> {
            float[] tmp = streamsBuffer(streamsWidth);
            for (int r = r0; r < r1; r++) hcFfn.post(X, rows, r, tmp, num);
        });
    }

    /** A per-thread buffer for one row's new streams (rows are split across threads). */
    private static float[] streamsBuffer(int width) {
        float[] b = STREAMS.get();
        if (b.length < width) STREAMS.set(b = new float[width]);
        return b;
    }

    private static final ThreadLocal<float[]> STREAMS = ThreadLocal.withInitial(() -> new float[0]);
}
