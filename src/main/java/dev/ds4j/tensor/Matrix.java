package dev.ds4j.tensor;

import dev.ds4j.checkpoint.CheckpointException;
import dev.ds4j.checkpoint.DType;
import dev.ds4j.checkpoint.TensorInfo;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A weight matrix [rows, cols] read straight from its memory-mapped checkpoint bytes. Dequantisation is fused
 * into every product: no dequantised copy of a weight is ever made. Dequantisation is exact (§7.3), so the
 * products are plain-numerics matmuls on the stored values, accumulated in fp32.
 *
 * <p>Products run on the Vector API kernels ({@code VectorKernels}) when the {@code jdk.incubator.vector}
 * module is present, else on the scalar kernels here, which are also the reference the vector kernels are
 * tested against. Rows are split across cores by {@link KernelPool}. For a given row and input, every path
 * (matvec, matmul, any split) runs the same sequence of float operations, so results never depend on how a
 * product was batched or threaded.
 */
public abstract sealed class Matrix permits Matrix.F32, Matrix.Bf16, Matrix.Fp8, Matrix.Fp4 {
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** True when products run on the Vector API ({@code --add-modules jdk.incubator.vector}, no {@code -Dds4j.kernels=scalar}). */
    static final boolean VECTOR = !"scalar".equals(System.getProperty("ds4j.kernels"))
            && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent() && VectorKernels.usable();

    protected final String name;
    protected final int rows, cols;

    Matrix(String name, int rows, int cols) {
        this.name = name;
        this.rows = rows;
        this.cols = cols;
    }

    public String name() { return name; }
    public int rows() { return rows; }
    public int cols() { return cols; }
    /** The checkpoint dtype of the weight values (not of the scales). */
    public abstract DType storage();
    /** True for FP8/FP4 weights: the official numerics quantise the activation that enters them. */
    public boolean quantised() { return storage() == DType.F8_E4M3 || storage() == DType.I8; }
    /** Bytes one full product reads (weights plus scales). */
    public abstract long bytes();

    /** Which kernels products run on in this JVM: "vector (N-bit)" or "scalar". */
    public static String kernels() { return VECTOR ? "vector (" + VectorKernels.bits() + "-bit)" : "scalar"; }

    /** Threads that share one product. */
    public static int threads() { return KernelPool.THREADS; }

    /** y[r] = Σ_c W[r][c]·x[xOff + c], for rows r in [r0, r1). */
    public final void matvec(float[] x, int xOff, float[] y, int r0, int r1) {
        matmul(x, xOff, 0, 1, y, 0, 0, r0, r1);
    }

    public final void matvec(float[] x, float[] y) { matvec(x, 0, y, 0, rows); }

    /**
     * n products with one read of the weights: y[yOff + i·yStride + r] = Σ_c W[r][c]·x[xOff + i·xStride + c]
     * for i in [0, n) and rows r in [r0, r1). Each output row is bit-identical to {@link #matvec} of its input.
     */
    public final void matmul(float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
        product(x, xOff, xStride, n, y, yOff, yStride, r0, r1, true);
    }

    /** The product, split across cores only if {@code split} (tests compare both). */
    final void product(float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1, boolean split) {
        Objects.checkFromToIndex(r0, r1, rows);
        if (n < 1 || r0 == r1) return;
        Objects.checkFromIndexSize(xOff, (long) (n - 1) * xStride + cols, x.length);
        Objects.checkFromIndexSize(yOff, (long) (n - 1) * yStride + r1, y.length);
        if (n > 1 && yStride < r1 - r0)
            throw new IllegalArgumentException(name + ": output stride " + yStride + " overlaps " + (r1 - r0) + " rows");
        KernelPool.Job job = KernelPool.job();
        job.m = this;
        job.x = x;
        job.xOff = xOff;
        job.xStride = xStride;
        job.n = n;
        job.y = y;
        job.yOff = yOff;
        job.yStride = yStride;
        if (VECTOR) prepare(job);
        KernelPool.run(job, r0, r1, split ? bytes() / rows * (r1 - r0) * n : 0);
        job.x = job.y = null;
    }

