package dev.ds4j.tensor;

import dev.ds4j.TestData;
import dev.ds4j.checkpoint.Checkpoint;
import dev.ds4j.checkpoint.TensorInfo;
import dev.ds4j.model.Numerics;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fused FP8/FP4 products against the formulas of ARCHITECTURE §5.4 / §7.3 computed here from the raw
 * checkpoint bytes: quantise the activation per 128 (E4M3, pow-2 scale), multiply code by code, scale each
 * block partial sum, accumulate, round to BF16.
 */
class BlockScaledGemmTest {
    @Test
    void fp8LinearMatchesTheBlockScaledFormula() {
        try (Checkpoint ck = Checkpoint.open(TestData.golden("tiny-b-fp8"))) {
            TensorInfo w = ck.get("layers.0.attn.wo_b.weight"), s = ck.get("layers.0.attn.wo_b.scale");   // [256, 256]
            int rows = (int) w.dim(0), cols = (int) w.dim(1);
            Matrix m = Matrix.bind(w, s, rows, cols);
            float[] x = new float[cols];
            SplittableRandom r = new SplittableRandom(4);
            for (int i = 0; i < cols; i++) x[i] = Formats.bf16((float) (r.nextDouble() * 6 - 3) * (i < 128 ? 1 : 0.01f));
            float[] y = new float[rows];
            Numerics.OFFICIAL.linear(m, x, 0, y, new float[cols]);
            for (int n = 0; n < rows; n++) {
                double acc = 0;
                for (int kb = 0; kb < cols / 128; kb++) {
                    float amax = 1e-4f;
                    for (int k = kb * 128; k < kb * 128 + 128; k++) amax = Math.max(amax, Math.abs(x[k]));
                    double sa = Math.pow(2, Math.ceil(Math.log(amax / 448.0) / Math.log(2)));
                    double sb = Math.pow(2, (s.data().get(ValueLayout.JAVA_BYTE, (long) (n / 128) * (cols / 128) + kb) & 0xFF) - 127);
                    double part = 0;
                    for (int k = kb * 128; k < kb * 128 + 128; k++) {
                        double qa = Formats.e4m3Round((float) (x[k] / sa));
                        double qb = Formats.E4M3[w.data().get(ValueLayout.JAVA_BYTE, (long) n * cols + k) & 0xFF];
                        part += qa * qb;
                    }
                    acc += sa * sb * part;
                }
                float want = Formats.bf16((float) acc);
                assertThat(Math.abs(y[n] - want)).as("row %d", n).isLessThanOrEqualTo(Math.ulp(want) * 2 + 1e-6f);
            }
        }
    }

    @Test
    void fp4ExpertRowMatchesNibbleOrderAndPer32Scales() {
        try (Checkpoint ck = Checkpoint.open(TestData.golden("tiny-b-fp8"))) {
            TensorInfo w = ck.get("layers.2.ffn.experts.3.w2.weight"), s = ck.get("layers.2.ffn.experts.3.w2.scale");
            int rows = (int) w.dim(0), cols = (int) w.dim(1) * 2;
            Matrix m = Matrix.bind(w, s, rows, cols);
            float[] row = new float[cols];
            for (int r : new int[]{0, 17, rows - 1}) {
                m.row(r, row, 0);
                for (int c = 0; c < cols; c++) {
                    int b = w.data().get(ValueLayout.JAVA_BYTE, (long) r * cols / 2 + c / 2) & 0xFF;
                    int code = c % 2 == 0 ? b & 0xF : b >> 4;   // low nibble = even column
                    double scale = Math.pow(2, (s.data().get(ValueLayout.JAVA_BYTE, (long) r * (cols / 32) + c / 32) & 0xFF) - 127);
                    assertThat((double) row[c]).isEqualTo(Formats.E2M1[code] * scale);
                }
            }
        }
    }
}
