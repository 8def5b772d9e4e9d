package dev.ds4j.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.TestData;
import dev.ds4j.session.Session;
import dev.ds4j.verify.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static dev.ds4j.verify.Verifier.maxAbsDiff;
import static dev.ds4j.verify.Verifier.teacherForced;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checkpoints written in the official layout with other shapes and schedules than the goldens: a Pro-like
 * HCA-first schedule, three hash layers, partial FP8 scale blocks, shards, an MTP block. No external
 * reference exists for these, so they check the engine's invariants: causality at every split, sharding
 * transparency, and official numerics staying close to plain.
 */
class GeneratedCheckpointTest {
    @TempDir
    Path tmp;

    /** A Pro-like schedule: HCA first, no sliding-only main layer, 3 hash layers, FP8 + FP4 layout. */
    static ObjectNode proLike() throws IOException {
        ObjectNode c = ModulesTest.config("tiny-b-fp8");
        ArrayNode r = c.putArray("compress_ratios");
        for (int x : new int[]{128, 128, 4, 128, 4, 0}) r.add(x);
        c.put("num_hidden_layers", 5).put("num_hash_layers", 3).put("hidden_size", 192)   // 192: partial 128-blocks
                .put("q_lora_rank", 96).put("moe_intermediate_size", 64).put("index_topk", 4)
                .put("sliding_window", 12).put("vocab_size", 300).put("num_attention_heads", 4).put("o_lora_rank", 80);
        return c;
    }

    static int[] tokens(int n, int vocab, long seed) {
        return new SplittableRandom(seed).ints(n, 3, vocab).toArray();
    }

    @Test
    void proLikeScheduleIsCausalAtEverySplitInBothNumerics() throws IOException {
        CheckpointLayout.write(tmp, proLike(), CheckpointLayout.Fill.RANDOM, 7, 0.05, false, 1);
        try (Model m = Model.load(tmp)) {
            int[] ids = tokens(290, m.config().vocabSize(), 11);
            for (Numerics num : Numerics.values()) {
                Session.Options o = Session.Options.defaults().withNumerics(num);
                float[][] full = new Session(m, o).prefill(ids, true);
                for (float v : full[289]) assertThat(v).isFinite();
                for (int split : new int[]{1, 4, 127, 128, 129, 256, 289}) {
                    assertThat(maxAbsDiff(teacherForced(m, o, ids, split), full)).as("%s split %d", num, split).isLessThanOrEqualTo(1e-5);
                }
                assertThat(maxAbsDiff(new Session(m, o.withChunk(13)).prefill(ids, true), full)).isLessThanOrEqualTo(1e-5);
            }
        }
    }

    @Test
    void shardedCheckpointGivesTheSameLogitsAsASingleFile() throws IOException {
        Path single = tmp.resolve("single"), sharded = tmp.resolve("sharded");
        CheckpointLayout.write(single, proLike(), CheckpointLayout.Fill.RANDOM, 3, 0.05, false, 1);
        CheckpointLayout.write(sharded, proLike(), CheckpointLayout.Fill.RANDOM, 3, 0.05, false, 4);
        try (Model a = Model.load(single); Model b = Model.load(sharded)) {
            int[] ids = tokens(40, a.config().vocabSize(), 5);
            Session.Options o = Session.Options.defaults().withNumerics(Numerics.PLAIN);
            assertThat(maxAbsDiff(new Session(a, o).prefill(ids, true), new Session(b, o).prefill(ids, true))).isZero();
        }
    }

    @Test
    void mtpBlockLoadsAndDraftsConsistentlyAcrossSplits() throws IOException {
        CheckpointLayout.write(tmp, proLike(), CheckpointLayout.Fill.RANDOM, 9, 0.05, true, 1);
        try (Model m = Model.load(tmp)) {
            assertThat(m.hasMtp()).isTrue();
            int[] ids = tokens(60, m.config().vocabSize(), 2);
            Session.Options o = Session.Options.defaults().withNumerics(Numerics.PLAIN).withMtp(true);
            Session whole = new Session(m, o);
            whole.prefill(ids, false);
            float[] a = whole.draft(17);
            Session stepwise = new Session(m, o.withChunk(7));
            stepwise.prefill(Arrays.copyOf(ids, 20), false);
            for (int t = 20; t < ids.length; t++) stepwise.decode(ids[t]);
            float[] b = stepwise.draft(17);
            assertThat(a).hasSize(m.config().vocabSize());
            for (int i = 0; i < a.length; i++) {
                assertThat(a[i]).isFinite();
                assertThat(Math.abs(a[i] - b[i])).isLessThanOrEqualTo(1e-5f);
            }
            // The draft depends on the token it is given (it is not the main head's output).
            Session other = new Session(m, o);
            other.prefill(ids, false);
            float[] c = other.draft(18);
            for (float v : c) assertThat(v).isFinite();
            assertThat(maxAbsDiff(new float[][]{a}, new float[][]{c})).isGreaterThan(1e-4);
        }
    }

    /** Relative RMS difference and argmax agreement of official vs plain logits over the first 160 golden tokens. */
    static double[] officialVsPlain(String golden, int topk) {
        Path dir = TestData.golden(golden);
        try (Model m = Model.load(dir)) {
            int[] ids = Arrays.copyOf(Golden.read(dir.resolve("expected.safetensors")).inputIds(), 160);
            Session.Options o = Session.Options.defaults().withIndexTopk(topk);
            float[][] off = new Session(m, o.withNumerics(Numerics.OFFICIAL)).prefill(ids, true);
            float[][] plain = new Session(m, o.withNumerics(Numerics.PLAIN)).prefill(ids, true);
            double num = 0, den = 0;
            int agree = 0;
            for (int t = 0; t < ids.length; t++) {
                int ao = 0, ap = 0;
                for (int i = 0; i < off[t].length; i++) {
                    assertThat(off[t][i]).isFinite();
                    num += (off[t][i] - plain[t][i]) * (double) (off[t][i] - plain[t][i]);
                    den += plain[t][i] * (double) plain[t][i];
                    if (off[t][i] > off[t][ao]) ao = i;
                    if (plain[t][i] > plain[t][ap]) ap = i;
                }
                if (ao == ap) agree++;
            }
            double[] r = {Math.sqrt(num / den), agree / (double) ids.length};
            System.out.printf("official vs plain on %s (top-k %s): relative RMS %.4f, argmax agreement %.2f%n", golden,
                    topk == 0 ? "configured" : "unbounded", r[0], r[1]);
            return r;
        }
    }

    @Test
    void officialNumericsStayCloseToPlain() {
        // BF16 weights (no activation quantisation): only BF16 activations and the FP8 KV simulation differ.
        double[] bf16 = officialVsPlain("tiny-a-bf16", Integer.MAX_VALUE);
        assertThat(bf16[0]).isGreaterThan(1e-3).isLessThan(0.1);
        assertThat(bf16[1]).isGreaterThan(0.85);
        // FP8/FP4 weights: every GEMM input is also rounded to E4M3 (3 mantissa bits). These random weights were
        // not trained for that, so the gap is larger (measured 0.24; 0.11 with the activation rounding ablated).
        double[] fp8 = officialVsPlain("tiny-b-fp8", Integer.MAX_VALUE);
        assertThat(fp8[0]).isGreaterThan(1e-3).isLessThan(0.35);
        assertThat(fp8[1]).isGreaterThan(0.6);
    }
}
