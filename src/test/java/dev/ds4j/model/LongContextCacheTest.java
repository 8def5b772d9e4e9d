package dev.ds4j.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.kv.KvCache;
import dev.ds4j.kv.KvLayout;
import dev.ds4j.kv.LayerCache;
import dev.ds4j.session.Session;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * KV memory against ARCHITECTURE §8.3's formula, and long contexts without running the model: a synthetic fill
 * gives a valid cache of any length, from which decoding runs the real code.
 */
class LongContextCacheTest {
    @TempDir
    static Path dir;
    static Model tiny;

    @BeforeAll
    static void setUp() throws Exception {
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        tiny = Model.load(dir);
    }

    @AfterAll
    static void tearDown() { tiny.close(); }

    /** V4-Flash's dims and schedule (ARCHITECTURE §1.1, §1.2); no checkpoint is needed for cache sizes. */
    static ModelConfig flash() {
        ObjectNode c = Presets.tiny();
        c.put("hidden_size", 4096).put("num_hidden_layers", 43).put("num_attention_heads", 64).put("head_dim", 512)
                .put("qk_rope_head_dim", 64).put("q_lora_rank", 1024).put("o_groups", 8).put("o_lora_rank", 1024)
                .put("sliding_window", 128).put("index_n_heads", 64).put("index_head_dim", 128).put("index_topk", 512)
                .put("n_routed_experts", 256).put("num_experts_per_tok", 6).put("moe_intermediate_size", 2048).put("num_hash_layers", 3);
        ArrayNode r = c.putArray("compress_ratios");
        for (int i = 0; i < 44; i++) r.add(i < 2 || i == 43 ? 0 : i % 2 == 0 ? 4 : 128);
        return ModelConfig.parse(c);
    }

    /** §8.3: n_layers·W·E + n_CSA·⌊L/4⌋·(E + E_I) + n_HCA·⌊L/128⌋·E. */
    static long formula(int layers, int window, int csa, int hca, long e, long ei, long L) {
        return layers * window * e + csa * (L / 4) * (e + ei) + hca * (L / 128) * e;
    }

    static LayerCache.Bytes sum(LayerCache.Bytes[] bs) {
        LayerCache.Bytes t = LayerCache.Bytes.ZERO;
        for (LayerCache.Bytes b : bs) t = t.plus(b);
        return t;
    }

    @Test
    void flashCacheAtAMillionTokensIsTheFormulasSize() {
        ModelConfig c = flash();
        KvCache.Spec spec = Model.cacheSpec(c, false, KvLayout.COMPACT);
        assertThat(spec.entryBytes()).isEqualTo(584);      // §8.2
        assertThat(spec.indexKeyBytes()).isEqualTo(68);
        long L = 1L << 20;
        long expected = formula(43, 128, 21, 20, 584, 68, L);
        LayerCache.Bytes at = sum(spec.bytesAt(L));
        assertThat(at.kv()).isEqualTo(expected);
        assertThat((double) at.total()).isCloseTo(expected, within(0.01 * expected));
        // One entry past a chunk boundary: growth adds a chunk, it does not double.
        LayerCache.Bytes past = sum(spec.bytesAt(L + 4));
        assertThat((double) past.total()).isCloseTo(formula(43, 128, 21, 20, 584, 68, L + 4), within(0.01 * expected));
        double slope = (double) (expected - formula(43, 128, 21, 20, 584, 68, 0)) / L;
        assertThat(slope).isCloseTo(3514.3, within(0.05));  // §8.3's table
        System.out.printf("Flash KV, compact: %.1f B/token, %.3f GiB at 2^20 tokens (entries %.3f GiB, compressor state %.1f MiB, chunk slack %d B)%n",
                slope, at.total() / (double) (1L << 30), at.kv() / (double) (1L << 30), at.state() / (double) (1 << 20), at.slack());
        LayerCache.Bytes f32 = sum(Model.cacheSpec(c, false, KvLayout.FP32).bytesAt(L));
        assertThat(f32.kv()).isEqualTo(formula(43, 128, 21, 20, 2048, 512, L));
        System.out.printf("Flash KV, fp32: %.3f GiB at 2^20 tokens%n", f32.total() / (double) (1L << 30));
    }

