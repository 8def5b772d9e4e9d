package dev.ds4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.TestData;
import dev.ds4j.tensor.Matrix;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Module maths against values derived by hand from ARCHITECTURE.md. */
class ModulesTest {
    static ObjectNode config(String golden) throws IOException {
        return (ObjectNode) new ObjectMapper().readTree(TestData.golden(golden).resolve("config.json").toFile());
    }

    @Test
    void yarnTableForRopeDim8() throws IOException {
        // R = 8, base 160000: f_i = 160000^(−i/4) = 1, 0.05, 0.0025, 0.000125. low = 1, high = 4 (§4.4),
        // ramp_i = (i−1)/3: pairs 0, 1 unscaled, pair 2 = f·(1/16·1/3 + 2/3), pair 3 = f·(1/16·2/3 + 1/3).
        RopeTable t = RopeTable.compress(ModelConfig.parse(config("tiny-a")));
        assertThat(t.frequency(0)).isCloseTo(1f, within(1e-7f));
        assertThat(t.frequency(1)).isCloseTo(0.05f, within(1e-8f));
        assertThat(t.frequency(2)).isCloseTo(0.0025f * 0.6875f, within(1e-9f));
        assertThat(t.frequency(3)).isCloseTo(0.000125f * 0.375f, within(1e-10f));
        RopeTable main = RopeTable.main(ModelConfig.parse(config("tiny-a")));
        assertThat(main.frequency(2)).isCloseTo(0.01f, within(1e-8f));   // 10000^(−4/8), no YaRN
    }

    @Test
    void yarnTableForRopeDim64MatchesTheSpecsDerivedValues() throws IOException {
        RopeTable t = RopeTable.compress(ModelConfig.parse(config("tiny-b-fp8")));
        assertThat(t.frequency(0)).isEqualTo(1f);
        assertThat(t.frequency(1)).isCloseTo(0.687656f, within(1e-6f));
        assertThat(t.frequency(31)).isCloseTo(5.68e-7f, within(0.01e-7f));
        // Pairs ≥ 25 are fully interpolated: f / 16.
        assertThat(t.frequency(26)).isCloseTo((float) Math.pow(160000, -52.0 / 64) / 16, within(1e-12f));
    }

    @Test
    void ropeRotatesInterleavedPairsAndInverts() throws IOException {
        RopeTable t = RopeTable.main(ModelConfig.parse(config("tiny-a")));
        float[] cos = new float[4], sin = new float[4];
        t.angles(3, cos, sin);
        float[] v = {9, 9, 1, 0, 0, 1, 2, 3, 4, 5};   // 2 leading nope dims, then 4 pairs
        float[] orig = v.clone();
        t.apply(v, 0, 10, cos, sin, false, Numerics.PLAIN);
        assertThat(v[0]).isEqualTo(9f);                                  // nope dims untouched
        assertThat(v[2]).isCloseTo((float) Math.cos(3), within(1e-6f));  // pair 0 turns by 3 rad
        assertThat(v[3]).isCloseTo((float) Math.sin(3), within(1e-6f));
        t.apply(v, 0, 10, cos, sin, true, Numerics.PLAIN);
        for (int i = 0; i < v.length; i++) assertThat(v[i]).isCloseTo(orig[i], within(1e-5f));
    }

    @Test
    void sinkhornMakesCombDoublyStochastic() throws IOException {
        ObjectNode c = config("tiny-a");
        c.put("hidden_size", 1).put("hc_mult", 2);
        ModelConfig cfg = ModelConfig.parse(c);
        int mix = cfg.hcMixDim();   // 2 + 2 + 4 = 8
        float[] base = {0, 1, 0, 0.5f, 0, (float) Math.log(3), 0, 0};
        HyperConnection hcn = new HyperConnection(Matrix.ofFloats("fn", mix, 2, new float[mix * 2]), base, new float[]{1, 1, 1}, cfg);
        float[] X = {2, -4};
        Rows rows = new Rows(cfg);
        rows.reset(1, 1);
        hcn.pre(X, rows, Numerics.PLAIN);
        float[] out = rows.sub, post = rows.post, comb = rows.comb;
        // Row softmax of [[0, ln 3], [0, 0]] = [[1/4, 3/4], [1/2, 1/2]]; Sinkhorn keeps the cross ratio
        // c00·c11 / (c01·c10) = 1/3, so the doubly stochastic limit is [[a, 1−a], [1−a, a]] with a = 1/(1+√3).
        double a = 1 / (1 + Math.sqrt(3));
        assertThat(comb[0]).isCloseTo((float) a, within(1e-4f));
        assertThat(comb[1]).isCloseTo((float) (1 - a), within(1e-4f));
        assertThat(comb[2]).isCloseTo((float) (1 - a), within(1e-4f));
        assertThat(comb[3]).isCloseTo((float) a, within(1e-4f));
        // pre = sigmoid(base) + eps (not normalised), post = 2·sigmoid(base).
        double pre0 = 0.5 + 1e-6, pre1 = 1 / (1 + Math.exp(-1)) + 1e-6;
        assertThat(out[0]).isCloseTo((float) (pre0 * 2 + pre1 * -4), within(1e-5f));
        assertThat(post[0]).isCloseTo(1f, within(1e-6f));
        assertThat(post[1]).isCloseTo((float) (2 / (1 + Math.exp(-0.5))), within(1e-6f));
        // HC_post: stream k = post_k·f + Σ_j C[j][k]·X_j (column k).
        rows.sub[0] = 10;
        float[] Y = X.clone();
        hcn.post(Y, rows, 0, new float[2], Numerics.PLAIN);
        assertThat(Y[1]).isCloseTo((float) (post[1] * 10 + comb[1] * 2 + comb[3] * -4), within(1e-5f));
    }

    @Test
    void topKPrefersHigherScoresThenLowerIndices() {
        int[] picks = new int[3];
        Indexer.topK(new float[]{1, 3, 3, 2, 0}, 5, 2, picks);
        assertThat(Arrays.copyOf(picks, 2)).containsExactlyInAnyOrder(1, 2);
        Indexer.topK(new float[]{1, 3, 3, 2, 0}, 5, 3, picks);
        assertThat(picks).containsExactlyInAnyOrder(1, 2, 3);
        Indexer.topK(new float[]{5, 5, 5, 5}, 4, 2, picks);
        assertThat(Arrays.copyOf(picks, 2)).containsExactlyInAnyOrder(0, 1);
        Indexer.topK(new float[]{0, 0, 7}, 3, 1, picks);
        assertThat(picks[0]).isEqualTo(2);
    }

    @Test
    void softplusFollowsPyTorchThreshold() {
        assertThat(MoE.softplus(0f)).isCloseTo(Math.log(2), within(1e-12));
        assertThat(MoE.softplus(25f)).isEqualTo(25.0);
        assertThat(MoE.softplus(-30f)).isCloseTo(Math.exp(-30), within(1e-20));
    }
}
