package dev.ds4j.model;

import dev.ds4j.kv.KvCache;

/**
 * A group of token rows that pass through the blocks together: a prefill chunk of one sequence, or the
 * tokens of several sequences in one batched step. Every weight product of a layer runs once for all rows
 * (one read of the weights, {@code Matrix.matmul}); only the parts that depend on the cache — RoPE at the
 * row's position, the cache writes, the compressors, the indexer and the softmax — run row by row, in
 * position order within a sequence. Each row's result is bit-identical to running its token alone, because
 * a matmul row is bit-identical to a matvec and the per-row parts are the same code.
 *
 * <p>Rows of one sequence are consecutive. The buffers are row-major ([row][width]) and grow on demand;
 * one {@code Rows} lives in a session's {@link Scratch}, so a steady decode allocates nothing.
 */
public final class Rows {
    private final ModelConfig c;
    /** Rows in use. */
    int n;
    int[] token = new int[0];
    long[] pos = new long[0];
    /** Sequences in use; sequence s owns rows [seqStart[s], seqStart[s+1]). */
    int seqs;
    int[] seqStart = new int[1];
    KvCache[] caches = new KvCache[0];
    Scratch[] scratch = new Scratch[0];

    // Row-major activations. Widths: d, q_lora, heads·head_dim, head_dim, …
    float[] x, sub, qr, q, kv, o, z, post, comb, mix, ckv, cgate, ikv, igate, iq, iw, lin;
    // MoE: router logits, chosen experts and their weights per row, the rows an expert serves, its buffers.
    float[] routerLogits, selScores, acc, xg, g, u, yg;
    int[] experts, expertRows, expertCount, expertFill, ids, rowTargets;
    float[] routerScores, biased, rowWeights;
    private int capacity = -1;

    Rows(ModelConfig c) { this.c = c; }

    /** Sizes the buffers for n rows in {@code seqs} sequences; contents are undefined. */
    void reset(int n, int seqs) {
        this.n = n;
        this.seqs = seqs;
        if (token.length < n) {
            token = new int[n];
            pos = new long[n];
        }
        if (seqStart.length < seqs + 1) {
            seqStart = new int[seqs + 1];
            caches = new KvCache[seqs];
            scratch = new Scratch[seqs];
        }
        if (n > capacity) grow(Math.max(n, capacity < 0 ? 1 : Math.min(2 * capacity, Model.MAX_ROWS)));
    }

    private void grow(int rows) {
        int d = c.dim(), hd = c.headDim(), hc = c.hcMult(), heads = c.nHeads(), id = c.indexHeadDim();
        x = new float[rows * d];
        sub = new float[rows * d];
        qr = new float[rows * c.qLoraRank()];
        q = new float[rows * heads * hd];
        kv = new float[rows * hd];
        o = new float[rows * heads * hd];
        z = new float[rows * c.oGroups() * c.oLoraRank()];
        post = new float[rows * hc];
        comb = new float[rows * hc * hc];
        mix = new float[rows * c.hcMixDim()];
        ckv = new float[rows * 2 * hd];
        cgate = new float[rows * 2 * hd];
        ikv = new float[rows * 2 * id];
        igate = new float[rows * 2 * id];
        iq = new float[rows * c.indexHeads() * id];
        iw = new float[rows * c.indexHeads()];
        int maxCols = Math.max(Math.max(d, c.qLoraRank()), Math.max(c.oGroups() * c.oLoraRank(), c.moeInterDim()));
        lin = new float[rows * maxCols];
        int k = c.nActivatedExperts();
        routerLogits = new float[rows * c.nRoutedExperts()];
        selScores = new float[rows * k];
        experts = new int[rows * k];
        expertRows = new int[rows * k];
        expertCount = new int[c.nRoutedExperts() + 1];
        expertFill = new int[c.nRoutedExperts()];
        ids = new int[k];
        routerScores = new float[c.nRoutedExperts()];
        biased = new float[c.nRoutedExperts()];
        rowTargets = new int[rows];
        rowWeights = new float[rows];
        acc = new float[rows * d];
        xg = new float[rows * d];
        g = new float[rows * c.moeInterDim()];
        u = new float[rows * c.moeInterDim()];
        yg = new float[rows * d];
        capacity = rows;
    }
}