    @Test
    void aFilledFlashCacheHoldsWhatTheProjectionSaysWithTheFormulasSlope() {
        KvCache.Spec spec = Model.cacheSpec(flash(), false, KvLayout.COMPACT);
        long[] lengths = {4099, 8195};
        long[] kv = new long[2];
        for (int k = 0; k < 2; k++) {
            KvCache cache = new KvCache(spec);
            cache.fillSynthetic(lengths[k], k);
            assertThat(cache.length()).isEqualTo(lengths[k]);
            LayerCache.Bytes[] held = cache.bytesByLayer(), projected = spec.bytesAt(lengths[k]);
            assertThat(held).isEqualTo(projected);
            assertThat(cache.bytes()).isEqualTo(sum(projected).total());
            assertThat(cache.layer(2).compressed.count()).isEqualTo((int) (lengths[k] / 4));
            assertThat(cache.layer(3).compressed.count()).isEqualTo((int) (lengths[k] / 128));
            assertThat(cache.layer(2).compressor.pending).isEqualTo((int) (lengths[k] % 4));
            kv[k] = sum(held).kv();
            assertThat(kv[k]).isEqualTo(formula(43, 128, 21, 20, 584, 68, lengths[k]));
        }
        assertThat(kv[1] - kv[0]).isEqualTo(21L * (8195 / 4 - 4099 / 4) * (584 + 68) + 20L * (8195 / 128 - 4099 / 128) * 584);
    }

    @Test
    void decodingAfterASyntheticMillionTokenFillRunsAndTheBytesAreTheFormulas() {
        // Tiny dims: head 128 = 64 nope + 64 rope → 64 + 128 + 1 scale = 193, padded to 200; index keys 128 → 68.
        long L = (1L << 20) - 2;                // the next two tokens complete a CSA entry and an HCA entry
        Session s = new Session(tiny, Session.Options.defaults());
        s.fillSynthetic(L, 42);
        assertThat(s.position()).isEqualTo(L);
        long kv = sum(s.cacheBytesByLayer()).kv();
        assertThat(kv).isEqualTo(formula(4, 64, 2, 1, 200, 68, L));
        float[] a = s.decode(1000);
        float[] b = s.decode(2000);
        for (float v : b) assertThat(v).isFinite();
        assertThat(a).isNotEqualTo(b);
        assertThat(s.position()).isEqualTo(L + 2);
        assertThat(sum(s.cacheBytesByLayer()).kv()).isEqualTo(formula(4, 64, 2, 1, 200, 68, L + 2));

        // The same fill gives the same state: a second session decodes to the same logits.
        Session t = new Session(tiny, Session.Options.defaults());
        t.fillSynthetic(L, 42);
        assertThat(t.decode(1000)).isEqualTo(a);
    }

    @Test
    void syntheticCachesSnapshotAndCopyExactlyInBothLayouts() throws Exception {
        for (Numerics num : Numerics.values()) {
            Session.Options o = Session.Options.defaults().withNumerics(num);
            Session s = new Session(tiny, o);
            s.fillSynthetic(1001, 3);
            assertThat(sum(s.cacheBytesByLayer()).kv()).isEqualTo(num.official()
                    ? formula(4, 64, 2, 1, 200, 68, 1001) : formula(4, 64, 2, 1, 4 * 128, 4 * 128, 1001));
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            s.write(new DataOutputStream(buf));
            Session restored = new Session(tiny, o), copy = new Session(tiny, o);
            restored.read(new DataInputStream(new ByteArrayInputStream(buf.toByteArray())));
            copy.copyFrom(s);
            float[][] expected = new float[4][];
            for (int i = 0; i < 4; i++) expected[i] = s.decode(7 + i);
            for (Session r : new Session[]{restored, copy})
                for (int i = 0; i < 4; i++) assertThat(r.decode(7 + i)).as("%s token %d", num, i).isEqualTo(expected[i]);
            for (float v : expected[3]) assertThat(v).isFinite();
        }
    }
}
