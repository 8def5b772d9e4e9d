package dev.ds4j.kv;

import dev.ds4j.tensor.Quant;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The compact entry formats against ARCHITECTURE §8.2, read back by a decoder written here from the spec
 * (§5.1's E4M3/E2M1/E8M0/BF16 definitions), not by the format's own decode.
 */
class EntryFormatTest {
    /** §5.1: E4M3 fn, bias 7, subnormals m·2^-9, 0x7F/0xFF NaN. */
    static double e4m3(int b) {
        int s = b >> 7 & 1, e = b >> 3 & 15, m = b & 7;
        if (e == 15 && m == 7) return Double.NaN;
        double v = e == 0 ? m * Math.pow(2, -9) : (1 + m / 8.0) * Math.pow(2, e - 7);
        return s == 1 ? -v : v;
    }

    static final double[] E2M1 = {0, .5, 1, 1.5, 2, 3, 4, 6};

    static double e2m1(int code) { return (code & 8) != 0 ? -E2M1[code & 7] : E2M1[code & 7]; }

    static double e8m0(int b) { return Math.pow(2, b - 127); }

    static double bf16(int lo, int hi) { return Float.intBitsToFloat(((hi & 0xFF) << 24) | ((lo & 0xFF) << 16)); }

    /** A KV vector as official numerics store it: N(0, σ²) nope dims through fp8Sim(64), rope dims rounded to BF16. */
    static float[] officialKv(int dim, int rope, SplittableRandom r) {
        float[] v = new float[dim];
        for (int i = 0; i < dim; i++) v[i] = (float) (r.nextGaussian() * (i % 97 == 0 ? 40 : 1.3));
        v[5] = 0f;
        v[6] = -0f;
        Quant.bf16(v, 0, dim);
        Quant.fp8Sim(v, 0, dim - rope, 64);
        return v;
    }

    @Test
    void productionEntryIs584BytesAndDecodesPerTheSpec() {
        // §8.2: 448 E4M3 + 64 BF16 + 7 E8M0 + 1 pad = 584; laid out nope, rope, scales, pad.
        EntryFormat.Fp8Rope f = new EntryFormat.Fp8Rope(512, 64);
        assertThat(f.bytes).isEqualTo(448 + 2 * 64 + 7 + 1).isEqualTo(584);
        SplittableRandom r = new SplittableRandom(1);
        for (int trial = 0; trial < 50; trial++) {
            float[] v = officialKv(512, 64, r);
            byte[] b = new byte[f.bytes + 3];
            f.encode(v, 0, b, 3);
            for (int i = 0; i < 448; i++) {
                double expected = e4m3(b[3 + i] & 0xFF) * e8m0(b[3 + 576 + i / 64] & 0xFF);
                assertThat(expected).as("nope dim %d", i).isEqualTo((double) v[i]);
                if (v[i] == 0) assertThat(b[3 + i] & 0x80).as("sign of zero, dim %d", i).isEqualTo(Float.floatToRawIntBits(v[i]) != 0 ? 0x80 : 0);
            }
            for (int i = 0; i < 64; i++) assertThat(bf16(b[3 + 448 + 2 * i], b[3 + 449 + 2 * i])).isEqualTo((double) v[448 + i]);
            assertThat(b[3 + 583]).isZero();
            float[] back = new float[512];
            f.decode(b, 3, back, 0);
            for (int i = 0; i < 512; i++) assertThat(Float.floatToRawIntBits(back[i])).isEqualTo(Float.floatToRawIntBits(v[i]));
        }
    }

    @Test
    void otherHeadDimsFollowTheSameRule() {
        // nope E4M3 + rope BF16 + one scale per (started) 64 nope dims, padded to 8 bytes.
        assertThat(new EntryFormat.Fp8Rope(128, 64).bytes).isEqualTo(200);   // 64 + 128 + 1 = 193
        assertThat(new EntryFormat.Fp8Rope(32, 8).bytes).isEqualTo(48);      // 24 + 16 + 1 = 41
        SplittableRandom r = new SplittableRandom(2);
        for (int[] shape : new int[][]{{128, 64}, {32, 8}, {256, 64}}) {
            EntryFormat.Fp8Rope f = new EntryFormat.Fp8Rope(shape[0], shape[1]);
            float[] v = officialKv(shape[0], shape[1], r), back = new float[shape[0]];
            byte[] b = new byte[f.bytes];
            f.encode(v, 0, b, 0);
            f.decode(b, 0, back, 0);
            assertThat(back).isEqualTo(v);
        }
    }

    @Test
    void indexerKeyIs68BytesOfPackedE2M1() {
        EntryFormat.Fp4 f = new EntryFormat.Fp4(128);
        assertThat(f.bytes).isEqualTo(128 / 2 + 128 / 32).isEqualTo(68);
        SplittableRandom r = new SplittableRandom(3);
        for (int trial = 0; trial < 50; trial++) {
            float[] v = new float[128];
            for (int i = 0; i < 128; i++) v[i] = (float) (r.nextGaussian() * (i < 32 ? 1e-3 : 3));
            Quant.hadamard(v, 0, 128);
            Quant.bf16(v, 0, 128);
            Quant.fp4Sim(v, 0, 128);
            byte[] b = new byte[68];
            f.encode(v, 0, b, 0);
            for (int i = 0; i < 128; i++) {
                int code = (b[i / 2] & 0xFF) >> (i % 2 == 0 ? 0 : 4) & 15;   // §9.17: low nibble first
                assertThat(e2m1(code) * e8m0(b[64 + i / 32] & 0xFF)).as("dim %d", i).isEqualTo((double) v[i]);
            }
            float[] back = new float[128];
            f.decode(b, 0, back, 0);
            assertThat(back).isEqualTo(v);
        }
        assertThat(new EntryFormat.Fp4(16).bytes).isEqualTo(9);
    }

    @Test
    void valuesOffTheGridAreRefusedNotRounded() {
        float[] v = officialKv(128, 64, new SplittableRandom(4));
        float[] nopeOff = v.clone();
        nopeOff[3] = Math.nextUp(nopeOff[3] == 0 ? 1f : nopeOff[3]);
        assertThatThrownBy(() -> new EntryFormat.Fp8Rope(128, 64).encode(nopeOff, 0, new byte[200], 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E4M3");
        float[] ropeOff = v.clone();
        ropeOff[100] = 1.001f;                                  // not a BF16 value
        assertThatThrownBy(() -> new EntryFormat.Fp8Rope(128, 64).encode(ropeOff, 0, new byte[200], 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BF16");
        float[] key = new float[128];
        key[0] = 0.3f;                                          // alone in its block: 0.3/2^-4 = 4.8 is no E2M1 value
        assertThatThrownBy(() -> new EntryFormat.Fp4(128).encode(key, 0, new byte[68], 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E2M1");
    }

    @Test
    void syntheticEntriesAreValidAndModerate() {
        SplittableRandom r = new SplittableRandom(5);
        for (EntryFormat f : new EntryFormat[]{new EntryFormat.Fp8Rope(512, 64), new EntryFormat.Fp4(128), new EntryFormat.F32(40)}) {
            byte[] b = new byte[10 * f.bytes];
            f.random(b, 0, 10, r);
            float[] v = new float[f.dim], again = new float[f.dim];
            byte[] re = new byte[f.bytes];
            for (int k = 0; k < 10; k++) {
                f.decode(b, k * f.bytes, v, 0);
                for (float x : v) assertThat(Math.abs(x)).isLessThanOrEqualTo(6f);
                f.encode(v, 0, re, 0);                       // on the grid: encodes without complaint
                f.decode(re, 0, again, 0);
                assertThat(again).isEqualTo(v);
            }
        }
    }

    @Test
    void growingStoreAddsChunksWithoutCopyingAndStaysWithinOneChunkOfItsContents() {
        EntryFormat f = new EntryFormat.Fp4(128);
        EntryStore s = new EntryStore(f);
        float[] v = new float[128], back = new float[128];
        for (int i = 0; i < 3000; i++) {
            s.ensure(i + 1);
            v[0] = i % 5;                              // 0..4 are E2M1 values (at scale 2^0)
            s.put(i, v, 0);
            long allocated = s.capacity();
            assertThat(allocated).isGreaterThanOrEqualTo(i + 1).isEqualTo(EntryStore.allocatedFor(i + 1));
            assertThat(allocated - (i + 1)).isLessThan(Math.max(EntryStore.FIRST, i + 1 <= EntryStore.CHUNK ? i + 1 : EntryStore.CHUNK));
        }
        for (int i = 0; i < 3000; i += 7) {
            s.get(i, back, 0);
            assertThat(back[0]).isEqualTo((float) (i % 5));
        }
    }

    @Test
    void snapshotStreamRoundTripsBothLayouts() throws Exception {
        for (KvLayout layout : KvLayout.values()) {
            KvCache.Spec spec = new KvCache.Spec(new int[]{0, 4, 128, 0}, 3, 16, 128, 64, 128, layout);
            KvCache a = new KvCache(spec);
            a.fillSynthetic(1000, 7);
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            a.write(new DataOutputStream(buf));
            KvCache b = new KvCache(spec);
            b.read(new DataInputStream(new ByteArrayInputStream(buf.toByteArray())));
            assertThat(b.length()).isEqualTo(1000);
            float[] x = new float[128], y = new float[128];
            for (int j = 0; j < 250; j++) {
                a.layer(1).compressed.get(j, x, 0);
                b.layer(1).compressed.get(j, y, 0);
                assertThat(y).isEqualTo(x);
                a.layer(1).indexKeys.get(j, x, 0);
                b.layer(1).indexKeys.get(j, y, 0);
                assertThat(y).isEqualTo(x);
            }
            for (long p = 1000 - 16; p < 1000; p++) {
                a.layer(2).window.get(p, x, 0);
                b.layer(2).window.get(p, y, 0);
                assertThat(y).isEqualTo(x);
            }
            KvCache other = new KvCache(spec.withLayout(layout == KvLayout.FP32 ? KvLayout.COMPACT : KvLayout.FP32));
            assertThatThrownBy(() -> other.read(new DataInputStream(new ByteArrayInputStream(buf.toByteArray()))))
                    .hasMessageContaining("snapshot stores KV as " + layout);
        }
    }
}
