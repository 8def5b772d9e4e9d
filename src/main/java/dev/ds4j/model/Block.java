package dev.ds4j.model;

import dev.ds4j.kv.LayerCache;

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
    private final int streamsLen;

    Block(int index, float[] attnNorm, float[] ffnNorm, HyperConnection hcAttn, HyperConnection hcFfn, Attention attn, MoE moe, ModelConfig c) {
        this.index = index;
        this.attnNorm = attnNorm;
        this.ffnNorm = ffnNorm;
        this.hcAttn = hcAttn;
        this.hcFfn = hcFfn;
        this.attn = attn;
        this.moe = moe;
        this.eps = c.normEps();
        this.streamsLen = c.hcMult() * c.dim();
    }

    public Attention attention() { return attn; }
    public MoE moe() { return moe; }

    /** Weight bytes one token reads in this block: both hyper-connections, norms, attention, router and the experts it uses. */
    public long bytesPerToken() { return hcAttn.bytes() + hcFfn.bytes() + 4L * (attnNorm.length + ffnNorm.length) + attn.bytesPerToken() + moe.bytesPerToken(); }

    /**
     * Advances the streams of the token at {@code pos} (X[xOff .. xOff+hc·d)) through this block, in place.
     * {@code tmp} holds hc·d floats.
     */
    void forward(float[] X, int xOff, int token, long pos, LayerCache cache, int topk, Observer obs, Numerics num,
                 Scratch s, float[] tmp) {
        int d = attnNorm.length;
        hcAttn.pre(X, xOff, s.collapsed, s.post, s.comb, s.mix, num);
        RmsNorm.apply(s.collapsed, 0, d, attnNorm, eps, s.x, 0, num);
        attn.forward(s.x, pos, cache, s.sub, topk, index, obs, num, s);
        hcAttn.post(s.sub, X, xOff, s.post, s.comb, tmp, 0, num);
        System.arraycopy(tmp, 0, X, xOff, streamsLen);

        hcFfn.pre(X, xOff, s.collapsed, s.post, s.comb, s.mix, num);
        RmsNorm.apply(s.collapsed, 0, d, ffnNorm, eps, s.x, 0, num);
        moe.forward(s.x, token, s.sub, num, s);
        hcFfn.post(s.sub, X, xOff, s.post, s.comb, tmp, 0, num);
        System.arraycopy(tmp, 0, X, xOff, streamsLen);
    }
}
