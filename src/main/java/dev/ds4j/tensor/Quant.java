package dev.ds4j.tensor;

/**
 * The quantisation round trips of the official numerics (ARCHITECTURE §5.2, §5.3, §5.5). Each works in place
 * on a slice of a float array. Scales are powers of two taken as an exact ceil-log2 from the float bits, so
 * every result is exactly representable in BF16 (and in fp32).
 */
public final class Quant {
    private Quant() {}

    private static final float INV_448 = 1f / 448f;
    private static final float INV_6 = 1f / 6f;

    /** FP8 (E4M3) quantise→dequantise per block of {@code block} elements; amax floored at 1e-4. */
    public static void fp8Sim(float[] x, int off, int len, int block) {
        for (int b = off; b < off + len; b += block) {
            int end = Math.min(b + block, off + len);
            float amax = 1e-4f;
            for (int i = b; i < end; i++) amax = Math.max(amax, Math.abs(x[i]));
            int e = Formats.ceilLog2(amax * INV_448);
            for (int i = b; i < end; i++) {
                float q = Formats.e4m3Round(Math.max(-448f, Math.min(448f, Math.scalb(x[i], -e))));
                x[i] = Math.scalb(q, e);
            }
        }
    }

    /** FP4 (E2M1) quantise→dequantise per block of 32; amax floored at 6·2^-126 so the scale stays normal. */
    public static void fp4Sim(float[] x, int off, int len) {
        final float floor = 6f * Float.MIN_NORMAL;
        for (int b = off; b < off + len; b += 32) {
            int end = Math.min(b + 32, off + len);
            float amax = floor;
            for (int i = b; i < end; i++) amax = Math.max(amax, Math.abs(x[i]));
            int e = Formats.ceilLog2(amax * INV_6);
            for (int i = b; i < end; i++) x[i] = Math.scalb(Formats.e2m1Round(Math.scalb(x[i], -e)), e);
        }
    }

    /** Rounds a slice to BF16 in place. */
    public static void bf16(float[] x, int off, int len) {
        for (int i = off; i < off + len; i++) x[i] = Formats.bf16(x[i]);
    }

    /**
     * Sylvester Walsh–Hadamard transform scaled by 1/√n, in place (n a power of two): an orthogonal rotation
     * that spreads outliers across the block before FP4 rounding in the indexer.
     */
    public static void hadamard(float[] x, int off, int n) {
        if (Integer.bitCount(n) != 1) throw new IllegalArgumentException("Hadamard size must be a power of two: " + n);
        for (int h = 1; h < n; h <<= 1) {
            for (int i = 0; i < n; i += h << 1) {
                for (int j = i; j < i + h; j++) {
                    float a = x[off + j], b = x[off + j + h];
                    x[off + j] = a + b;
                    x[off + j + h] = a - b;
                }
            }
        }
        float s = (float) (1.0 / Math.sqrt(n));
        for (int i = 0; i < n; i++) x[off + i] *= s;
    }
}
