package dev.ds4j.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.S2I;

/**
 * The products of {@link Matrix} on the Vector API, dequantisation fused into the dot product. Weights are
 * read straight from their segments (little-endian); each format turns L stored values into L floats with a
 * few integer operations, multiplies them with the input and accumulates lane-wise in fp32:
 *
 * <pre>
 *   F32   w
 *   BF16  bits(w) &lt;&lt; 16
 *   E4M3  bits: sign → 31, exponent and mantissa → 26..20, then × 2^120 (the bias 127 − 7); exact, subnormals too
 *   E2M1  a 16-entry byte table of 2·E2M1 (small integers), converted to float; the ½ goes into the block scale
 * </pre>
 *
 * Quantised formats sum each block (128 inputs for FP8, 32 for FP4) in its own vector and scale it once
 * (acc += block · scale, lane-wise). A row's lanes are added in lane order at the end, and inputs past the
 * last full vector are summed scalar and added last. Every path (one row, four rows, four inputs) performs
 * exactly this sequence of float operations per (row, input), so results are bit-identical whichever path,
 * batch or thread computed them. ({@code reduceLanes(ADD)} is avoided: its order is unspecified and differs
 * between the interpreter and C2.)
 *
 * <p>Rows are done four at a time for one input (one input load feeds four rows), and inputs four at a time
 * for one row (one weight load and dequantisation feeds four inputs).
 */
final class VectorKernels {
    private VectorKernels() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorShape SHAPE = Integer.getInteger("ds4j.vector.bits") != null
            ? VectorShape.forBitSize(Integer.getInteger("ds4j.vector.bits")) : VectorShape.preferredShape();
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.withShape(SHAPE);
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(SHAPE);
    /** Lanes per vector: 8 with AVX2, 16 with AVX-512. */
    private static final int L = F.length();
    private static final VectorShuffle<Float> ROT1 = rotation(1), ROT2 = rotation(2), ROT4 = rotation(4), ROT8 = rotation(8);
    /** L bytes (FP8 codes) and L shorts (BF16), widened to L ints. */
    private static final VectorSpecies<Byte> BL = L >= 8 ? ByteVector.SPECIES_64.withShape(VectorShape.forBitSize(8 * L)) : null;
    private static final VectorSpecies<Short> SL = L >= 8 ? ShortVector.SPECIES_64.withShape(VectorShape.forBitSize(16 * L)) : null;
    /** 16 bytes: an FP4 table lookup (one block, 32 weights). */
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;


    /** 2·E2M1 of each 4-bit code (integers, so the table fits in bytes); −0 becomes 0. */
    private static final byte[] E2M1_X2_CODES = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    private static final ByteVector E2M1_X2 = ByteVector.fromArray(B16, E2M1_X2_CODES, 0);
    /** E8M0 scale / 2, to undo the doubling of the E2M1 table. */
    private static final float[] E8M0_HALF = new float[256];

    static {
        for (int b = 0; b < 256; b++) E8M0_HALF[b] = Formats.E8M0[b] * 0.5f;
    }

    /** Vector kernels need 8 or 16 float lanes (AVX2, AVX-512); elsewhere the scalar kernels run. */
    static boolean usable() { return L == 8 || L == 16; }

    static int bits() { return F.vectorBitSize(); }

    // ---------------------------------------------------------------------------------------------------
    // Dequantisation: L stored values at a byte offset → L floats.

    private static FloatVector f32(MemorySegment w, long off) { return FloatVector.fromMemorySegment(F, w, off, LE); }

    private static FloatVector bf16(MemorySegment w, long off) {
        IntVector i = (IntVector) ShortVector.fromMemorySegment(SL, w, off, LE).convertShape(S2I, I, 0);
        return i.lanewise(LSHL, 16).reinterpretAsFloats();
    }

    /**
     * E4M3 codes, sign-extended to ints: shifting by 20 puts the exponent and mantissa at the top of a float's
     * exponent and mantissa fields and the sign (from the extension) at bit 31; that float is the E4M3 value
     * times 2^−120, for subnormals too (E4M3 bias 7 vs 127), and the multiply is exact. The NaN codes (0x7F,
     * 0xFF) read as ±480: a checkpoint never stores them. Subnormal codes (magnitude 1..7) make float
     * subnormals, which the multiply handles slowly on x86 (a microcode assist per vector): trained weights
     * have few, random test weights many. An exact decode without subnormals (rebias by an integer add, then
     * subtract 2^−6 where E = 0) costs twice the instructions on every vector and defeated C2's type
     * inference, so it is not used.
     */
    private static FloatVector e4m3(MemorySegment w, long off) {
        IntVector i = (IntVector) ByteVector.fromMemorySegment(BL, w, off, LE).convertShape(B2I, I, 0);
        return i.lanewise(LSHL, 20).and(0x87F0_0000).reinterpretAsFloats().mul(0x1p120f);
    }

    private static FloatVector x(float[] x, int off) { return FloatVector.fromArray(F, x, off); }

    /**
     * The lanes of a row's accumulator added as a fixed tree: lane i with lane i + L/2, then i + L/4, …, then
     * lane 0 ({@link #fp4Tree} is the same sum in scalar code). Cheaper for C2 than L lane extractions.
     */
    private static float sum(FloatVector v) {
        if (L == 16) v = v.add(v.rearrange(ROT8));
        v = v.add(v.rearrange(ROT4));
        v = v.add(v.rearrange(ROT2));
        v = v.add(v.rearrange(ROT1));
        return v.lane(0);
    }

    private static VectorShuffle<Float> rotation(int k) { return VectorShuffle.fromOp(F, i -> (i + k) % L); }


    /** Where the vector part of a row ends; the rest is summed scalar. */
    private static int vectorEnd(int cols) { return cols - cols % L; }

