package dev.ds4j.model;

/** y = w ⊙ x · rsqrt(mean(x²) + eps) (§4.1), optionally without a weight (per-head query norm, HC input). */
public final class RmsNorm {
    private RmsNorm() {}

    public static float rsqrtMeanSquare(float[] x, int off, int n, float eps) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double) x[off + i] * x[off + i];
        return (float) (1.0 / Math.sqrt(ss / n + eps));
    }

    /** Weighted norm of x[off..off+n) into out[outOff..); out may alias x. Official numerics round once at the end. */
    public static void apply(float[] x, int off, int n, float[] w, float eps, float[] out, int outOff, Numerics num) {
        float r = rsqrtMeanSquare(x, off, n, eps);
        for (int i = 0; i < n; i++) out[outOff + i] = num.act(w[i] * (x[off + i] * r));
    }

    /** Unweighted norm in place. */
    public static void applyUnweighted(float[] x, int off, int n, float eps, Numerics num) {
        float r = num.act(rsqrtMeanSquare(x, off, n, eps));
        for (int i = 0; i < n; i++) x[off + i] = num.act(x[off + i] * r);
    }
}
