package dev.ds4j.model;

/**
 * Working buffers for one forward pass, sized once from the config so the per-token loop allocates nothing
 * (the score buffers grow with the context, geometrically).
 */
public final class Scratch {
    final float[] x, collapsed, sub, post, comb, mix;
    final float[] qr, q, kv, entry, indexEntry, compTmp, o, z, lin;
    final float[] indexQ, indexW, cos, sin;
    /** Cache entries decoded from the cache's layout: one attention key (= value), four indexer keys. */
    final float[] key, indexKey;
    /** Per head: 1 / softmax denominator. */
    final float[] headInv;
    final float[] routerLogits, routerScores, selScores, gate, up, expertOut, moeAcc;
    final int[] experts;
    float[] indexScores = new float[64], attnScores = new float[256];
    int[] picks = new int[64];

    private final ModelConfig config;
    private Rows rows;

    /** The row buffers of this scratch's forward passes (made on first use). */
    Rows rows() {
        if (rows == null) rows = new Rows(config);
        return rows;
    }

    public Scratch(ModelConfig c) {
        config = c;
        int d = c.dim(), hd = c.headDim(), hc = c.hcMult();
        x = new float[d];
        collapsed = new float[d];
        sub = new float[d];
        post = new float[hc];
        comb = new float[hc * hc];
        mix = new float[c.hcMixDim()];
        qr = new float[c.qLoraRank()];
        q = new float[c.nHeads() * hd];
        kv = new float[hd];
        entry = new float[hd];
        indexEntry = new float[c.indexHeadDim()];
        compTmp = new float[4 * Math.max(hd, c.indexHeadDim())];
        o = new float[c.nHeads() * hd];
        z = new float[c.oGroups() * c.oLoraRank()];
        int maxCols = Math.max(Math.max(d, c.qLoraRank()), Math.max(c.oGroups() * c.oLoraRank(), c.moeInterDim()));
        lin = new float[Math.max(maxCols, c.nHeads() * hd)];
        indexQ = new float[c.indexHeads() * c.indexHeadDim()];
        indexW = new float[c.indexHeads()];
        key = new float[hd];
        indexKey = new float[4 * c.indexHeadDim()];
        headInv = new float[c.nHeads()];
        cos = new float[c.ropeDim() / 2];
        sin = new float[c.ropeDim() / 2];
        routerLogits = new float[c.nRoutedExperts()];
        routerScores = new float[c.nRoutedExperts()];
        selScores = new float[c.nRoutedExperts()];
        experts = new int[c.nActivatedExperts()];
        gate = new float[c.moeInterDim()];
        up = new float[c.moeInterDim()];
        expertOut = new float[d];
        moeAcc = new float[d];
    }

    float[] indexScores(int n) {
        if (indexScores.length < n) indexScores = new float[Math.max(n, indexScores.length * 2)];
        return indexScores;
    }

    float[] attnScores(int n) {
        if (attnScores.length < n) attnScores = new float[Math.max(n, attnScores.length * 2)];
        return attnScores;
    }

    int[] picks(int n) {
        if (picks.length < n) picks = new int[Math.max(n, picks.length * 2)];
        return picks;
    }
}
