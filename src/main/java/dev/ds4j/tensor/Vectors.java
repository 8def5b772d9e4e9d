package dev.ds4j.tensor;

import dev.ds4j.checkpoint.CheckpointException;
import dev.ds4j.checkpoint.DType;
import dev.ds4j.checkpoint.TensorInfo;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Small parameter tensors (norm weights, biases, HC base/scale, sinks) read into float arrays, and I64 tables. */
public final class Vectors {
    private Vectors() {}

    /** Reads an F32 or BF16 tensor of exactly {@code shape} as floats. Only for small parameters. */
    public static float[] floats(TensorInfo t, long... shape) {
        if (!Arrays.equals(t.shape(), shape))
            throw new CheckpointException(t.where() + ": shape " + t.shapeString() + ", expected " + Arrays.toString(shape));
        int n = Math.toIntExact(t.elements());
        float[] out = new float[n];
        MemorySegment d = t.data();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(d, Matrix.F32_LE, 0, out, 0, n);
            case BF16 -> { for (int i = 0; i < n; i++) out[i] = Formats.bf16ToFloat(d.get(Matrix.I16_LE, 2L * i)); }
            default -> throw new CheckpointException(t.where() + ": dtype " + t.dtype() + ", expected F32 or BF16");
        }
        return out;
    }

    /** Checks an I64 table of the given shape and returns a reader over it (no copy). */
    public static LongTable longs(TensorInfo t, long rows, long cols) {
        if (t.dtype() != DType.I64 && t.dtype() != DType.I32)
            throw new CheckpointException(t.where() + ": dtype " + t.dtype() + ", expected I64");
        if (!Arrays.equals(t.shape(), new long[]{rows, cols}))
            throw new CheckpointException(t.where() + ": shape " + t.shapeString() + ", expected [" + rows + ", " + cols + "]");
        return new LongTable(t.data(), t.dtype() == DType.I64, (int) cols);
    }

    public record LongTable(MemorySegment data, boolean wide, int cols) {
        public long get(long r, int c) {
            long i = r * cols + c;
            return wide ? data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8 * i)
                        : data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4 * i);
        }
    }
}
