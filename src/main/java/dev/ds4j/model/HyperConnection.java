package dev.ds4j.model;

import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Vec;

/**
 * Manifold-constrained hyper-connection around one sub-layer (§4.2). The residual is hc streams of d
 * channels; a 1-layer perceptron on the normalised streams gives pre weights (collapse hc → 1 input),
 * post weights (expand the sub-layer output back to hc) and a comb matrix that Sinkhorn makes doubly
 * stochastic, so mixing the residual streams cannot blow up their norm over depth.
 */
public final class HyperConnection {
    private final Matrix fn;        // [(2+hc)·hc, hc·d]
    private final float[] base;     // [(2+hc)·hc]
    private final float[] scale;    // [3]
    private final int hc, d, iters;
    private final float eps, normEps;

    /** Weight bytes read per token (the mixing matrix; base and scale are tiny). */
    long bytes() { return fn.bytes() + 4L * (base.length + scale.length); }

    public HyperConnection(Matrix fn, float[] base, float[] scale, ModelConfig c) {
        this.fn = fn;
        this.base = base;
        this.scale = scale;
        this.hc = c.hcMult();
        this.d = c.dim();
        this.iters = c.hcSinkhornIters();
        this.eps = c.hcEps();
        this.normEps = c.normEps();
    }

    /**
     * For every row of {@code rows}, from its streams X[r·hc·d ..): writes the collapsed input
     * x = Σ_j pre_j·X_j into rows.sub, the post weights into rows.post (hc per row) and comb into rows.comb
     * (hc·hc per row, row j, column k). The mixing product runs once for all rows.
     */
    void pre(float[] X, Rows rows, Numerics num) {
        int n = rows.n, width = hc * d, mixDim = fn.rows();
        float[] mix = rows.mix;
        fn.matmul(X, 0, width, n, mix, 0, mixDim, 0, mixDim);
        Vec.parallel(n, 1, (long) n * width * 8, (r0, r1) -> preRows(X, rows, r0, r1, num));
    }

    /** The per-row part of {@link #pre} for rows [r0, r1): independent rows, so any split gives the same bits. */
    private void preRows(float[] X, Rows rows, int r0, int r1, Numerics num) {
        int width = hc * d, mixDim = fn.rows();
        float[] mix = rows.mix;
        for (int r = r0; r < r1; r++) {
            int xOff = r * width, m = r * mixDim, po = r * hc, co = r * hc * hc;
            float rs = RmsNorm.rsqrtMeanSquare(X, xOff, width, normEps);
            for (int i = 0; i < mixDim; i++) mix[m + i] *= rs;
            float[] post = rows.post, comb = rows.comb;
            for (int j = 0; j < hc; j++) post[po + j] = 2f * sigmoid(mix[m + hc + j] * scale[1] + base[hc + j]);
            // comb: row softmax + eps, then alternate column / row normalisation, ending on a column step.
            for (int j = 0; j < hc; j++) {
                float max = Float.NEGATIVE_INFINITY;
                for (int k = 0; k < hc; k++) {
                    int i = j * hc + k;
                    comb[co + i] = mix[m + 2 * hc + i] * scale[2] + base[2 * hc + i];
                    max = Math.max(max, comb[co + i]);
                }
                float sum = 0;
                for (int k = 0; k < hc; k++) sum += comb[co + j * hc + k] = (float) Math.exp(comb[co + j * hc + k] - max);
                for (int k = 0; k < hc; k++) comb[co + j * hc + k] = comb[co + j * hc + k] / sum + eps;
            }
            normaliseColumns(comb, co);
            for (int it = 1; it < iters; it++) {
                normaliseRows(comb, co);
                normaliseColumns(comb, co);
            }
            // pre is not normalised to sum 1 (§4.2); mix[m .. m+hc) is reused to hold it.
            for (int j = 0; j < hc; j++) mix[m + j] = sigmoid(mix[m + j] * scale[0] + base[j]) + eps;
            int out = r * d;
            for (int i = 0; i < d; i++) {
                float acc = 0;
                for (int j = 0; j < hc; j++) acc += mix[m + j] * X[xOff + j * d + i];
                rows.sub[out + i] = num.act(acc);
            }
        }
    }

    /**
     * New streams of row r, in place: Y_k = post_k·f + Σ_j C[j][k]·X_j (column k of C feeds stream k), with
     * f = rows.sub of row r. {@code tmp} holds hc·d floats.
     */
    void post(float[] X, Rows rows, int r, float[] tmp, Numerics num) {
        int xOff = r * hc * d, po = r * hc, co = r * hc * hc, fo = r * d;
        for (int k = 0; k < hc; k++) {
            for (int i = 0; i < d; i++) {
                float acc = rows.post[po + k] * rows.sub[fo + i];
                for (int j = 0; j < hc; j++) acc += rows.comb[co + j * hc + k] * X[xOff + j * d + i];
                tmp[k * d + i] = num.act(acc);
            }
        }
        System.arraycopy(tmp, 0, X, xOff, hc * d);
    }

    private void normaliseRows(float[] c, int o) {
        for (int j = 0; j < hc; j++) {
            float s = 0;
            for (int k = 0; k < hc; k++) s += c[o + j * hc + k];
            for (int k = 0; k < hc; k++) c[o + j * hc + k] /= s + eps;
        }
    }

    private void normaliseColumns(float[] c, int o) {
        for (int k = 0; k < hc; k++) {
            float s = 0;
            for (int j = 0; j < hc; j++) s += c[o + j * hc + k];
            for (int j = 0; j < hc; j++) c[o + j * hc + k] /= s + eps;
        }
    }

    static float sigmoid(float x) { return (float) (1.0 / (1.0 + Math.exp(-x))); }

    /** The final collapse (§4.2 HC_head): pre weights only, no Sinkhorn, no post. */
    public static final class Head {
        private final Matrix fn;     // [hc, hc·d]
        private final float[] base;  // [hc]
        private final float scale;
        private final int hc, d;
        private final float eps, normEps;

        public Head(Matrix fn, float[] base, float[] scale, ModelConfig c) {
            this.fn = fn;
            this.base = base;
            this.scale = scale[0];
            this.hc = c.hcMult();
            this.d = c.dim();
            this.eps = c.hcEps();
            this.normEps = c.normEps();
        }

        long bytes() { return fn.bytes() + 4L * base.length; }

        public void collapse(float[] X, int xOff, float[] out, Numerics num) {
            float r = RmsNorm.rsqrtMeanSquare(X, xOff, hc * d, normEps);
            float[] m = new float[hc];
            fn.matvec(X, xOff, m, 0, hc);
            for (int j = 0; j < hc; j++) m[j] = sigmoid(m[j] * r * scale + base[j]) + eps;
            for (int i = 0; i < d; i++) {
                float acc = 0;
                for (int j = 0; j < hc; j++) acc += m[j] * X[xOff + j * d + i];
                out[i] = num.act(acc);
            }
        }
    }
}
