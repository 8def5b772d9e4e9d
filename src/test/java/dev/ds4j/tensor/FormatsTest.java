package dev.ds4j.tensor;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Number formats against values computed by hand from their definitions (ARCHITECTURE §5.1). */
class FormatsTest {
    @Test
    void e4m3DecodesNormalsSubnormalsNaN() {
        assertThat(Formats.E4M3[0x38]).isEqualTo(1f);          // exp 7, mantissa 0
        assertThat(Formats.E4M3[0x39]).isEqualTo(1.125f);
        assertThat(Formats.E4M3[0x7E]).isEqualTo(448f);        // exp 15, mantissa 6: the max
        assertThat(Formats.E4M3[0x08]).isEqualTo(0.015625f);   // smallest normal 2^-6
        assertThat(Formats.E4M3[0x01]).isEqualTo(0.001953125f); // smallest subnormal 2^-9
        assertThat(Formats.E4M3[0x07]).isEqualTo(7 * 0.001953125f);
        assertThat(Formats.E4M3[0xB8]).isEqualTo(-1f);
        assertThat(Formats.E4M3[0x7F]).isNaN();
        assertThat(Formats.E4M3[0xFF]).isNaN();
        assertThat(Formats.E4M3[0x80]).isEqualTo(-0f);
    }

    @Test
    void e4m3EncodesEveryCodeBackAndRoundsToNearestEven() {
        for (int b = 0; b < 256; b++) {
            if (b == 0x7F || b == 0xFF) continue;
            assertThat(Formats.e4m3Encode(Formats.E4M3[b]) & 0xFF).as("code %02x", b).isEqualTo(b);
        }
        assertThat(Formats.e4m3Round(1.0625f)).isEqualTo(1f);      // tie between 1 and 1.125 → even mantissa 0
        assertThat(Formats.e4m3Round(1.1875f)).isEqualTo(1.25f);   // tie between 1.125 and 1.25 → even mantissa 2
        assertThat(Formats.e4m3Round(1.07f)).isEqualTo(1.125f);
        assertThat(Formats.e4m3Round(1000f)).isEqualTo(448f);      // saturates
        assertThat(Formats.e4m3Round(-1000f)).isEqualTo(-448f);
        assertThat(Formats.e4m3Round(0.0009765625f)).isEqualTo(0f); // half the smallest subnormal: tie → 0
        assertThat(Formats.e4m3Round(0.0029296875f)).isEqualTo(0.00390625f); // 1.5 · 2^-9 → 2 · 2^-9
    }

    @Test
    void e8m0IsAPureExponent() {
        assertThat(Formats.E8M0[127]).isEqualTo(1f);
        assertThat(Formats.E8M0[128]).isEqualTo(2f);
        assertThat(Formats.E8M0[120]).isEqualTo(1f / 128);
        assertThat(Formats.E8M0[0]).isEqualTo(Math.scalb(1f, -127)).isGreaterThan(0f);
        assertThat(Formats.E8M0[255]).isNaN();
        assertThat(Formats.e8m0Encode(-3)).isEqualTo((byte) 124);
    }

    @Test
    void e2m1TableAndTiesToEvenCode() {
        assertThat(Formats.E2M1).containsExactly(0f, .5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -.5f, -1f, -1.5f, -2f, -3f, -4f, -6f);
        float[][] cases = {{0.25f, 0f}, {0.75f, 1f}, {1.25f, 1f}, {1.75f, 2f}, {2.5f, 2f}, {3.5f, 4f}, {5f, 4f},
                {7f, 6f}, {100f, 6f}, {0.3f, 0.5f}, {-2.6f, -3f}, {5.1f, 6f}};
        for (float[] c : cases) assertThat(Formats.e2m1Round(c[0])).as("round %s", c[0]).isEqualTo(c[1]);
        for (int code = 0; code < 16; code++) {
            if (code == 8) continue; // −0 encodes as code 8 too, but compare values
            assertThat(Formats.E2M1[Formats.e2m1Encode(Formats.E2M1[code])]).isEqualTo(Formats.E2M1[code]);
        }
        assertThat(Formats.e2m1Encode(-0.5f)).isEqualTo(9);
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertThat(Formats.bf16(1f + 0x1p-8f)).isEqualTo(1f);                 // exact tie → even (mantissa 0)
        assertThat(Formats.bf16(1f + 3 * 0x1p-8f)).isEqualTo(1f + 0x1p-6f);    // tie between odd 1 and even 2 ulps
        assertThat(Formats.bf16(1f + 0x1p-8f + 0x1p-20f)).isEqualTo(1f + 0x1p-7f);
        assertThat(Formats.floatToBf16(1f)).isEqualTo((short) 0x3F80);
        assertThat(Formats.bf16ToFloat((short) 0xC040)).isEqualTo(-3f);
        assertThat(Formats.bf16(Float.NaN)).isNaN();
        assertThat(Formats.bf16(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
    }

    @Test
    void ceilLog2FromBits() {
        assertThat(Formats.ceilLog2(1f)).isEqualTo(0);
        assertThat(Formats.ceilLog2(1.0001f)).isEqualTo(1);
        assertThat(Formats.ceilLog2(0.25f)).isEqualTo(-2);
        assertThat(Formats.ceilLog2(0.3f)).isEqualTo(-1);
    }

    @Test
    void fp8SimulationUsesPowerOfTwoBlockScales() {
        // amax 448·2 → scale 2: each value is e4m3(x/2)·2.
        float[] x = {896f, 3f, -1.1f, 0.01f};
        Quant.fp8Sim(x, 0, 4, 4);
        assertThat(x).containsExactly(896f, 3f, -1.125f, 0.01171875f); // 0.005 = 2.56 subnormal quanta → 3
        // amax floor 1e-4: a zero block stays zero, no division by zero.
        float[] z = new float[64];
        Quant.fp8Sim(z, 0, 64, 64);
        assertThat(z).containsOnly(0f);
    }

    @Test
    void fp4SimulationPerBlockOf32() {
        float[] x = new float[32];
        x[0] = 12f;   // amax 12 → scale 2^ceil(log2(2)) = 2
        x[1] = 5f;    // 5/2 = 2.5 → 2 → 4
        x[2] = 0.6f;  // 0.3 → 0.5 → 1
        x[3] = -7f;   // −3.5 → −4 → −8
        Quant.fp4Sim(x, 0, 32);
        assertThat(x[0]).isEqualTo(12f);
        assertThat(x[1]).isEqualTo(4f);
        assertThat(x[2]).isEqualTo(1f);
        assertThat(x[3]).isEqualTo(-8f);
    }

    @Test
    void hadamardIsTheScaledSylvesterMatrix() {
        float[] x = {1, 2, 3, 4};
        Quant.hadamard(x, 0, 4);
        // H4·[1,2,3,4] = [10, −2, −4, 0], scaled by 1/2.
        assertThat(x[0]).isCloseTo(5f, within(1e-6f));
        assertThat(x[1]).isCloseTo(-1f, within(1e-6f));
        assertThat(x[2]).isCloseTo(-2f, within(1e-6f));
        assertThat(x[3]).isCloseTo(0f, within(1e-6f));
        float[] y = new float[128];
        for (int i = 0; i < 128; i++) y[i] = (float) Math.sin(i);
        float[] orig = y.clone();
        Quant.hadamard(y, 0, 128);
        Quant.hadamard(y, 0, 128);   // orthogonal and symmetric: applying it twice is the identity
        for (int i = 0; i < 128; i++) assertThat(y[i]).isCloseTo(orig[i], within(1e-5f));
    }
}
