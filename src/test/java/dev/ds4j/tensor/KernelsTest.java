package dev.ds4j.tensor;

import dev.ds4j.model.Numerics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The vector kernels against the scalar reference kernels and against the exact product (float64 over the
 * dequantised row), on random matrices of every format and ragged shapes; batched and threaded products
 * against single ones, bit for bit.
 *
 * <p>Tolerance: a float sum in which each term passes through at most d roundings is off by at most
 * γ_d·Σ|w·x| with γ_d = d·ε/(1 − d·ε), ε = 2^−24 (Higham, §3.1). Products of dequantised values are fused
 * (FMA) or exact, so d counts additions: the scalar kernels add one term after another (d ≤ cols + 2); the
 * vector kernels add cols/L terms per lane, then the block sums, then L lanes, then the ragged tail.
 */
class KernelsTest {
    static final Arena ARENA = Arena.ofAuto();
    static final double EPS = 0x1p-24;

    /** Formats × shapes, including rows and cols that are no multiple of 4, 8, 16 or 128 (hidden 192: a 64-wide FP8 block). */
    static Stream<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        int[][] dense = {{1, 1}, {1, 8}, {3, 5}, {5, 17}, {7, 100}, {33, 192}, {130, 260}, {64, 1000}, {9, 4096}, {260, 1152}};
        for (String f : new String[]{"f32", "bf16", "fp8", "fp8-f32scales"})
            for (int[] s : dense) out.add(Arguments.of(f, s[0], s[1]));
        int[][] fp4 = {{1, 32}, {3, 64}, {5, 96}, {37, 192}, {130, 416}, {9, 4096}};
        for (int[] s : fp4) out.add(Arguments.of("fp4", s[0], s[1]));
        return out.stream();
    }

    @Test
    void vectorKernelsAreOnInTheTestJvm() {
        assertThat(Matrix.kernels()).startsWith("vector");
        String bits = System.getProperty("ds4j.vector.bits");   // e.g. -Dds4j.vector.bits=512 runs the AVX-512 code paths anywhere
        if (bits != null) assertThat(Matrix.kernels()).contains(bits + "-bit");
    }

    @ParameterizedTest(name = "{0} [{1}, {2}]")
    @MethodSource("shapes")
    void vectorAndScalarKernelsStayWithinTheFloatErrorBound(String format, int rows, int cols) {
        SplittableRandom rnd = new SplittableRandom(rows * 31L + cols);
        Matrix m = random(format, rows, cols, rnd);
        float[] x = input(cols, rnd);
        float[] vec = new float[rows], ref = new float[rows], row = new float[cols];
        m.matvec(x, vec);
        m.scalarRows(x, 0, ref, 0, 0, rows);
        int lanes = Matrix.kernels().startsWith("vector (512") ? 16 : 8;
        int dVector = cols / lanes + (cols + 31) / 32 + lanes + 2, dScalar = cols + (cols + 31) / 32 + 2;
        for (int r = 0; r < rows; r++) {
            m.row(r, row, 0);
            double exact = 0, magnitude = 0;
            for (int c = 0; c < cols; c++) {
                exact += (double) row[c] * x[c];
                magnitude += Math.abs((double) row[c] * x[c]);
            }
            assertThat(Math.abs(vec[r] - exact)).as("vector row %d", r).isLessThanOrEqualTo(gamma(dVector) * magnitude);
            assertThat(Math.abs(ref[r] - exact)).as("scalar row %d", r).isLessThanOrEqualTo(gamma(dScalar) * magnitude);
        }
    }

    @ParameterizedTest(name = "{0} [{1}, {2}]")
    @MethodSource("shapes")
    void matmulRowsAreBitIdenticalToMatvec(String format, int rows, int cols) {
        SplittableRandom rnd = new SplittableRandom(rows * 17L + cols);
        Matrix m = random(format, rows, cols, rnd);
        for (int n : new int[]{1, 2, 3, 4, 5, 7, 8, 16}) {
            int xStride = cols + 3, yStride = rows + 2;
            float[] x = input(n * xStride, rnd), y = new float[n * yStride + 1];
            m.matmul(x, 0, xStride, n, y, 1, yStride, 0, rows);
            for (int i = 0; i < n; i++) {
                float[] solo = new float[rows];
                m.matvec(x, i * xStride, solo, 0, rows);
                for (int r = 0; r < rows; r++)
                    assertThat(Float.floatToRawIntBits(y[1 + i * yStride + r])).as("n=%d input %d row %d", n, i, r)
                            .isEqualTo(Float.floatToRawIntBits(solo[r]));
            }
        }
    }

    @Test
    void rowRangesAndTheSoloPathGiveTheSameRows() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (String format : new String[]{"f32", "bf16", "fp8", "fp4"}) {
            Matrix m = random(format, 67, 256, rnd);
            float[] x = input(256, rnd), all = new float[67], part = new float[67];
            m.matvec(x, all);
            m.matvec(x, 0, part, 3, 42);    // starts and ends inside a tile of four rows
            for (int r = 3; r < 42; r++) assertThat(Float.floatToRawIntBits(part[r])).as(format + " row " + r).isEqualTo(Float.floatToRawIntBits(all[r]));
            assertThat(part[2]).isZero();
            assertThat(part[42]).isZero();
        }
    }

    @Test
    void splitProductsAreBitIdenticalToUnsplitOnes() {
        assumeTrue(Matrix.threads() > 1, "one core: nothing is split");
        SplittableRandom rnd = new SplittableRandom(11);
        Object[][] big = {{"f32", 301, 1000}, {"bf16", 515, 1000}, {"fp8", 1030, 600}, {"fp4", 1001, 1024}};
        for (Object[] b : big) {
            int rows = (int) b[1], cols = (int) b[2];
            Matrix m = random((String) b[0], rows, cols, rnd);
            for (int n : new int[]{1, 5}) {
                float[] x = input(n * cols, rnd), split = new float[n * rows], single = new float[n * rows];
                long before = KernelPool.splits();
                m.product(x, 0, cols, n, split, 0, rows, 0, rows, true);
                assertThat(KernelPool.splits()).as("%s was split", b[0]).isGreaterThan(before);
                m.product(x, 0, cols, n, single, 0, rows, 0, rows, false);
                assertThat(bits(split)).as("%s n=%d", b[0], n).isEqualTo(bits(single));
            }
        }
    }

    @Test
    void productsCalledFromManyThreadsAtOnceFinishWithTheSameBits() throws Exception {
        SplittableRandom rnd = new SplittableRandom(12);
        Matrix m = random("fp8", 1024, 1024, rnd);
        float[] x = input(1024, rnd), want = new float[1024];
        m.product(x, 0, 0, 1, want, 0, 0, 0, 1024, false);
        ExecutorService callers = Executors.newFixedThreadPool(6);   // more callers than cores, like a batched step
        try {
            List<Future<float[]>> fs = new ArrayList<>();
            for (int t = 0; t < 24; t++) fs.add(callers.submit(() -> {
                float[] y = new float[1024];
                for (int k = 0; k < 20; k++) m.matvec(x, y);
                return y;
            }));
            for (Future<float[]> f : fs) assertThat(bits(f.get(60, java.util.concurrent.TimeUnit.SECONDS))).isEqualTo(bits(want));
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void everyE4M3CodeAndEveryE2M1CodeDecodesExactly() {
        // Row r holds code r in column 0 (FP8) and codes r%16 / r/16 in columns 0 / 1 (FP4); x picks column 0 or 1.
        int cols = 32;
        MemorySegment w8 = ARENA.allocate(256L * cols), s8 = ARENA.allocate(2 * 1);
        for (int r = 0; r < 256; r++) w8.set(ValueLayout.JAVA_BYTE, (long) r * cols, (byte) r);
        s8.set(ValueLayout.JAVA_BYTE, 0, (byte) 124);   // 2^-3
        s8.set(ValueLayout.JAVA_BYTE, 1, (byte) 130);   // 2^3
        Matrix fp8 = new Matrix.Fp8("codes", 256, cols, w8, s8, false);
        MemorySegment w4 = ARENA.allocate(256L * cols / 2), s4 = ARENA.allocate(256);
        for (int r = 0; r < 256; r++) {
            w4.set(ValueLayout.JAVA_BYTE, (long) r * cols / 2, (byte) r);
            s4.set(ValueLayout.JAVA_BYTE, r, (byte) (r % 2 == 0 ? 0 : 127 + r % 7));   // includes 2^-127 (E8M0 0)
        }
        Matrix fp4 = new Matrix.Fp4("codes", 256, cols, w4, s4);
        float[] y = new float[256];
        for (int col = 0; col < 2; col++) {
            float[] x = new float[cols];
            x[col] = 1f;
            fp8.matvec(x, y);
            for (int r = 0; r < 256; r++) {
                if (Float.isNaN(Formats.E4M3[r])) continue;   // the NaN codes: see VectorKernels.e4m3
                float want = col == 0 ? Formats.E4M3[r] * (r < 128 ? 0.125f : 8f) : 0f;
                assertThat(y[r] == want).as("E4M3 code %02x: %s, want %s", r, y[r], want).isTrue();
            }
            fp4.matvec(x, y);
            for (int r = 0; r < 256; r++) {
                int code = col == 0 ? r & 0xF : r >>> 4;
                float want = Formats.E2M1[code] * Formats.E8M0[s4.get(ValueLayout.JAVA_BYTE, r) & 0xFF];
                assertThat(y[r] == want).as("E2M1 code %x row %d: %s, want %s", code, r, y[r], want).isTrue();
            }
        }
    }

    @Test
    void batchedLinearIsBitIdenticalToSoloLinearInBothNumerics() {
        SplittableRandom rnd = new SplittableRandom(13);
        for (String format : new String[]{"f32", "bf16", "fp8", "fp4"}) {
            Matrix m = random(format, 70, 320, rnd);
            int n = 6, cols = 320, rows = 70;
            float[] x = input(n * cols, rnd);
            for (Numerics num : Numerics.values()) {
                float[] batched = new float[n * rows];
                num.linear(m, x, 0, cols, n, batched, 0, rows, new float[n * cols]);
                for (int i = 0; i < n; i++) {
                    float[] solo = new float[rows];
                    num.linear(m, x, i * cols, solo, new float[cols]);
                    for (int r = 0; r < rows; r++)
                        assertThat(Float.floatToRawIntBits(batched[i * rows + r])).as("%s %s input %d row %d", format, num, i, r)
                                .isEqualTo(Float.floatToRawIntBits(solo[r]));
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------

    static double gamma(int d) { return d * EPS / (1 - d * EPS); }

    static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }

    /** Inputs of mixed sign and magnitude, a few exact zeros. */
    static float[] input(int n, SplittableRandom rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rnd.nextInt(50) == 0 ? 0f : (float) (rnd.nextGaussian() * Math.pow(2, rnd.nextInt(-6, 4)));
        return x;
    }

    /** A random matrix in the given format, its bytes in native memory as a checkpoint's would be. */
    static Matrix random(String format, int rows, int cols, SplittableRandom rnd) {
        switch (format) {
            case "f32" -> {
                MemorySegment w = ARENA.allocate(4L * rows * cols);
                for (long i = 0; i < (long) rows * cols; i++) w.set(Matrix.F32_LE, 4 * i, (float) rnd.nextGaussian());
                return new Matrix.F32("w", rows, cols, w);
            }
            case "bf16" -> {
                MemorySegment w = ARENA.allocate(2L * rows * cols);
                for (long i = 0; i < (long) rows * cols; i++) w.set(Matrix.I16_LE, 2 * i, Formats.floatToBf16((float) (rnd.nextGaussian() * 0.05)));
                return new Matrix.Bf16("w", rows, cols, w);
            }
            case "fp8", "fp8-f32scales" -> {
                boolean f32 = format.endsWith("f32scales");
                int sr = Matrix.ceilDiv(rows, 128), sc = Matrix.ceilDiv(cols, 128);
                MemorySegment w = ARENA.allocate((long) rows * cols), s = ARENA.allocate((long) sr * sc * (f32 ? 4 : 1));
                for (long i = 0; i < (long) rows * cols; i++) {
                    int code;
                    do code = rnd.nextInt(256); while ((code & 0x7F) == 0x7F);   // no NaN codes
                    w.set(ValueLayout.JAVA_BYTE, i, (byte) code);
                }
                for (int i = 0; i < sr * sc; i++) {
                    if (f32) s.set(Matrix.F32_LE, 4L * i, (float) (rnd.nextDouble() * 0.01));
                    else s.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(115, 131));
                }
                return new Matrix.Fp8("w", rows, cols, w, s, f32);
            }
            case "fp4" -> {
                MemorySegment w = ARENA.allocate((long) rows * cols / 2), s = ARENA.allocate((long) rows * cols / 32);
                for (long i = 0; i < (long) rows * cols / 2; i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
                for (long i = 0; i < (long) rows * cols / 32; i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(115, 131));
                return new Matrix.Fp4("w", rows, cols, w, s);
            }
            default -> throw new IllegalArgumentException(format);
        }
    }
}
