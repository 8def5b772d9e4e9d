package dev.ds4j.jmh;

import dev.ds4j.checkpoint.DType;
import dev.ds4j.checkpoint.TensorInfo;
import dev.ds4j.tensor.Matrix;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The weight products of the decode loop, on V4-Flash shapes, with weights far larger than the caches so
 * every call streams from memory. One op = one product over all rows of one weight; divide the weight
 * bytes ({@link #weightBytes}, printed at setup) by the time per op for GB/s, and set that against
 * {@code ./ds4j bench}'s probe. {@code inputs} > 1 is the batched form (prefill, several sequences):
 * the same weight read, more arithmetic.
 *
 * <p>Run: {@code ./jmh KernelBench} (see README, Speed).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class KernelBench {
    /** Weight format: the expert weights are FP4, attention FP8, the output head BF16, HC mixing F32. */
    @Param({"FP4", "FP8", "BF16", "F32"})
    public String format;

    /** Inputs per weight read. */
    @Param({"1", "4", "32"})
    public int inputs;

    /** MB per weight copy: 64 streams from memory; 1 stays in the caches (the kernel's compute rate alone). */
    @Param({"64"})
    public int mb;

    private Arena arena;
    private Matrix[] weights;
    private float[] x, y;
    private int next;

    /** Matrices of 4096 columns (the model dim) and as many rows as make {@code mb} MB per copy. */
    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        Random rnd = new Random(1);
        int cols = 4096;
        DType dt = switch (format) {
            case "FP4" -> DType.I8;
            case "FP8" -> DType.F8_E4M3;
            case "BF16" -> DType.BF16;
            default -> DType.F32;
        };
        double bytesPerWeight = switch (format) { case "FP4" -> 0.5; case "FP8" -> 1; case "BF16" -> 2; default -> 4; };
        int rows = Math.max(128, (int) ((long) mb * 1024 * 1024 / (cols * bytesPerWeight)) / 128 * 128);
        weights = new Matrix[4];   // 4 copies, cycled, so at 64 MB nothing stays in the last-level cache
        for (int i = 0; i < weights.length; i++) weights[i] = matrix(dt, rows, cols, rnd);
        x = new float[inputs * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        y = new float[inputs * rows];
        System.out.printf("%n%s %d×%d, %.1f MB per weight, kernels %s, %d threads%n", format, rows, cols,
                weights[0].bytes() / 1e6, Matrix.kernels(), Matrix.threads());
    }

    private Matrix matrix(DType dt, int rows, int cols, Random rnd) {
        long wBytes = switch (dt) { case I8 -> (long) rows * cols / 2; case F8_E4M3 -> (long) rows * cols; case BF16 -> 2L * rows * cols; default -> 4L * rows * cols; };
        MemorySegment w = arena.allocate(wBytes, 64);
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < wBytes; off += buf.length) {
            rnd.nextBytes(buf);
            if (dt == DType.BF16 || dt == DType.F32) for (int i = 0; i < buf.length; i++) if ((i & 1) == 1) buf[i] &= 0x3F; // finite, moderate
            if (dt == DType.F8_E4M3) for (int i = 0; i < buf.length; i++) buf[i] = e4m3Normal(buf[i]);
            MemorySegment.copy(MemorySegment.ofArray(buf), 0, w, off, Math.min(buf.length, wBytes - off));
        }
        TensorInfo wi = new TensorInfo("w", dt, dt == DType.I8 ? new long[]{rows, cols / 2} : new long[]{rows, cols}, Path.of("bench"), w);
        TensorInfo si = null;
        if (dt == DType.I8 || dt == DType.F8_E4M3) {
            long[] shape = dt == DType.I8 ? new long[]{rows, cols / 32} : new long[]{(rows + 127) / 128, (cols + 127) / 128};
            MemorySegment s = arena.allocate(shape[0] * shape[1]);
            for (long i = 0; i < s.byteSize(); i++) s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (120 + rnd.nextInt(8)));
            si = new TensorInfo("w.scale", DType.F8_E8M0, shape, Path.of("bench"), s);
        }
        return Matrix.bind(wi, si, rows, cols);
    }

    /**
     * A random code made a normal, finite E4M3 value: trained weights, scaled to their block's range, are
     * almost never subnormal, while uniform random bytes are subnormal one time in 16 (and x86 multiplies
     * subnormals through a slow microcode path).
     */
    private static byte e4m3Normal(byte b) {
        if ((b & 0x78) == 0) b |= 0x08;
        if ((b & 0x7F) == 0x7F) b = (byte) (b & 0xFE);
        return b;
    }

    @TearDown(Level.Trial)
    public void tearDown() { arena.close(); }

    /** Weight bytes one op reads. */
    public long weightBytes() { return weights[0].bytes(); }

    @Benchmark
    public void product(Blackhole bh) {
        Matrix w = weights[next++ & 3];
        w.matmul(x, 0, w.cols(), inputs, y, 0, w.rows(), 0, w.rows());
        bh.consume(y);
    }
}
