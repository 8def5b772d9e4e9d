package dev.ds4j.tensor;

/**
 * Vector kernels of attention and the indexer, over activations (float arrays), not weights: dot products,
 * accumulations and the indexer's scoring of key tiles, plus splitting index ranges across the kernel pool.
 * They run on the Vector API when {@link Matrix#kernels()} does, else on the scalar loops here, which are
 * also their reference. Sums run in several independent chains (the order is fixed per call, so a result
 * does not depend on the thread or batch that computed it).
 */
public final class Vec {
    private Vec() {}

    /** Work over an index range [from, to), run by whichever thread claims the chunk. */
    public interface Range {
        void run(int from, int to);
    }

    /** Σ a[ao+i]·b[bo+i] for i < n. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        if (Matrix.VECTOR) return VectorMath.dot(a, ao, b, bo, n);
        float acc = 0;
        for (int i = 0; i < n; i++) acc += a[ao + i] * b[bo + i];
        return acc;
    }

    /** y[yo+i] += a·x[xo+i] for i < n. */
    public static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        if (Matrix.VECTOR) {
            VectorMath.axpy(a, x, xo, y, yo, n);
            return;
        }
        for (int i = 0; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    /** Keys per indexer tile: the vector width (1 on the scalar path). */
    public static int tileKeys() { return Matrix.VECTOR ? VectorMath.lanes() : 1; }

    /**
     * The indexer's scores of one tile of {@link #tileKeys()} keys, stored transposed (kt[d·T + t] = key t's
     * dim d): out[oo+t] = r(Σ_h r(w_h·relu(r(q_h·k_t)))), with r the BF16 rounding when {@code round}.
     * q is [heads × dim].
     */
    public static void scoreTile(float[] q, float[] w, int heads, int dim, float[] kt, boolean round, float[] out, int oo) {
        if (Matrix.VECTOR) {
            VectorMath.scoreTile(q, w, heads, dim, kt, round, out, oo);
            return;
        }
        float total = 0;
        for (int h = 0; h < heads; h++) {
            float d = 0;
            for (int i = 0; i < dim; i++) d += q[h * dim + i] * kt[i];
            if (round) d = Formats.bf16(d);
            if (d > 0) total += round ? Formats.bf16(w[h] * d) : w[h] * d;
        }
        out[oo] = round ? Formats.bf16(total) : total;
    }

    /**
     * Runs {@code task} over [0, n) split across the cores in multiples of {@code align} when
     * {@code workFlops} is large enough to pay for it; inline otherwise.
     */
    public static void parallel(int n, int align, long workFlops, Range task) {
        KernelPool.forRange(n, align, workFlops, task);
    }
}
