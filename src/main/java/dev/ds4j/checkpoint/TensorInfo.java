package dev.ds4j.checkpoint;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/** One tensor of a checkpoint: its header entry and a read-only view of its bytes in the mapped file. */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, MemorySegment data) {

    public long elements() {
        long n = 1;
        for (long s : shape) n *= s;
        return n;
    }

    public int rank() { return shape.length; }

    public long dim(int i) { return shape[i]; }

    public String shapeString() { return Arrays.toString(shape); }

    /** "file: tensor 'name'" — the prefix every error about this tensor starts with. */
    public String where() { return file.getFileName() + ": tensor '" + name + "'"; }

    @Override
    public String toString() { return name + " " + dtype + shapeString(); }
}