    // ---------------------------------------------------------------------------------------------------
    // F32

    static void f32(Matrix.F32 m, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
        if (n == 1) {
            int r = r0;
            for (; r + 4 <= r1; r += 4) f32Rows4(m, r, x, xOff, y, yOff + r);
            for (; r < r1; r++) y[yOff + r] = f32Dot(m, r, x, xOff);
        } else {
            for (int r = r0; r < r1; r++) {
                int i = 0;
                for (; i + 4 <= n; i += 4) f32Inputs4(m, r, x, xOff + i * xStride, xStride, y, yOff + i * yStride + r, yStride);
                for (; i < n; i++) y[yOff + i * yStride + r] = f32Dot(m, r, x, xOff + i * xStride);
            }
        }
    }

    private static float f32Tail(Matrix.F32 m, int r, int from, float[] x, int xo) {
        float t = 0f;
        for (int c = from; c < m.cols; c++) t += m.w.get(Matrix.F32_LE, 4L * ((long) r * m.cols + c)) * x[xo + c];
        return t;
    }

    private static float f32Dot(Matrix.F32 m, int r, float[] x, int xo) {
        MemorySegment w = m.w;
        long base = 4L * r * m.cols;
        int end = vectorEnd(m.cols);
        FloatVector acc = FloatVector.zero(F);
        for (int c = 0; c < end; c += L) acc = f32(w, base + 4L * c).fma(x(x, xo + c), acc);
        return sum(acc) + f32Tail(m, r, end, x, xo);
    }

    private static void f32Rows4(Matrix.F32 m, int r, float[] x, int xo, float[] y, int yo) {
        MemorySegment w = m.w;
        long row = 4L * m.cols, b0 = r * row, b1 = b0 + row, b2 = b1 + row, b3 = b2 + row;
        int end = vectorEnd(m.cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < end; c += L) {
            FloatVector xv = x(x, xo + c);
            long o = 4L * c;
            a0 = f32(w, b0 + o).fma(xv, a0);
            a1 = f32(w, b1 + o).fma(xv, a1);
            a2 = f32(w, b2 + o).fma(xv, a2);
            a3 = f32(w, b3 + o).fma(xv, a3);
        }
        y[yo] = sum(a0) + f32Tail(m, r, end, x, xo);
        y[yo + 1] = sum(a1) + f32Tail(m, r + 1, end, x, xo);
        y[yo + 2] = sum(a2) + f32Tail(m, r + 2, end, x, xo);
        y[yo + 3] = sum(a3) + f32Tail(m, r + 3, end, x, xo);
    }

    private static void f32Inputs4(Matrix.F32 m, int r, float[] x, int xo, int xs, float[] y, int yo, int ys) {
        MemorySegment w = m.w;
        long base = 4L * r * m.cols;
        int end = vectorEnd(m.cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < end; c += L) {
            FloatVector wv = f32(w, base + 4L * c);
            a0 = wv.fma(x(x, xo + c), a0);
            a1 = wv.fma(x(x, xo + xs + c), a1);
            a2 = wv.fma(x(x, xo + 2 * xs + c), a2);
            a3 = wv.fma(x(x, xo + 3 * xs + c), a3);
        }
        y[yo] = sum(a0) + f32Tail(m, r, end, x, xo);
        y[yo + ys] = sum(a1) + f32Tail(m, r, end, x, xo + xs);
        y[yo + 2 * ys] = sum(a2) + f32Tail(m, r, end, x, xo + 2 * xs);
        y[yo + 3 * ys] = sum(a3) + f32Tail(m, r, end, x, xo + 3 * xs);
    }

    // ---------------------------------------------------------------------------------------------------
    // BF16

    static void bf16(Matrix.Bf16 m, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
        if (n == 1) {
            int r = r0;
            for (; r + 4 <= r1; r += 4) bf16Rows4(m, r, x, xOff, y, yOff + r);
            for (; r < r1; r++) y[yOff + r] = bf16Dot(m, r, x, xOff);
        } else {
            for (int r = r0; r < r1; r++) {
                int i = 0;
                for (; i + 4 <= n; i += 4) bf16Inputs4(m, r, x, xOff + i * xStride, xStride, y, yOff + i * yStride + r, yStride);
                for (; i < n; i++) y[yOff + i * yStride + r] = bf16Dot(m, r, x, xOff + i * xStride);
            }
        }
    }

    private static float bf16Tail(Matrix.Bf16 m, int r, int from, float[] x, int xo) {
        float t = 0f;
        for (int c = from; c < m.cols; c++) t += Formats.bf16ToFloat(m.w.get(Matrix.I16_LE, 2L * ((long) r * m.cols + c))) * x[xo + c];
        return t;
    }

    private static float bf16Dot(Matrix.Bf16 m, int r, float[] x, int xo) {
        MemorySegment w = m.w;
        long base = 2L * r * m.cols;
        int end = vectorEnd(m.cols);
        FloatVector acc = FloatVector.zero(F);
        for (int c = 0; c < end; c += L) acc = bf16(w, base + 2L * c).fma(x(x, xo + c), acc);
        return sum(acc) + bf16Tail(m, r, end, x, xo);
    }