    /** n products over all rows, inputs and outputs packed from offset 0. */
    public final void matmul(float[] x, int xStride, int n, float[] y, int yStride) {
        matmul(x, 0, xStride, n, y, 0, yStride, 0, rows);
    }

    /** Rearranges the job's inputs for the vector kernels where a format needs it (FP8, FP4); default: as given. */
    void prepare(KernelPool.Job job) {}

    /** How a format rearranges one input of {@code cols} values: x[xo ..] → out[oo ..]. */
    interface Regroup {
        void apply(float[] x, int xo, float[] out, int oo, int cols);
    }

    /** Replaces the job's inputs by their regrouped copies, packed in the job's buffer. */
    final void regroupInputs(KernelPool.Job j, Regroup regroup) {
        float[] buf = j.buf(j.n * cols);
        for (int i = 0; i < j.n; i++) regroup.apply(j.x, j.xOff + i * j.xStride, buf, i * cols, cols);
        j.x = buf;
        j.xOff = 0;
        j.xStride = cols;
    }

    /** Rows [r0, r1) of the job's product, on this thread. */
    final void kernel(KernelPool.Job j, int r0, int r1) {
        if (VECTOR) vectorRows(j.x, j.xOff, j.xStride, j.n, j.y, j.yOff, j.yStride, r0, r1);
        else for (int i = 0; i < j.n; i++) scalarRows(j.x, j.xOff + i * j.xStride, j.y, j.yOff + i * j.yStride, r0, r1);
    }

    abstract void vectorRows(float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1);

    /**
     * The reference product, plain math on the dequantised values: y[yOff + r] = Σ_c W[r][c]·x[xOff + c] for
     * r in [r0, r1), summed left to right in fp32 (per block, then block sums times the block scale).
     */
    abstract void scalarRows(float[] x, int xOff, float[] y, int yOff, int r0, int r1);

    /** Dequantised row r into out[off .. off+cols). */
    public abstract void row(int r, float[] out, int off);

    public float get(int r, int c) {
        float[] tmp = new float[cols];
        row(r, tmp, 0);
        return tmp[c];
    }

    // ---------------------------------------------------------------------------------------------------

    /**
     * Binds a checkpoint tensor as a [rows, cols] matrix, checking dtype and shape. FP8 weights take their
     * {@code .scale} sibling (E8M0 or, for Flash-Base, F32, on 128×128 blocks); I8 weights are packed FP4
     * with E8M0 scales per 32 inputs.
     */
    public static Matrix bind(TensorInfo w, TensorInfo scale, int rows, int cols) {
        switch (w.dtype()) {
            case F32, BF16 -> {
                expectShape(w, rows, cols);
                return w.dtype() == DType.F32 ? new F32(w.name(), rows, cols, w.data()) : new Bf16(w.name(), rows, cols, w.data());
            }
            case F8_E4M3 -> {
                expectShape(w, rows, cols);
                if (scale == null) throw new CheckpointException(w.where() + ": F8_E4M3 weight without its '.scale' tensor");
                int sr = ceilDiv(rows, 128), sc = ceilDiv(cols, 128);
                if (scale.dtype() != DType.F8_E8M0 && scale.dtype() != DType.F32)
                    throw new CheckpointException(scale.where() + ": dtype " + scale.dtype() + ", expected F8_E8M0 or F32 block scales");
                expectShape(scale, sr, sc);
                return new Fp8(w.name(), rows, cols, w.data(), scale.data(), scale.dtype() == DType.F32);
            }
            case I8 -> {
                if (cols % 32 != 0) throw new CheckpointException(w.where() + ": packed FP4 needs an input dim divisible by 32, got " + cols);
                expectShape(w, rows, cols / 2);
                if (scale == null) throw new CheckpointException(w.where() + ": packed FP4 weight without its '.scale' tensor");
                if (scale.dtype() != DType.F8_E8M0)
                    throw new CheckpointException(scale.where() + ": dtype " + scale.dtype() + ", expected F8_E8M0 FP4 scales");
                expectShape(scale, rows, cols / 32);
                return new Fp4(w.name(), rows, cols, w.data(), scale.data());
            }
            default -> throw new CheckpointException(w.where() + ": dtype " + w.dtype() + " cannot be a weight matrix");
        }
    }

