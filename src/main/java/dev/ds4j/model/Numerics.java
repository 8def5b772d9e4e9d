package dev.ds4j.model;

import dev.ds4j.tensor.Formats;
import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Quant;
import dev.ds4j.tensor.Vec;

/**
 * The two numerics of ARCHITECTURE §0/§6. PLAIN is the exact math on exactly dequantised weights in fp32 (what
 * the golden references use); OFFICIAL simulates what DeepSeek's inference code does and what the real
 * weights were trained for: BF16 activations, FP8 activation quantisation in FP8/FP4 GEMMs, FP8 KV, Hadamard
 * + FP4 in the indexer.
 */
public enum Numerics {
    PLAIN, OFFICIAL;

    public boolean official() { return this == OFFICIAL; }

    /** Rounds to BF16 in official numerics; identity in plain. */
    public float act(float v) { return this == OFFICIAL ? Formats.bf16(v) : v; }

    public void act(float[] x, int off, int len) { if (this == OFFICIAL) Quant.bf16(x, off, len); }

    /**
     * y = W·x for an activation entering a linear layer. Official: the BF16 input is quantised to E4M3 per 128
     * elements when W is FP8/FP4 (the block-scaled GEMM of §5.4 equals a plain product on those dequantised
     * activations up to fp32 summation order), and the output is BF16. {@code scratch} must hold W.cols().
     */
    public void linear(Matrix w, float[] x, int xOff, float[] y, float[] scratch) {
        linear(w, x, xOff, 0, 1, y, 0, 0, scratch);
    }

    /**
     * {@link #linear} for n inputs with one read of W: input i is x[xOff + i·xStride ..], its output
     * y[yOff + i·yStride ..]. Official numerics quantise each input on its own, as act_quant does per token, so
     * every output row is bit-identical to {@code linear} of that input alone. {@code scratch} must hold
     * n·W.cols() (official numerics only).
     */
    public void linear(Matrix w, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride, float[] scratch) {
        if (this == PLAIN) {
            w.matmul(x, xOff, xStride, n, y, yOff, yStride, 0, w.rows());
            return;
        }
        int cols = w.cols();
        boolean fp8 = w.quantised();
        // Each input is quantised on its own (act_quant per token), so the inputs can be split across cores.
        Vec.parallel(n, 1, (long) n * cols * 16, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                System.arraycopy(x, xOff + i * xStride, scratch, i * cols, cols);
                Quant.bf16(scratch, i * cols, cols);
                if (fp8) Quant.fp8Sim(scratch, i * cols, cols, 128);
            }
        });
        w.matmul(scratch, 0, cols, n, y, yOff, yStride, 0, w.rows());
        for (int i = 0; i < n; i++) Quant.bf16(y, yOff + i * yStride, w.rows());
    }

    public static Numerics parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "plain" -> PLAIN;
            case "official" -> OFFICIAL;
            default -> throw new IllegalArgumentException("numerics must be 'plain' or 'official', got '" + s + "'");
        };
    }
}
