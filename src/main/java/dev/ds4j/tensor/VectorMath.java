package dev.ds4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** The Vector API side of {@link Vec} (loaded only when the module is present). */
final class VectorMath {
    private VectorMath() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    static int lanes() { return L; }

    /** Four chains of L lanes, then their lanes in a fixed order, then the tail. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector k0 = FloatVector.zero(F), k1 = k0, k2 = k0, k3 = k0;
        int i = 0;
        for (; i + 4 * L <= n; i += 4 * L) {
            k0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), k0);
            k1 = FloatVector.fromArray(F, a, ao + i + L).fma(FloatVector.fromArray(F, b, bo + i + L), k1);
            k2 = FloatVector.fromArray(F, a, ao + i + 2 * L).fma(FloatVector.fromArray(F, b, bo + i + 2 * L), k2);
            k3 = FloatVector.fromArray(F, a, ao + i + 3 * L).fma(FloatVector.fromArray(F, b, bo + i + 3 * L), k3);
        }
        for (; i + L <= n; i += L) k0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), k0);
        float acc = lanesSum(k0.add(k1).add(k2.add(k3)));
        for (; i < n; i++) acc += a[ao + i] * b[bo + i];
        return acc;
    }

    static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector av = FloatVector.broadcast(F, a);
        int i = 0;
        for (; i + L <= n; i += L)
            FloatVector.fromArray(F, x, xo + i).fma(av, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    /** Lane sum in index order (reduceLanes' order is unspecified). */
    private static float lanesSum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < L; i++) s += v.lane(i);
        return s;
    }

    /** BF16 rounding, nearest even, lane-wise (no NaNs reach here). */
    private static FloatVector bf16(FloatVector v) {
        IntVector x = v.reinterpretAsInts();
        IntVector rounding = x.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF);
        return x.add(rounding).and(0xFFFF_0000).reinterpretAsFloats();
    }

    /**
     * L keys at once, one per lane: per head a broadcast of each query value against the transposed tile,
     * so no lane sums are needed; two chains over the dims (even and odd), added.
     */
    static void scoreTile(float[] q, float[] w, int heads, int dim, float[] kt, boolean round, float[] out, int oo) {
        FloatVector total = FloatVector.zero(F), zero = total;
        for (int h = 0; h < heads; h++) {
            int qo = h * dim;
            FloatVector d0 = zero, d1 = zero;
            int i = 0;
            for (; i + 2 <= dim; i += 2) {
                d0 = FloatVector.fromArray(F, kt, i * L).fma(FloatVector.broadcast(F, q[qo + i]), d0);
                d1 = FloatVector.fromArray(F, kt, (i + 1) * L).fma(FloatVector.broadcast(F, q[qo + i + 1]), d1);
            }
            if (i < dim) d0 = FloatVector.fromArray(F, kt, i * L).fma(FloatVector.broadcast(F, q[qo + i]), d0);
            FloatVector d = d0.add(d1);
            if (round) d = bf16(d);
            FloatVector c = d.max(zero).mul(w[h]);   // relu; w·0 adds nothing (w is finite)
            if (round) c = bf16(c);
            total = total.add(c);
        }
        if (round) total = bf16(total);
        total.intoArray(out, oo);
    }
}
