package dev.ds4j.generate;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Sampling distributions against probabilities worked out by hand for logits ln(1), ln(2), ln(3) (p = 1/6, 2/6, 3/6). */
class SamplerTest {
    static final float[] LOGITS = {0f, (float) Math.log(2), (float) Math.log(3)};
    static final int DRAWS = 60_000;

    static double[] frequencies(SamplingParams params, float[] logits) {
        Sampler s = new Sampler(params.withSeed(42L), logits.length, new int[0]);
        double[] f = new double[logits.length];
        for (int i = 0; i < DRAWS; i++) {
            // A fresh sampler state per draw would reset the seed; penalties are off here so one sampler is fine.
            f[s.sample(logits.clone())]++;
        }
        for (int i = 0; i < f.length; i++) f[i] /= DRAWS;
        return f;
    }

    @Test
    void temperatureOneSamplesTheSoftmax() {
        assertThat(frequencies(SamplingParams.DEFAULTS, LOGITS)).containsExactly(new double[]{1 / 6.0, 2 / 6.0, 3 / 6.0}, within(0.01));
    }

    @Test
    void temperatureTwoFlattensToSquareRoots() {
        double z = 1 + Math.sqrt(2) + Math.sqrt(3);
        assertThat(frequencies(SamplingParams.DEFAULTS.withTemperature(2), LOGITS))
                .containsExactly(new double[]{1 / z, Math.sqrt(2) / z, Math.sqrt(3) / z}, within(0.01));
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        assertThat(frequencies(SamplingParams.DEFAULTS.withTopP(0.5), LOGITS)).containsExactly(new double[]{0, 0, 1}, within(0.0));
        assertThat(frequencies(SamplingParams.DEFAULTS.withTopP(0.6), LOGITS)).containsExactly(new double[]{0, 0.4, 0.6}, within(0.01));
    }

    @Test
    void topKAndMinP() {
        assertThat(frequencies(SamplingParams.DEFAULTS.withTopK(2), LOGITS)).containsExactly(new double[]{0, 0.4, 0.6}, within(0.01));
        // min_p 0.5 keeps p >= 0.25: tokens 1 and 2.
        assertThat(frequencies(SamplingParams.DEFAULTS.withMinP(0.5), LOGITS)).containsExactly(new double[]{0, 0.4, 0.6}, within(0.01));
        assertThat(frequencies(SamplingParams.DEFAULTS.withTopK(1).withTemperature(5), LOGITS)).containsExactly(new double[]{0, 0, 1}, within(0.0));
    }

    @Test
    void greedyTakesTheArgmaxAndLogitBiasMovesIt() {
        Sampler s = new Sampler(SamplingParams.DEFAULTS.withTemperature(0), 3, new int[0]);
        assertThat(s.sample(LOGITS.clone())).isEqualTo(2);
        Sampler b = new Sampler(SamplingParams.DEFAULTS.withTemperature(0).withLogitBias(Map.of(0, 5f)), 3, new int[0]);
        assertThat(b.sample(LOGITS.clone())).isEqualTo(0);
    }

    @Test
    void penaltiesFollowTheirDefinitions() {
        Sampler s = new Sampler(SamplingParams.DEFAULTS.withPenalties(2.0, 0.5, 0.25), 3, new int[]{0});
        s.accept(2);
        s.accept(2);
        float[] x = {-1f, 1f, 4f};
        s.adjust(x);
        assertThat(x[0]).isEqualTo(-2f);                // seen in the prompt, negative: times 2
        assertThat(x[1]).isEqualTo(1f);                 // never seen
        assertThat(x[2]).isEqualTo(4f / 2 - 0.5f - 0.5f); // seen: /2, then presence 0.5 and frequency 0.25 × 2
    }

    @Test
    void aSeedMakesDrawsReproducible() {
        float[] flat = new float[1000];
        int[] a = new int[50], b = new int[50];
        Sampler s1 = new Sampler(SamplingParams.DEFAULTS.withSeed(7L), 1000, new int[0]);
        Sampler s2 = new Sampler(SamplingParams.DEFAULTS.withSeed(7L), 1000, new int[0]);
        for (int i = 0; i < 50; i++) { a[i] = s1.sample(flat.clone()); b[i] = s2.sample(flat.clone()); }
        assertThat(a).isEqualTo(b);
        assertThat(java.util.Arrays.stream(a).distinct().count()).isGreaterThan(40);
    }

    @Test
    void badParametersNameThemselves() {
        assertThatThrownBy(() -> SamplingParams.DEFAULTS.withTopP(0)).hasMessageContaining("top_p: must be in (0, 1]");
        assertThatThrownBy(() -> SamplingParams.DEFAULTS.withTemperature(-1)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> SamplingParams.DEFAULTS.withMaxTokens(0)).hasMessageContaining("max_tokens");
        assertThatThrownBy(() -> SamplingParams.DEFAULTS.withStop(List.of(""))).hasMessageContaining("stop");
        assertThatThrownBy(() -> new Sampler(SamplingParams.DEFAULTS.withLogitBias(Map.of(5, 1f)), 3, new int[0])).hasMessageContaining("logit_bias: token id 5");
    }
}