    /** A matrix over a float array (row-major), for parameters built in code and for tests. */
    public static Matrix ofFloats(String name, int rows, int cols, float[] data) {
        if (data.length != (long) rows * cols) throw new IllegalArgumentException(name + ": " + data.length + " values for [" + rows + ", " + cols + "]");
        return new F32(name, rows, cols, MemorySegment.ofArray(data));
    }

    static void expectShape(TensorInfo t, long... shape) {
        if (!Arrays.equals(t.shape(), shape))
            throw new CheckpointException(t.where() + ": shape " + t.shapeString() + ", expected " + Arrays.toString(shape));
    }

    static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    // ---------------------------------------------------------------------------------------------------

    static final class F32 extends Matrix {
        final MemorySegment w;

        F32(String name, int rows, int cols, MemorySegment w) { super(name, rows, cols); this.w = w; }

        public DType storage() { return DType.F32; }
        public long bytes() { return 4L * rows * cols; }

        void vectorRows(float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
            VectorKernels.f32(this, x, xOff, xStride, n, y, yOff, yStride, r0, r1);
        }

        void scalarRows(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
            for (int r = r0; r < r1; r++) {
                long base = 4L * r * cols;
                float acc = 0f;
                for (int c = 0; c < cols; c++) acc += w.get(F32_LE, base + 4L * c) * x[xOff + c];
                y[yOff + r] = acc;
            }
        }

        public void row(int r, float[] out, int off) {
            MemorySegment.copy(w, F32_LE, 4L * r * cols, out, off, cols);
        }
    }

    static final class Bf16 extends Matrix {
        final MemorySegment w;

        Bf16(String name, int rows, int cols, MemorySegment w) { super(name, rows, cols); this.w = w; }

        public DType storage() { return DType.BF16; }
        public long bytes() { return 2L * rows * cols; }

        void vectorRows(float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
            VectorKernels.bf16(this, x, xOff, xStride, n, y, yOff, yStride, r0, r1);
        }

        void scalarRows(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
            for (int r = r0; r < r1; r++) {
                long base = 2L * r * cols;
                float acc = 0f;
                for (int c = 0; c < cols; c++) acc += Formats.bf16ToFloat(w.get(I16_LE, base + 2L * c)) * x[xOff + c];
                y[yOff + r] = acc;
            }
        }

        public void row(int r, float[] out, int off) {
            long base = 2L * r * cols;
            for (int c = 0; c < cols; c++) out[off + c] = Formats.bf16ToFloat(w.get(I16_LE, base + 2L * c));
        }
    }

    /** E4M3 weights with one scale per 128×128 block: W[r][c] = e4m3(w[r][c]) · s[r/128][c/128]. */
    static final class Fp8 extends Matrix {
        final MemorySegment w, s;
        private final boolean f32Scales;
        private final int scaleCols;

        Fp8(String name, int rows, int cols, MemorySegment w, MemorySegment s, boolean f32Scales) {
            super(name, rows, cols);
            this.w = w;
            this.s = s;
            this.f32Scales = f32Scales;
            this.scaleCols = ceilDiv(cols, 128);
        }

        public DType storage() { return DType.F8_E4M3; }
        public long bytes() { return (long) rows * cols + s.byteSize(); }

        boolean f32Scales() { return f32Scales; }

        /** The scale of row r's column block cb (128 columns). */
        float scale(int r, int cb) {
            long i = (long) (r >> 7) * scaleCols + cb;
            return f32Scales ? s.get(F32_LE, 4 * i) : Formats.E8M0[s.get(ValueLayout.JAVA_BYTE, i) & 0xFF];
        }