    private static void bf16Rows4(Matrix.Bf16 m, int r, float[] x, int xo, float[] y, int yo) {
        MemorySegment w = m.w;
        long row = 2L * m.cols, b0 = r * row, b1 = b0 + row, b2 = b1 + row, b3 = b2 + row;
        int end = vectorEnd(m.cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < end; c += L) {
            FloatVector xv = x(x, xo + c);
            long o = 2L * c;
            a0 = bf16(w, b0 + o).fma(xv, a0);
            a1 = bf16(w, b1 + o).fma(xv, a1);
            a2 = bf16(w, b2 + o).fma(xv, a2);
            a3 = bf16(w, b3 + o).fma(xv, a3);
        }
        y[yo] = sum(a0) + bf16Tail(m, r, end, x, xo);
        y[yo + 1] = sum(a1) + bf16Tail(m, r + 1, end, x, xo);
        y[yo + 2] = sum(a2) + bf16Tail(m, r + 2, end, x, xo);
        y[yo + 3] = sum(a3) + bf16Tail(m, r + 3, end, x, xo);
    }

    private static void bf16Inputs4(Matrix.Bf16 m, int r, float[] x, int xo, int xs, float[] y, int yo, int ys) {
        MemorySegment w = m.w;
        long base = 2L * r * m.cols;
        int end = vectorEnd(m.cols);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < end; c += L) {
            FloatVector wv = bf16(w, base + 2L * c);
            a0 = wv.fma(x(x, xo + c), a0);
            a1 = wv.fma(x(x, xo + xs + c), a1);
            a2 = wv.fma(x(x, xo + 2 * xs + c), a2);
            a3 = wv.fma(x(x, xo + 3 * xs + c), a3);
        }
        y[yo] = sum(a0) + bf16Tail(m, r, end, x, xo);
        y[yo + ys] = sum(a1) + bf16Tail(m, r, end, x, xo + xs);
        y[yo + 2 * ys] = sum(a2) + bf16Tail(m, r, end, x, xo + 2 * xs);
        y[yo + 3 * ys] = sum(a3) + bf16Tail(m, r, end, x, xo + 3 * xs);
    }

    // ---------------------------------------------------------------------------------------------------
    // FP8 (E4M3, 128×128 block scales). Per block two partial sums (even and odd vectors), added, then scaled
    // into the row's accumulator: independent blocks and two chains keep the FMA units busy.

    static void fp8(Matrix.Fp8 m, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
        if (fp8Lanes(m)) {
            fp8ByLanes(m, x, xOff, xStride, n, y, yOff, yStride, r0, r1);
            return;
        }
        if (n == 1) {
            for (int r = r0; r < r1; r++) y[yOff + r] = fp8Dot(m, r, x, xOff);
            return;
        }
        Scratch sc = SCRATCH.get().size(m.cols);
        for (int r = r0; r < r1; r++) {
            fp8Decode(m, r, sc.row);
            int i = 0;
            for (; i + 4 <= n; i += 4) fp8DotDecoded4(m, r, sc.row, x, xOff + i * xStride, xStride, y, yOff + i * yStride + r, yStride);
            for (; i < n; i++) y[yOff + i * yStride + r] = fp8DotDecoded(m, r, sc.row, x, xOff + i * xStride);
        }
    }

    /** The inputs past the last full vector (ragged widths only), all in the last block: summed, then scaled. */
    private static float fp8Tail(Matrix.Fp8 m, int r, int from, float[] x, int xo) {
        if (from == m.cols) return 0f;
        float t = 0f;
        for (int c = from; c < m.cols; c++) t += Formats.E4M3[m.w.get(ValueLayout.JAVA_BYTE, (long) r * m.cols + c) & 0xFF] * x[xo + c];
        return t * m.scale(r, from >> 7);
    }

    private static FloatVector scale(Matrix.Fp8 m, int r, int c0) { return FloatVector.broadcast(F, m.scale(r, c0 >> 7)); }

    /** Row r: Σ_blocks scale · (Σ even vectors + Σ odd vectors), lanes summed, plus the ragged tail. */
    private static float fp8Dot(Matrix.Fp8 m, int r, float[] x, int xo) {
        MemorySegment w = m.w;
        long base = (long) r * m.cols;
        int end = vectorEnd(m.cols), full = end & -128;
        FloatVector acc = FloatVector.zero(F);
        for (int c0 = 0; c0 < full; c0 += 128) {
            FloatVector k0 = FloatVector.zero(F), k1 = k0;
            for (int c = c0; c < c0 + 128; c += 2 * L) {
                k0 = e4m3(w, base + c).fma(x(x, xo + c), k0);
                k1 = e4m3(w, base + c + L).fma(x(x, xo + c + L), k1);
            }
            acc = k0.add(k1).fma(scale(m, r, c0), acc);
        }
        if (full < end) {   // a partial last block (a width that is no multiple of 128)
            int pairs = full + (end - full) / (2 * L) * (2 * L);
            FloatVector k0 = FloatVector.zero(F), k1 = k0;
            for (int c = full; c < pairs; c += 2 * L) {
                k0 = e4m3(w, base + c).fma(x(x, xo + c), k0);
                k1 = e4m3(w, base + c + L).fma(x(x, xo + c + L), k1);
            }
            if (pairs < end) k0 = e4m3(w, base + pairs).fma(x(x, xo + pairs), k0);
            acc = k0.add(k1).fma(scale(m, r, full), acc);
        }
        return sum(acc) + fp8Tail(m, r, end, x, xo);
    }

    /** Row r's E4M3 values (unscaled, as fp8Dot multiplies them) into buf[0 .. vectorEnd(cols)). */
    private static void fp8Decode(Matrix.Fp8 m, int r, float[] buf) {
        MemorySegment w = m.w;
        long base = (long) r * m.cols;
        int end = vectorEnd(m.cols);
        for (int c = 0; c < end; c += L) e4m3(w, base + c).intoArray(buf, c);
    }

    /** fp8Dot over a row decoded by fp8Decode: the same operations on the same values. */
    private static float fp8DotDecoded(Matrix.Fp8 m, int r, float[] wd, float[] x, int xo) {
        int end = vectorEnd(m.cols), full = end & -128;
        FloatVector acc = FloatVector.zero(F);
        for (int c0 = 0; c0 < full; c0 += 128) {
            FloatVector k0 = FloatVector.zero(F), k1 = k0;
            for (int c = c0; c < c0 + 128; c += 2 * L) {
                k0 = x(wd, c).fma(x(x, xo + c), k0);
                k1 = x(wd, c + L).fma(x(x, xo + c + L), k1);
            }
            acc = k0.add(k1).fma(scale(m, r, c0), acc);
        }
        if (full < end) {
            int pairs = full + (end - full) / (2 * L) * (2 * L);
            FloatVector k0 = FloatVector.zero(F), k1 = k0;
            for (int c = full; c < pairs; c += 2 * L) {
                k0 = x(wd, c).fma(x(x, xo + c), k0);
                k1 = x(wd, c + L).fma(x(x, xo + c + L), k1);
            }
            if (pairs < end) k0 = x(wd, pairs).fma(x(x, xo + pairs), k0);
            acc = k0.add(k1).fma(scale(m, r, full), acc);
        }
        return sum(acc) + fp8Tail(m, r, end, x, xo);
    }

    /** fp8DotDecoded for four inputs at once (eight independent chains). */
    private static void fp8DotDecoded4(Matrix.Fp8 m, int r, float[] wd, float[] x, int xo, int xs, float[] y, int yo, int ys) {
        int end = vectorEnd(m.cols), full = end & -128;
        int x0 = xo, x1 = xo + xs, x2 = xo + 2 * xs, x3 = xo + 3 * xs;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c0 = 0; c0 < end; c0 += 128) {
            int pairs = c0 < full ? c0 + 128 : c0 + (end - c0) / (2 * L) * (2 * L), stop = Math.min(c0 + 128, end);
            FloatVector k0 = FloatVector.zero(F), k1 = k0, k2 = k0, k3 = k0, l0 = k0, l1 = k0, l2 = k0, l3 = k0;
            for (int c = c0; c < pairs; c += 2 * L) {
                FloatVector v = x(wd, c), u = x(wd, c + L);
                k0 = v.fma(x(x, x0 + c), k0);
                k1 = v.fma(x(x, x1 + c), k1);
                k2 = v.fma(x(x, x2 + c), k2);
                k3 = v.fma(x(x, x3 + c), k3);
                l0 = u.fma(x(x, x0 + c + L), l0);
                l1 = u.fma(x(x, x1 + c + L), l1);
                l2 = u.fma(x(x, x2 + c + L), l2);
                l3 = u.fma(x(x, x3 + c + L), l3);
            }
            if (pairs < stop) {
                FloatVector v = x(wd, pairs);
                k0 = v.fma(x(x, x0 + pairs), k0);
                k1 = v.fma(x(x, x1 + pairs), k1);
                k2 = v.fma(x(x, x2 + pairs), k2);
                k3 = v.fma(x(x, x3 + pairs), k3);
            }
            FloatVector s = scale(m, r, c0);
            a0 = k0.add(l0).fma(s, a0);
            a1 = k1.add(l1).fma(s, a1);
            a2 = k2.add(l2).fma(s, a2);
            a3 = k3.add(l3).fma(s, a3);
        }
        y[yo] = sum(a0) + fp8Tail(m, r, end, x, x0);
        y[yo + ys] = sum(a1) + fp8Tail(m, r, end, x, x1);
        y[yo + 2 * ys] = sum(a2) + fp8Tail(m, r, end, x, x2);
        y[yo + 3 * ys] = sum(a3) + fp8Tail(m, r, end, x, x3);
    }

    // ---------------------------------------------------------------------------------------------------
    // FP8 by lanes, for widths that are whole 128-blocks with E8M0 (power-of-two) scales: every V4 weight but
    // Flash-Base's F32-scaled ones.
    //
    // Decode: a load of 4L bytes as L ints puts byte j of each int (column 4i + j of the group) in lane i;
    // byte j is decoded by shifts alone (up to the top, arithmetic shift down to sign-extend and place
    // exponent and mantissa at 26..20, mask), with no widening conversion, into its own sum: four independent
    // FMA chains. The inputs arrive regrouped to match (fp8Regroup).
    //
    // Scales: a power of two multiplies exactly, so Σ_c w_c·(x_c·s_block(c)) has the very products of
    // Σ_blocks s·Σ w·x. The kernel scales the input once per 128-row block (rowInput) and then runs one long
    // loop per row with no block structure. The input also carries 2^64, so the decode's 2^−120 needs no
    // multiply: w·2^−120 · x·2^64 is the product times 2^−56 (normal unless |w·x| < 2^−70), and the row's sum
    // is scaled back by 2^56 at the end. In the caches this runs at about 10 G weights/s per core, against 5
    // to 6 with per-block sums or a widening decode (JMH, mb=1).

    private static final float X_PRESCALE = 0x1p64f, Y_RESCALE = 0x1p56f;

    /** Whether m's products run on the lane layout. */
    static boolean fp8Lanes(Matrix.Fp8 m) { return m.cols % 128 == 0 && 128 % (4 * L) == 0 && !m.f32Scales(); }

    /** Every group of 4L inputs as x[g + 4i + j]·2^64 at g + L·j + i. */
    static void fp8Regroup(float[] x, int xo, float[] out, int oo, int cols) {
        int G = 4 * L;
        for (int g = 0; g < cols; g += G)
            for (int i = 0; i < L; i++)
                for (int j = 0; j < 4; j++) out[oo + g + L * j + i] = x[xo + g + 4 * i + j] * X_PRESCALE;
    }

    /** The n regrouped inputs times the scales of row block rb, into sc.xs (n·cols). */
    private static float[] rowInput(Matrix.Fp8 m, int rb, float[] x, int xOff, int xStride, int n, Scratch sc) {
        float[] xs = sc.xs(n * m.cols);
        for (int i = 0; i < n; i++)
            for (int c0 = 0; c0 < m.cols; c0 += 128) {
                FloatVector s = FloatVector.broadcast(F, m.scale(rb << 7, c0 >> 7));
                for (int c = c0; c < c0 + 128; c += L) x(x, xOff + i * xStride + c).mul(s).intoArray(xs, i * m.cols + c);
            }
        return xs;
    }

    private static void fp8ByLanes(Matrix.Fp8 m, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
        // One method per case: together they exceed C2's inlining budget, and a vector operation left as a
        // call runs a hundred times slower.
        if (n == 1) fp8LanesOneInput(m, x, xOff, y, yOff, r0, r1);
        else fp8LanesInputs(m, x, xOff, xStride, n, y, yOff, yStride, r0, r1);
    }

    private static void fp8LanesOneInput(Matrix.Fp8 m, float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
        Scratch sc = SCRATCH.get().size(m.cols);
        float[] xs = null;
        int rb = -1;
        for (int r = r0; r < r1; r++) {
            if (r >> 7 != rb) xs = rowInput(m, rb = r >> 7, x, xOff, 0, 1, sc);
            if (r + 1 < r1 && (r + 1) >> 7 == rb) {
                fp8LaneRows2(m, r, xs, y, yOff + r);
                r++;
            } else {
                y[yOff + r] = fp8LaneDot(m, r, xs, 0);
            }
        }
    }

    /** Rows per tile and columns per chunk of the many-input FP8 product (see fp8LanesInputs). */
    private static final int FP8_TILE_ROWS = 16, FP8_CHUNK = 1024;

    /**
     * Many inputs: tiles of 16 rows × chunks of 1024 columns, so the chunk of every input (n × 4 KB) stays in
     * L2 while the tile's rows pass over it, and one input pair's chunk (8 KB) and the decoded row chunk
     * (4 KB) in L1. Each (row, input) keeps its two chains in memory between chunks: its sums still run in
     * column order, the same operations as fp8LaneDot.
     */
    private static void fp8LanesInputs(Matrix.Fp8 m, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
        Scratch sc = SCRATCH.get().size(m.cols);
        float[] xs = null;
        int rb = -1, cols = m.cols, chains = 2 * L;
        float[] acc = sc.acc(FP8_TILE_ROWS * n * chains);
        for (int t0 = r0; t0 < r1; ) {
            if (t0 >> 7 != rb) xs = rowInput(m, rb = t0 >> 7, x, xOff, xStride, n, sc);
            int t1 = Math.min(Math.min(r1, t0 + FP8_TILE_ROWS), (rb + 1) << 7);
            java.util.Arrays.fill(acc, 0, (t1 - t0) * n * chains, 0f);
            for (int c0 = 0; c0 < cols; c0 += FP8_CHUNK) {
                int c1 = Math.min(cols, c0 + FP8_CHUNK);
                int r = t0;
                for (; r + 2 <= t1; r += 2) {   // two rows × two inputs: one load per FMA
                    fp8LaneDecode(m, r, c0, c1, sc.row);
                    fp8LaneDecode(m, r + 1, c0, c1, sc.row2);
                    int ao = (r - t0) * n * chains, ao2 = ao + n * chains, i = 0;
                    for (; i + 2 <= n; i += 2)
                        fp8LaneChunk2x2(sc.row, sc.row2, c1 - c0, xs, i * cols + c0, cols, acc, ao + i * chains, ao2 + i * chains);
                    if (i < n) {
                        fp8LaneChunk1(sc.row, c1 - c0, xs, i * cols + c0, acc, ao + i * chains);
                        fp8LaneChunk1(sc.row2, c1 - c0, xs, i * cols + c0, acc, ao2 + i * chains);
                    }
                }
                if (r < t1) {
                    fp8LaneDecode(m, r, c0, c1, sc.row);
                    int ao = (r - t0) * n * chains, i = 0;
                    for (; i + 2 <= n; i += 2) fp8LaneChunk2(sc.row, c1 - c0, xs, i * cols + c0, cols, acc, ao + i * chains);
                    if (i < n) fp8LaneChunk1(sc.row, c1 - c0, xs, i * cols + c0, acc, ao + i * chains);
                }
            }
            for (int r = t0; r < t1; r++)
                for (int i = 0; i < n; i++) {
                    int ao = ((r - t0) * n + i) * chains;
                    y[yOff + i * yStride + r] = sum(x(acc, ao).add(x(acc, ao + L))) * Y_RESCALE;
                }
            t0 = t1;
        }
    }

    /** Columns [c0, c1) of row r, decoded as fp8LaneDot decodes them (regrouped order), into buf[0 ..). */
    private static void fp8LaneDecode(Matrix.Fp8 m, int r, int c0, int c1, float[] buf) {
        MemorySegment w = m.w;
        long base = (long) r * m.cols;
        for (int c = c0; c < c1; c += 4 * L) {
            IntVector v = IntVector.fromMemorySegment(I, w, base + c, LE);
            int o = c - c0;
            v.lanewise(LSHL, 24).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().intoArray(buf, o);
            v.lanewise(LSHL, 16).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().intoArray(buf, o + L);
            v.lanewise(LSHL, 8).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().intoArray(buf, o + 2 * L);
            v.lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().intoArray(buf, o + 3 * L);
        }
    }

    /** A decoded chunk against two inputs (xs at xo and xo + stride), chains a, b of each at acc[ao ..]. */
    private static void fp8LaneChunk2(float[] wd, int len, float[] xs, int xo, int stride, float[] acc, int ao) {
        int x1 = xo + stride, ao1 = ao + 2 * L;
        FloatVector a0 = x(acc, ao), b0 = x(acc, ao + L), a1 = x(acc, ao1), b1 = x(acc, ao1 + L);
        for (int c = 0; c < len; c += 4 * L) {
            FloatVector w0 = x(wd, c), w1 = x(wd, c + L), w2 = x(wd, c + 2 * L), w3 = x(wd, c + 3 * L);
            a0 = w0.fma(x(xs, xo + c), a0);
            a1 = w0.fma(x(xs, x1 + c), a1);
            b0 = w1.fma(x(xs, xo + c + L), b0);
            b1 = w1.fma(x(xs, x1 + c + L), b1);
            a0 = w2.fma(x(xs, xo + c + 2 * L), a0);
            a1 = w2.fma(x(xs, x1 + c + 2 * L), a1);
            b0 = w3.fma(x(xs, xo + c + 3 * L), b0);
            b1 = w3.fma(x(xs, x1 + c + 3 * L), b1);
        }
        a0.intoArray(acc, ao);
        b0.intoArray(acc, ao + L);
        a1.intoArray(acc, ao1);
        b1.intoArray(acc, ao1 + L);
    }

    /** fp8LaneChunk2 for two decoded rows (chains at acc[aoA ..] and acc[aoB ..]): each input vector loaded once for both. */
    private static void fp8LaneChunk2x2(float[] wa, float[] wb, int len, float[] xs, int xo, int stride, float[] acc, int aoA, int aoB) {
        int x1 = xo + stride, L2 = 2 * L;
        FloatVector a0 = x(acc, aoA), b0 = x(acc, aoA + L), a1 = x(acc, aoA + L2), b1 = x(acc, aoA + L2 + L);
        FloatVector c0 = x(acc, aoB), d0 = x(acc, aoB + L), c1 = x(acc, aoB + L2), d1 = x(acc, aoB + L2 + L);
        for (int c = 0; c < len; c += 2 * L) {
            FloatVector p = x(xs, xo + c), q = x(xs, x1 + c), wA = x(wa, c), wB = x(wb, c);
            a0 = wA.fma(p, a0);
            a1 = wA.fma(q, a1);
            c0 = wB.fma(p, c0);
            c1 = wB.fma(q, c1);
            p = x(xs, xo + c + L);
            q = x(xs, x1 + c + L);
            wA = x(wa, c + L);
            wB = x(wb, c + L);
            b0 = wA.fma(p, b0);
            b1 = wA.fma(q, b1);
            d0 = wB.fma(p, d0);
            d1 = wB.fma(q, d1);
        }
        a0.intoArray(acc, aoA);
        b0.intoArray(acc, aoA + L);
        a1.intoArray(acc, aoA + L2);
        b1.intoArray(acc, aoA + L2 + L);
        c0.intoArray(acc, aoB);
        d0.intoArray(acc, aoB + L);
        c1.intoArray(acc, aoB + L2);
        d1.intoArray(acc, aoB + L2 + L);
    }

    /** fp8LaneChunk2 for one input. */
    private static void fp8LaneChunk1(float[] wd, int len, float[] xs, int xo, float[] acc, int ao) {
        FloatVector a = x(acc, ao), b = x(acc, ao + L);
        for (int c = 0; c < len; c += 4 * L) {
            a = x(wd, c).fma(x(xs, xo + c), a);
            b = x(wd, c + L).fma(x(xs, xo + c + L), b);
            a = x(wd, c + 2 * L).fma(x(xs, xo + c + 2 * L), a);
            b = x(wd, c + 3 * L).fma(x(xs, xo + c + 3 * L), b);
        }
        a.intoArray(acc, ao);
        b.intoArray(acc, ao + L);
    }

    /**
     * Row r against the scaled input xs: (a + b) · 2^56, where chain a sums bytes 0 and 2 of every group and
     * chain b bytes 1 and 3 (in group order, alternating). Every path keeps exactly this order.
     */
    private static float fp8LaneDot(Matrix.Fp8 m, int r, float[] xs, int xo) {
        MemorySegment w = m.w;
        long base = (long) r * m.cols;
        FloatVector a = FloatVector.zero(F), b = a;
        for (int c = 0; c < m.cols; c += 4 * L) {
            IntVector v = IntVector.fromMemorySegment(I, w, base + c, LE);
            a = v.lanewise(LSHL, 24).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x(xs, xo + c), a);
            b = v.lanewise(LSHL, 16).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x(xs, xo + c + L), b);
            a = v.lanewise(LSHL, 8).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x(xs, xo + c + 2 * L), a);
            b = v.lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x(xs, xo + c + 3 * L), b);
        }
        return sum(a.add(b)) * Y_RESCALE;
    }

    /**
     * fp8LaneDot for rows r and r+1 (same row block): two weight streams in flight per core, which one
     * stream does not reach, and four chains.
     */
    private static void fp8LaneRows2(Matrix.Fp8 m, int r, float[] xs, float[] y, int yo) {
        MemorySegment w = m.w;
        long b0 = (long) r * m.cols, b1 = b0 + m.cols;
        FloatVector a0 = FloatVector.zero(F), c0 = a0, a1 = a0, c1 = a0;
        for (int c = 0; c < m.cols; c += 4 * L) {
            IntVector v = IntVector.fromMemorySegment(I, w, b0 + c, LE), u = IntVector.fromMemorySegment(I, w, b1 + c, LE);
            FloatVector x0 = x(xs, c), x1 = x(xs, c + L), x2 = x(xs, c + 2 * L), x3 = x(xs, c + 3 * L);
            a0 = v.lanewise(LSHL, 24).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x0, a0);
            a1 = u.lanewise(LSHL, 24).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x0, a1);
            c0 = v.lanewise(LSHL, 16).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x1, c0);
            c1 = u.lanewise(LSHL, 16).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x1, c1);
            a0 = v.lanewise(LSHL, 8).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x2, a0);
            a1 = u.lanewise(LSHL, 8).lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x2, a1);
            c0 = v.lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x3, c0);
            c1 = u.lanewise(ASHR, 4).and(0x87F0_0000).reinterpretAsFloats().fma(x3, c1);
        }
        y[yo] = sum(a0.add(c0)) * Y_RESCALE;
        y[yo + 1] = sum(a1.add(c1)) * Y_RESCALE;
    }

    // ---------------------------------------------------------------------------------------------------
    // FP4 (packed E2M1, one E8M0 scale per 32 inputs). A group is L packed bytes (2L inputs); the inputs arrive
    // regrouped (fp4Regroup) so that a group's low nibbles meet the first L of them and its high nibbles the
    // next L. Every group converts lanes 0..L−1 of a 16-byte vector, so no lane shifting is needed.

    /** Every 2L inputs as their L even columns, then their L odd columns. */
    static void fp4Regroup(float[] x, int xo, float[] out, int oo, int cols) {
        for (int g = 0; g < cols; g += 2 * L) {
            for (int j = 0; j < L; j++) {
                out[oo + g + j] = x[xo + g + 2 * j];
                out[oo + g + L + j] = x[xo + g + 2 * j + 1];
            }
        }
    }

    static void fp4(Matrix.Fp4 m, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
        Scratch sc = n > 1 ? SCRATCH.get().size(m.cols) : null;
        for (int r = r0; r < r1; r++) {
            if (lastRow(m, r)) {
                for (int i = 0; i < n; i++) y[yOff + i * yStride + r] = fp4DotLanes(m, r, x, xOff + i * xStride);
            } else if (n == 1) {
                y[yOff + r] = fp4Dot(m, r, x, xOff);
            } else {
                fp4Decode(m, r, sc.row, sc.scales);
                int i = 0;
                for (; i + 4 <= n; i += 4) fp4DotDecoded4(m, sc.row, sc.scales, x, xOff + i * xStride, xStride, y, yOff + i * yStride + r, yStride);
                for (; i < n; i++) y[yOff + i * yStride + r] = fp4DotDecoded(m, sc.row, sc.scales, x, xOff + i * xStride);
            }
        }
    }

    /** 16 bytes from off, of which lanes 0..L−1 are used (so a row's last group reads into the next row). */
    private static ByteVector group(MemorySegment w, long off) { return ByteVector.fromMemorySegment(B16, w, off, LE); }

    /** True if row r's last group would read past the end of the weights: that row goes through fp4DotLanes. */
    private static boolean lastRow(Matrix.Fp4 m, int r) { return (long) (r + 1) * (m.cols >> 1) + 16 - L > m.w.byteSize(); }

    /**
     * fp4Dot in scalar code, lane by lane: the same fused multiply-adds on the same values in the same order,
     * so the same bits. Only for the row at the very end of the weights, where a 16-byte load would overrun.
     */
    private static float fp4DotLanes(Matrix.Fp4 m, int r, float[] x, int xo) { return fp4Tree(m, r, x, xo, 0, 1); }

    /** {@link #sum}'s tree over the lanes of fp4Dot's accumulator: lane j once strides ≥ s are folded in. */
    private static float fp4Tree(Matrix.Fp4 m, int r, float[] x, int xo, int j, int s) {
        return s == L ? fp4Lane(m, r, x, xo, j) : fp4Tree(m, r, x, xo, j, 2 * s) + fp4Tree(m, r, x, xo, j + s, 2 * s);
    }

    /** Lane j of fp4Dot's accumulator. */
    private static float fp4Lane(Matrix.Fp4 m, int r, float[] x, int xo, int j) {
        int blocks = m.cols >> 5;
        long wb = (long) r * (m.cols >> 1), sb = (long) r * blocks;
        float acc = 0f;
        for (int b = 0; b < blocks; b++) {
            float blk = 0f;
            for (int g = 0; g < 16 / L; g++) {
                int packed = m.w.get(ValueLayout.JAVA_BYTE, wb + 16L * b + L * g + j) & 0xFF;
                int c = xo + 32 * b + 2 * L * g + j;
                float k = Math.fma(E2M1_X2_CODES[packed >>> 4], x[c + L], E2M1_X2_CODES[packed & 0xF] * x[c]);
                blk = g == 0 ? k : blk + k;
            }
            acc = Math.fma(blk, E8M0_HALF[m.s.get(ValueLayout.JAVA_BYTE, sb + b) & 0xFF], acc);
        }
        return acc;
    }

    /** 2·E2M1 of the low nibbles of all 16 bytes, as bytes. */
    private static ByteVector lowCodes(ByteVector packed) { return packed.and((byte) 0x0F).selectFrom(E2M1_X2); }

    /** 2·E2M1 of the high nibbles of all 16 bytes, as bytes. */
    private static ByteVector highCodes(ByteVector packed) {
        return packed.reinterpretAsShorts().lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0x0F).selectFrom(E2M1_X2);
    }

    /** Bytes 8·part .. 8·part+7 as floats. */
    private static FloatVector toFloats(ByteVector codes, int part) { return (FloatVector) codes.convertShape(B2F, F, part); }

    /** 2·E2M1 of the low (even-column) nibbles. */
    private static FloatVector low(ByteVector packed) {
        return (FloatVector) packed.and((byte) 0x0F).selectFrom(E2M1_X2).convertShape(B2F, F, 0);
    }

    /** 2·E2M1 of the high (odd-column) nibbles (shifted in 16-bit lanes: x86 has no byte shift). */
    private static FloatVector high(ByteVector packed) {
        ByteVector codes = packed.reinterpretAsShorts().lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0x0F);
        return (FloatVector) codes.selectFrom(E2M1_X2).convertShape(B2F, F, 0);
    }

    private static FloatVector scale(Matrix.Fp4 m, long scaleIndex) {
        return FloatVector.broadcast(F, E8M0_HALF[m.s.get(ValueLayout.JAVA_BYTE, scaleIndex) & 0xFF]);
    }

    private static float fp4Dot(Matrix.Fp4 m, int r, float[] x, int xo) {
        MemorySegment w = m.w;
        int blocks = m.cols >> 5;
        long wb = (long) r * (m.cols >> 1), sb = (long) r * blocks;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long o = wb + 16L * b;
            int c = xo + 32 * b;
            ByteVector p = group(w, o);
            FloatVector blk;
            if (L == 8) {   // one 16-byte load and one table lookup per nibble half for the block's two groups
                ByteVector lo = lowCodes(p), hi = highCodes(p);
                blk = toFloats(hi, 0).fma(x(x, c + L), toFloats(lo, 0).mul(x(x, c)));
                blk = blk.add(toFloats(hi, 1).fma(x(x, c + 24), toFloats(lo, 1).mul(x(x, c + 16))));
            } else {
                blk = high(p).fma(x(x, c + L), low(p).mul(x(x, c)));
            }
            acc = blk.fma(scale(m, sb + b), acc);
        }
        return sum(acc);
    }

    /** Row r's 2·E2M1 values in the regrouped input order, and its block scales / 2, as fp4Dot uses them. */
    private static void fp4Decode(Matrix.Fp4 m, int r, float[] buf, float[] scales) {
        MemorySegment w = m.w;
        int blocks = m.cols >> 5;
        long row = (long) r * (m.cols >> 1), sr = (long) r * blocks;
        for (int g = 0; g < blocks * (16 / L); g++) {
            ByteVector p = group(w, row + (long) L * g);
            low(p).intoArray(buf, 2 * L * g);
            high(p).intoArray(buf, 2 * L * g + L);
        }
        for (int b = 0; b < blocks; b++) scales[b] = E8M0_HALF[m.s.get(ValueLayout.JAVA_BYTE, sr + b) & 0xFF];
    }

    /** fp4Dot over a row decoded by fp4Decode: the same operations on the same values. */
    private static float fp4DotDecoded(Matrix.Fp4 m, float[] wd, float[] scales, float[] x, int xo) {
        int blocks = m.cols >> 5;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            int c = 32 * b;
            FloatVector blk = x(wd, c + L).fma(x(x, xo + c + L), x(wd, c).mul(x(x, xo + c)));
            if (L == 8) blk = blk.add(x(wd, c + 24).fma(x(x, xo + c + 24), x(wd, c + 16).mul(x(x, xo + c + 16))));
            acc = blk.fma(FloatVector.broadcast(F, scales[b]), acc);
        }
        return sum(acc);
    }

    /** fp4DotDecoded for four inputs at once. */
    private static void fp4DotDecoded4(Matrix.Fp4 m, float[] wd, float[] scales, float[] x, int xo, int xs, float[] y, int yo, int ys) {
        int blocks = m.cols >> 5;
        int x0 = xo, x1 = xo + xs, x2 = xo + 2 * xs, x3 = xo + 3 * xs;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < blocks; b++) {
            int c = 32 * b;
            FloatVector lo = x(wd, c), hi = x(wd, c + L);
            FloatVector k0 = hi.fma(x(x, x0 + c + L), lo.mul(x(x, x0 + c)));
            FloatVector k1 = hi.fma(x(x, x1 + c + L), lo.mul(x(x, x1 + c)));
            FloatVector k2 = hi.fma(x(x, x2 + c + L), lo.mul(x(x, x2 + c)));
            FloatVector k3 = hi.fma(x(x, x3 + c + L), lo.mul(x(x, x3 + c)));
            if (L == 8) {
                lo = x(wd, c + 16);
                hi = x(wd, c + 24);
                k0 = k0.add(hi.fma(x(x, x0 + c + 24), lo.mul(x(x, x0 + c + 16))));
                k1 = k1.add(hi.fma(x(x, x1 + c + 24), lo.mul(x(x, x1 + c + 16))));
                k2 = k2.add(hi.fma(x(x, x2 + c + 24), lo.mul(x(x, x2 + c + 16))));
                k3 = k3.add(hi.fma(x(x, x3 + c + 24), lo.mul(x(x, x3 + c + 16))));
            }
            FloatVector s = FloatVector.broadcast(F, scales[b]);
            a0 = k0.fma(s, a0);
            a1 = k1.fma(s, a1);
            a2 = k2.fma(s, a2);
            a3 = k3.fma(s, a3);
        }
        y[yo] = sum(a0);
        y[yo + ys] = sum(a1);
        y[yo + 2 * ys] = sum(a2);
        y[yo + 3 * ys] = sum(a3);
    }

    /**
     * Per-thread buffers of the n-input kernels: one decoded row (the quantised formats decode a row once and
     * multiply it with every input from L1/L2) and its block scales. At most one row: no weight is copied.
     */
    private static final class Scratch {
        float[] row = new float[4096], row2 = new float[FP8_CHUNK], scales = new float[128], xs = new float[0];

        float[] acc = new float[0];

        float[] acc(int size) {
            if (acc.length < size) acc = new float[size];
            return acc;
        }

        float[] xs(int size) {
            if (xs.length < size) xs = new float[size];
            return xs;
        }

        Scratch size(int cols) {
            if (row.length < cols) {
                row = new float[cols];
                scales = new float[cols / 32 + 1];
            }
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
}
