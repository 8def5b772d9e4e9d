package dev.ds4j.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The attention/indexer kernels against the formulas, computed here in double. */
class VecTest {
    private static float[] random(int n, SplittableRandom rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return x;
    }

    @Test
    void dotAndAxpyMatchTheFormula() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int n : new int[]{1, 7, 8, 31, 32, 33, 512, 1000}) {
            float[] a = random(n + 3, rnd), b = random(n + 5, rnd);
            double exact = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                exact += (double) a[3 + i] * b[5 + i];
                mag += Math.abs((double) a[3 + i] * b[5 + i]);
            }
            // fp32 sums of ≤ n terms: |error| ≤ n·2^−24·Σ|terms|.
            assertThat((double) Vec.dot(a, 3, b, 5, n)).as("n=%d", n).isCloseTo(exact, within(n * 0x1p-24 * mag + 1e-30));
            float[] y = random(n + 2, rnd), y0 = y.clone();
            Vec.axpy(0.75f, a, 3, y, 2, n);
            for (int i = 0; i < n; i++) assertThat(y[2 + i]).isCloseTo(y0[2 + i] + 0.75f * a[3 + i], within(1e-6f));
        }
    }

    @Test
    void indexerTileScoresEveryKeyByTheFormula() {
        SplittableRandom rnd = new SplittableRandom(9);
        int T = Vec.tileKeys(), heads = 64, dim = 128;
        float[] q = random(heads * dim, rnd), w = random(heads, rnd), keys = random(T * dim, rnd);
        float[] kt = new float[T * dim];
        for (int t = 0; t < T; t++) for (int i = 0; i < dim; i++) kt[i * T + t] = keys[t * dim + i];
        for (boolean round : new boolean[]{false, true}) {
            float[] out = new float[T + 1];
            Vec.scoreTile(q, w, heads, dim, kt, round, out, 1);
            for (int t = 0; t < T; t++) {
                double total = 0;
                for (int h = 0; h < heads; h++) {
                    double d = 0;
                    for (int i = 0; i < dim; i++) d += (double) q[h * dim + i] * keys[t * dim + i];
                    total += w[h] * Math.max(d, 0);
                }
                // BF16 rounding (8 bits) of each head's dot, product and the total dominates when on.
                double tol = round ? 0.02 * (1 + Math.abs(total)) + 0.01 * heads : 1e-3;
                assertThat((double) out[1 + t]).as("key %d, round %s", t, round).isCloseTo(total, within(tol));
            }
        }
    }

    @Test
    void parallelRangesCoverEveryIndexOnce() {
        int n = 10_000;
        AtomicIntegerArray seen = new AtomicIntegerArray(n);
        Vec.parallel(n, 8, 1L << 30, (a, b) -> {
            for (int i = a; i < b; i++) seen.incrementAndGet(i);
        });
        for (int i = 0; i < n; i++) assertThat(seen.get(i)).as("index %d", i).isEqualTo(1);
    }
}