        /** The lane-layout kernel wants the inputs regrouped and prescaled (see VectorKernels). */
        @Override
        void prepare(KernelPool.Job j) {
            if (VectorKernels.fp8Lanes(this)) regroupInputs(j, VectorKernels::fp8Regroup);
        }

        void vectorRows(float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
            VectorKernels.fp8(this, x, xOff, xStride, n, y, yOff, yStride, r0, r1);
        }

        void scalarRows(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
            final float[] lut = Formats.E4M3;
            for (int r = r0; r < r1; r++) {
                long base = (long) r * cols;
                float acc = 0f;
                for (int cb = 0, c0 = 0; c0 < cols; cb++, c0 += 128) {
                    int c1 = Math.min(c0 + 128, cols);
                    float blockSum = 0f;
                    for (int c = c0; c < c1; c++) blockSum += lut[w.get(ValueLayout.JAVA_BYTE, base + c) & 0xFF] * x[xOff + c];
                    acc += blockSum * scale(r, cb);
                }
                y[yOff + r] = acc;
            }
        }

        public void row(int r, float[] out, int off) {
            long base = (long) r * cols;
            for (int c = 0; c < cols; c++) out[off + c] = Formats.E4M3[w.get(ValueLayout.JAVA_BYTE, base + c) & 0xFF] * scale(r, c >> 7);
        }
    }

    /** Packed E2M1 weights (low nibble = even column) with one E8M0 scale per 32 inputs of a row. */
    static final class Fp4 extends Matrix {
        final MemorySegment w, s;

        Fp4(String name, int rows, int cols, MemorySegment w, MemorySegment s) {
            super(name, rows, cols);
            this.w = w;
            this.s = s;
        }

        public DType storage() { return DType.I8; }
        public long bytes() { return (long) rows * cols / 2 + s.byteSize(); }

        /** The vector kernel wants the inputs regrouped, even columns apart from odd ones (see VectorKernels). */
        @Override
        void prepare(KernelPool.Job j) { regroupInputs(j, VectorKernels::fp4Regroup); }

        void vectorRows(float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, int r0, int r1) {
            VectorKernels.fp4(this, x, xOff, xStride, n, y, yOff, yStride, r0, r1);
        }

        void scalarRows(float[] x, int xOff, float[] y, int yOff, int r0, int r1) {
            final float[] lut = Formats.E2M1;
            final int half = cols >> 1, blocks = cols >> 5;
            for (int r = r0; r < r1; r++) {
                long wb = (long) r * half, sb = (long) r * blocks;
                float acc = 0f;
                for (int b = 0; b < blocks; b++) {
                    float blockSum = 0f;
                    int xb = xOff + (b << 5);
                    long bb = wb + (b << 4);
                    for (int j = 0; j < 16; j++) {
                        int packed = w.get(ValueLayout.JAVA_BYTE, bb + j) & 0xFF;
                        blockSum += lut[packed & 0xF] * x[xb + 2 * j] + lut[packed >>> 4] * x[xb + 2 * j + 1];
                    }
                    acc += blockSum * Formats.E8M0[s.get(ValueLayout.JAVA_BYTE, sb + b) & 0xFF];
                }
                y[yOff + r] = acc;
            }
        }

        public void row(int r, float[] out, int off) {
            final int half = cols >> 1, blocks = cols >> 5;
            for (int c = 0; c < cols; c++) {
                int packed = w.get(ValueLayout.JAVA_BYTE, (long) r * half + (c >> 1)) & 0xFF;
                int code = (c & 1) == 0 ? packed & 0xF : packed >>> 4;
                out[off + c] = Formats.E2M1[code] * Formats.E8M0[s.get(ValueLayout.JAVA_BYTE, (long) r * blocks + (c >> 5)) & 0xFF];
            }
        }
    }
}
