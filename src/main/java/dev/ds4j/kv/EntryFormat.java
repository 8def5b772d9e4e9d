package dev.ds4j.kv;

import dev.ds4j.tensor.Formats;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * The byte format of one cache entry of {@code dim} floats: fixed size, encoded on append and decoded on read.
 * Encoding is exact or fails: a decoded entry is bit-identical to the floats that were stored, so the
 * layout can never change a logit. Multi-byte fields are little-endian (snapshots are portable).
 */
abstract sealed class EntryFormat permits EntryFormat.F32, EntryFormat.Fp8Rope, EntryFormat.Fp4 {
    static final VarHandle FLOAT = MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);
    static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    final int dim, bytes;

    EntryFormat(int dim, int bytes) {
        this.dim = dim;
        this.bytes = bytes;
    }

    /** Writes src[off .. off+dim) to dst[at .. at+bytes); throws if a value is not exactly representable. */
    abstract void encode(float[] src, int off, byte[] dst, int at);

    /** Reads the entry at dst[at ..) back into dst[off .. off+dim). */
    abstract void decode(byte[] src, int at, float[] dst, int off);

    /**
     * Fills {@code count} entries from {@code at} with random valid content of moderate magnitude (|v| ≤ 6),
     * for synthetic long contexts: no model has to run, and the bytes are written at memory speed.
     */
    abstract void random(byte[] dst, int at, int count, SplittableRandom rng);

    /** For the error message of a value that a layout cannot hold. */
    IllegalArgumentException notOnGrid(String grid, float v, int i) {
        return new IllegalArgumentException("KV value " + v + " (dim " + i + ") is not on the " + grid
                + " grid of the compact layout; the compact KV layout holds official-numerics values only");
    }

    /** Bit-identical (the sign of zero included), or both NaN. */
    static boolean same(float decoded, float v) {
        return Float.floatToRawIntBits(decoded) == Float.floatToRawIntBits(v) || (Float.isNaN(v) && Float.isNaN(decoded));
    }

    /** Random ±[0.5, 1) floats: sign and mantissa random, exponent fixed. */
    static void randomFloats(byte[] dst, int at, int n, SplittableRandom rng) {
        int i = 0;
        for (; i + 1 < n; i += 2) {
            long r = rng.nextLong() & 0x807FFFFF807FFFFFL | 0x3F0000003F000000L;
            LONG.set(dst, at + 4 * i, r);
        }
        if (i < n) FLOAT.set(dst, at + 4 * i, Float.intBitsToFloat(rng.nextInt() & 0x807FFFFF | 0x3F000000));
    }

    /** fp32 values, 4 bytes each: any float is exact. */
    static final class F32 extends EntryFormat {
        F32(int dim) { super(dim, 4 * dim); }

        @Override
        void encode(float[] src, int off, byte[] dst, int at) {
            for (int i = 0; i < dim; i++) FLOAT.set(dst, at + 4 * i, src[off + i]);
        }

        @Override
        void decode(byte[] src, int at, float[] dst, int off) {
            for (int i = 0; i < dim; i++) dst[off + i] = (float) FLOAT.get(src, at + 4 * i);
        }

        @Override
        void random(byte[] dst, int at, int count, SplittableRandom rng) { randomFloats(dst, at, count * dim, rng); }
    }

    /**
     * Attention entry (§8.2): the first {@code nope} dims as E4M3 bytes, the last {@code rope} dims as BF16, one
     * E8M0 scale per 64 nope dims, padded to a multiple of 8 bytes: 448 + 128 + 7 + 1 = 584 bytes for V4.
     * Each 64-block's scale is recomputed from the stored values by §5.2's rule; for a block that fp8Sim produced
     * it is the scale fp8Sim used or a smaller power of two, and the values divided by it are still E4M3 values.
     */
    static final class Fp8Rope extends EntryFormat {
        static final int BLOCK = 64;
        final int nope, rope, blocks, scaleAt;

        Fp8Rope(int dim, int ropeDim) {
            super(dim, size(dim, ropeDim));
            this.rope = ropeDim;
            this.nope = dim - ropeDim;
            this.blocks = (nope + BLOCK - 1) / BLOCK;
            this.scaleAt = nope + 2 * rope;
        }

        static int size(int dim, int ropeDim) {
            int nope = dim - ropeDim;
            int raw = nope + 2 * ropeDim + (nope + BLOCK - 1) / BLOCK;
            return (raw + 7) & ~7;
        }

        @Override
        void encode(float[] src, int off, byte[] dst, int at) {
            for (int b = 0; b < blocks; b++) {
                int from = b * BLOCK, to = Math.min(nope, from + BLOCK);
                float amax = 1e-4f;                                  // §5.2's floor
                for (int i = from; i < to; i++) {
                    float a = Math.abs(src[off + i]);
                    if (a > amax) amax = a;
                }
                int e = Formats.ceilLog2(amax * (1f / 448f));
                dst[at + scaleAt + b] = Formats.e8m0Encode(e);
                for (int i = from; i < to; i++) {
                    float v = src[off + i], q = Math.scalb(v, -e);
                    byte code = Formats.e4m3Encode(q);
                    if (!same(Formats.E4M3[code & 0xFF] * Formats.E8M0[e + 127], v))   // exactly what decode computes
                        throw notOnGrid("E4M3 (scale 2^" + e + ")", v, i);
                    dst[at + i] = code;
                }
            }
            for (int i = 0; i < rope; i++) {
                float v = src[off + nope + i];
                short h = Formats.floatToBf16(v);
                if (!same(Formats.bf16ToFloat(h), v)) throw notOnGrid("BF16", v, nope + i);
                SHORT.set(dst, at + nope + 2 * i, h);
            }
            for (int i = scaleAt + blocks; i < bytes; i++) dst[at + i] = 0;
        }

        @Override
        void decode(byte[] src, int at, float[] dst, int off) {
            for (int b = 0; b < blocks; b++) {
                float s = Formats.E8M0[src[at + scaleAt + b] & 0xFF];
                int to = Math.min(nope, (b + 1) * BLOCK);
                for (int i = b * BLOCK; i < to; i++) dst[off + i] = Formats.E4M3[src[at + i] & 0xFF] * s;   // exact: s is 2^e
            }
            for (int i = 0; i < rope; i++) dst[off + nope + i] = Formats.bf16ToFloat((short) SHORT.get(src, at + nope + 2 * i));
        }

        @Override
        void random(byte[] dst, int at, int count, SplittableRandom rng) {
            for (int k = 0; k < count; k++, at += bytes) {
                // E4M3 with the top exponent bit clear (|q| ≤ 1.875, never NaN); scales 2^-3 .. 2^0.
                int i = 0;
                for (; i + 8 <= nope; i += 8) LONG.set(dst, at + i, rng.nextLong() & 0xBFBFBFBFBFBFBFBFL);
                for (; i < nope; i++) dst[at + i] = (byte) (rng.nextInt() & 0xBF);
                // BF16 ±[0.5, 1).
                int r = 0;
                for (; r + 4 <= rope; r += 4)
                    LONG.set(dst, at + nope + 2 * r, rng.nextLong() & 0x807F807F807F807FL | 0x3F003F003F003F00L);
                for (; r < rope; r++) SHORT.set(dst, at + nope + 2 * r, (short) (rng.nextInt() & 0x807F | 0x3F00));
                for (int b = 0; b < blocks; b++) dst[at + scaleAt + b] = (byte) (124 + (rng.nextInt() & 3));
                for (int p = scaleAt + blocks; p < bytes; p++) dst[at + p] = 0;
            }
        }
    }

    /**
     * Indexer key (§8.2, FP4 option): dim E2M1 codes packed two per byte (low nibble = even dim), then one E8M0
     * scale per 32 dims: 64 + 4 = 68 bytes at 128 dims. Scales are recomputed by §5.3's rule, as for FP8.
     */
    static final class Fp4 extends EntryFormat {
        static final int BLOCK = 32;
        final int blocks, scaleAt;

        Fp4(int dim) {
            super(dim, size(dim));
            if (dim % 2 != 0) throw new IllegalArgumentException("FP4 keys need an even dim, got " + dim);
            this.blocks = (dim + BLOCK - 1) / BLOCK;
            this.scaleAt = dim / 2;
        }

        static int size(int dim) { return dim / 2 + (dim + BLOCK - 1) / BLOCK; }

        @Override
        void encode(float[] src, int off, byte[] dst, int at) {
            for (int i = 0; i < dim / 2; i++) dst[at + i] = 0;
            for (int b = 0; b < blocks; b++) {
                int from = b * BLOCK, to = Math.min(dim, from + BLOCK);
                float amax = 6f * Float.MIN_NORMAL;                  // §5.3's floor
                for (int i = from; i < to; i++) {
                    float a = Math.abs(src[off + i]);
                    if (a > amax) amax = a;
                }
                int e = Formats.ceilLog2(amax * (1f / 6f));
                dst[at + scaleAt + b] = Formats.e8m0Encode(e);
                for (int i = from; i < to; i++) {
                    float v = src[off + i];
                    int code = Formats.e2m1Encode(Math.scalb(v, -e));
                    if (!same(Formats.E2M1[code] * Formats.E8M0[e + 127], v))
                        throw notOnGrid("E2M1 (scale 2^" + e + ")", v, i);
                    dst[at + i / 2] |= (byte) (code << (4 * (i & 1)));
                }
            }
        }

        @Override
        void decode(byte[] src, int at, float[] dst, int off) {
            for (int b = 0; b < blocks; b++) {
                float s = Formats.E8M0[src[at + scaleAt + b] & 0xFF];
                int to = Math.min(dim, (b + 1) * BLOCK);
                for (int i = b * BLOCK; i < to; i += 2) {
                    int packed = src[at + i / 2];
                    dst[off + i] = Formats.E2M1[packed & 15] * s;
                    dst[off + i + 1] = Formats.E2M1[(packed >> 4) & 15] * s;
                }
            }
        }

        @Override
        void random(byte[] dst, int at, int count, SplittableRandom rng) {
            for (int k = 0; k < count; k++, at += bytes) {
                int i = 0;
                for (; i + 8 <= scaleAt; i += 8) LONG.set(dst, at + i, rng.nextLong());
                for (; i < scaleAt; i++) dst[at + i] = (byte) rng.nextInt();
                for (int b = 0; b < blocks; b++) dst[at + scaleAt + b] = (byte) (124 + (rng.nextInt() & 3));   // |v| ≤ 6
            }
        }
    }
}
