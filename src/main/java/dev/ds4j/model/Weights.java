package dev.ds4j.model;

import dev.ds4j.checkpoint.Checkpoint;
import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Vectors;

/** Binds checkpoint tensors by their official names; every failure names the tensor (and its file). */
final class Weights {
    private final Checkpoint ck;

    Weights(Checkpoint ck) { this.ck = ck; }

    boolean has(String name) { return ck.has(name); }

    /** A linear weight {@code name}.weight [rows, cols] with its optional {@code name}.scale. */
    Matrix linear(String name, int rows, int cols) {
        String scale = name + ".scale";
        return Matrix.bind(ck.get(name + ".weight"), ck.has(scale) ? ck.get(scale) : null, rows, cols);
    }

    /** A plain F32/BF16 matrix tensor (no .weight suffix), e.g. hc_attn_fn. */
    Matrix matrix(String name, int rows, int cols) { return Matrix.bind(ck.get(name), null, rows, cols); }

    float[] vector(String name, long... shape) { return Vectors.floats(ck.get(name), shape); }

    Vectors.LongTable table(String name, long rows, long cols) { return Vectors.longs(ck.get(name), rows, cols); }
}
