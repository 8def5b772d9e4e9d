package dev.ds4j.tensor;

/**
 * The number formats of DeepSeek-V4 checkpoints and of its quantisation-aware numerics (ARCHITECTURE §5).
 * Decoding is by table; encoding is round-to-nearest-even, saturating, as the CUDA casts the model was
 * trained with.
 */
public final class Formats {
    private Formats() {}

    /** E4M3 ("fn") value of every byte: 1 sign, 4 exponent bits (bias 7), 3 mantissa bits, 0x7F/0xFF NaN. */
    public static final float[] E4M3 = new float[256];
    /** E8M0 scale of every byte: 2^(b−127), 255 is NaN. */
    public static final float[] E8M0 = new float[256];
    /** E2M1 (FP4) value of every 4-bit code; bit 3 is the sign. */
    public static final float[] E2M1 = {0f, .5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};
    public static final float E4M3_MAX = 448f;

    static {
        for (int b = 0; b < 256; b++) {
            int sign = (b >> 7) & 1, exp = (b >> 3) & 0xF, man = b & 7;
            float v;
            if (exp == 15 && man == 7) v = Float.NaN;
            else if (exp == 0) v = Math.scalb((float) man, -9);            // subnormal: m · 2^-9
            else v = Math.scalb(1f + man / 8f, exp - 7);
            E4M3[b] = sign == 1 ? -v : v;
            // 2^-127 is a float subnormal; scalb keeps it exact (ds4 does the same through bits 0x00400000).
            E8M0[b] = b == 255 ? Float.NaN : Math.scalb(1f, b - 127);
        }
    }

    public static float bf16ToFloat(short bits) { return Float.intBitsToFloat((bits & 0xFFFF) << 16); }

    /** Round-to-nearest-even fp32 → bf16 bits. NaN stays a quiet NaN. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7FFFFFFF) > 0x7F800000) return (short) ((x >>> 16) | 0x40);
        int rounding = 0x7FFF + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    /** bf16(x) as a float: what storing an activation in BF16 does to it. */
    public static float bf16(float f) { return bf16ToFloat(floatToBf16(f)); }

    /** Rounds to the nearest E4M3 value (ties to even), saturating at ±448. */
    public static float e4m3Round(float x) {
        if (Float.isNaN(x)) return x;
        float a = Math.min(Math.abs(x), E4M3_MAX);
        if (a == 0f) return x;                           // keep the sign of zero
        int e = Math.getExponent(a);                     // floor(log2 a) for normals
        int quantumExp = Math.max(e, -6) - 3;            // 3 mantissa bits; subnormal quantum is 2^-9
        float q = (float) Math.rint(Math.scalb(a, -quantumExp));
        float r = Math.min(Math.scalb(q, quantumExp), E4M3_MAX);
        return Math.copySign(r, x);
    }

    /** The E4M3 byte code for a value already on the E4M3 grid (or any value: it is rounded first). */
    public static byte e4m3Encode(float x) {
        float r = e4m3Round(x);
        if (Float.isNaN(r)) return 0x7F;
        int sign = Math.copySign(1f, r) < 0 ? 0x80 : 0;
        float a = Math.abs(r);
        if (a == 0f) return (byte) sign;
        int e = Math.getExponent(a);
        if (e < -6) return (byte) (sign | (int) Math.scalb(a, 9));            // subnormal
        int man = (int) (Math.scalb(a, -e) * 8f) - 8;
        return (byte) (sign | ((e + 7) << 3) | man);
    }

    /** Rounds to the nearest E2M1 magnitude, ties to the even code (0.25→0, 0.75→1, 2.5→2, 5→4), saturating at ±6. */
    public static float e2m1Round(float x) {
        if (Float.isNaN(x)) return x;
        float a = Math.abs(x);
        // The E2M1 grid has quantum 0.5 below 2, 1 in [2,4), 2 from 4: rint in each binade is ties-to-even code.
        float q = a < 2f ? (float) Math.rint(a * 2f) / 2f : a < 4f ? (float) Math.rint(a) : (float) Math.rint(a / 2f) * 2f;
        return Math.copySign(Math.min(q, 6f), x);
    }

    /** 4-bit code of the E2M1 rounding of x. */
    public static int e2m1Encode(float x) {
        float r = e2m1Round(x);
        float a = Math.abs(r);
        int idx = a < 2f ? (int) (a * 2f) : a < 4f ? (int) a + 2 : a == 4f ? 6 : 7;
        return (Math.copySign(1f, r) < 0 ? 8 : 0) | idx;
    }

    /** The E8M0 byte for 2^e. */
    public static byte e8m0Encode(int exponent) {
        if (exponent < -127 || exponent > 127) throw new IllegalArgumentException("E8M0 exponent out of range: " + exponent);
        return (byte) (exponent + 127);
    }

    /** ceil(log2(v)) for a positive normal float, from its bits: exponent, +1 if any mantissa bit is set. */
    public static int ceilLog2(float v) {
        int bits = Float.floatToRawIntBits(v);
        int e = ((bits >>> 23) & 0xFF) - 127;
        return (bits & 0x7FFFFF) != 0 ? e + 1 : e;
    }
}
