package dev.ds4j.model;

/**
 * Interleaved rotary embedding on the last {@code dim} channels of a vector (§4.4). Pair i = (x[2i], x[2i+1])
 * turns by θ_i·pos with θ_i = base^(−2i/dim); the compressed-layer table blends in YaRN's interpolated
 * frequencies (f/factor) over the ramp between the beta_fast and beta_slow correction dims, without any
 * magnitude factor. Angles are fp32 (float(pos)·f_i), as both references compute them.
 */
public final class RopeTable {
    private final float[] freq;
    private final int dim;

    private RopeTable(double base, int dim, ModelConfig.Yarn yarn) {
        this.dim = dim;
        int half = dim / 2;
        freq = new float[half];
        double low = 0, high = 0;
        if (yarn != null) {
            low = Math.max(Math.floor(correctionDim(yarn.betaFast(), dim, base, yarn.originalMaxPositions())), 0);
            high = Math.min(Math.ceil(correctionDim(yarn.betaSlow(), dim, base, yarn.originalMaxPositions())), dim - 1);
            if (low == high) high += 0.001;                // as transformers' linear ramp does
        }
        for (int i = 0; i < half; i++) {
            float f = (float) (1.0 / Math.pow(base, (2.0 * i) / dim));
            if (yarn != null) {
                float ramp = (float) Math.min(1, Math.max(0, (i - low) / (high - low)));
                f = (f / (float) yarn.factor()) * ramp + f * (1 - ramp);
            }
            freq[i] = f;
        }
    }

    /** The rotation count at which a dim completes {@code rotations} turns over the original context. */
    static double correctionDim(double rotations, int dim, double base, double originalMax) {
        return dim * Math.log(originalMax / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    /** Table of sliding-only layers (and MTP): base rope_theta, no YaRN. */
    public static RopeTable main(ModelConfig c) { return new RopeTable(c.ropeTheta(), c.ropeDim(), null); }

    /** Table of CSA/HCA layers: base compress_rope_theta with YaRN when configured. */
    public static RopeTable compress(ModelConfig c) { return new RopeTable(c.compressRopeTheta(), c.ropeDim(), c.yarn()); }

    public int dim() { return dim; }
    public float frequency(int i) { return freq[i]; }

    /** cos/sin of every pair at this position (arrays of dim/2). */
    public void angles(long pos, float[] cos, float[] sin) {
        float p = (float) pos;
        for (int i = 0; i < freq.length; i++) {
            float a = p * freq[i];
            cos[i] = (float) Math.cos(a);
            sin[i] = (float) Math.sin(a);
        }
    }

    /**
     * Rotates x[end−dim .. end) where end = off + len, by +θ, or by −θ when {@code inverse} (the output
     * de-rotation: since V = K, attention outputs carry the keys' rotation).
     */
    public void apply(float[] x, int off, int len, float[] cos, float[] sin, boolean inverse, Numerics num) {
        int r0 = off + len - dim;
        for (int i = 0; i < freq.length; i++) {
            float c = cos[i], s = inverse ? -sin[i] : sin[i];
            float a = x[r0 + 2 * i], b = x[r0 + 2 * i + 1];
            x[r0 + 2 * i] = num.act(a * c - b * s);
            x[r0 + 2 * i + 1] = num.act(a * s + b * c);
        }
    }
}
