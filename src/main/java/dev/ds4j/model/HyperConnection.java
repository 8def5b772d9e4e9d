package dev.ds4j.model;

import dev.ds4j.tensor.Matrix;

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
     * From streams X[xOff .. xOff+hc·d): writes the collapsed input x = Σ_j pre_j·X_j into {@code out}, the
     * post weights into {@code post[hc]} and comb into {@code comb[hc·hc]} (row j, column k). {@code mix}
     * is scratch of (2+hc)·hc floats.
     */
    public void pre(float[] X, int xOff, float[] out, float[] post, float[] comb, float[] mix, Numerics num) {
        float r = RmsNorm.rsqrtMeanSquare(X, xOff, hc * d, normEps);
        fn.matvec(X, xOff, mix, 0, fn.rows());
        for (int i = 0; i < mix.length; i++) mix[i] *= r;
        for (int j = 0; j < hc; j++) post[j] = 2f * sigmoid(mix[hc + j] * scale[1] + base[hc + j]);
        // comb: row softmax + eps, then alternate column / row normalisation, ending on a column step.
        for (int j = 0; j < hc; j++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < hc; k++) {
                int i = j * hc + k;
                comb[i] = mix[2 * hc + i] * scale[2] + base[2 * hc + i];
                max = Math.max(max, comb[i]);
            }
            float sum = 0;
            for (int k = 0; k < hc; k++) sum += comb[j * hc + k] = (float) Math.exp(comb[j * hc + k] - max);
            for (int k = 0; k < hc; k++) comb[j * hc + k] = comb[j * hc + k] / sum + eps;
        }
        normaliseColumns(comb);
        for (int it = 1; it < iters; it++) {
            normaliseRows(comb);
            normaliseColumns(comb);
        }
        // pre is not normalised to sum 1 (§4.2); mix[0..hc) is reused to hold it.
        for (int j = 0; j < hc; j++) mix[j] = sigmoid(mix[j] * scale[0] + base[j]) + eps;
        for (int i = 0; i < d; i++) {
            float acc = 0;
            for (int j = 0; j < hc; j++) acc += mix[j] * X[xOff + j * d + i];
            out[i] = num.act(acc);
        }
    }

    /** New streams: Y_k = post_k·f + Σ_j C[j][k]·X_j (column k of C feeds stream k). Y may not alias X. */
    public void post(float[] f, float[] X, int xOff, float[] post, float[] comb, float[] Y, int yOff, Numerics num) {
        for (int k = 0; k < hc; k++) {
            for (int i = 0; i < d; i++) {
                float acc = post[k] * f[i];
                for (int j = 0; j < hc; j++) acc += comb[j * hc + k] * X[xOff + j * d + i];
                Y[yOff + k * d + i] = num.act(acc);
            }
        }
    }

    private void normaliseRows(float[] c) {
        for (int j = 0; j < hc; j++) {
            float s = 0;
            for (int k = 0; k < hc; k++) s += c[j * hc + k];
            for (int k = 0; k < hc; k++) c[j * hc + k] /= s + eps;
        }
    }

    private void normaliseColumns(float[] c) {
        for (int k = 0; k < hc; k++) {
            float s = 0;
            for (int j = 0; j < hc; j++) s += c[j * hc + k];
            for (int j = 0; j < hc; j++) c[j * hc + k] /= s + eps;
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
