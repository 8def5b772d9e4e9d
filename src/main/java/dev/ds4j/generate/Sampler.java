package dev.ds4j.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks tokens from logits: logit bias, penalties, temperature, then the top-k / top-p / min-p filters
 * on the resulting distribution, then one draw. One sampler per sequence (it owns the random stream and
 * the token counts); with a seed the draws are reproducible.
 */
public final class Sampler {
    private final SamplingParams p;
    private final SplittableRandom rnd;
    private final int[] generatedCount;
    private final boolean[] seen; // prompt or output, for the repetition penalty
    private long[] order = new long[0];

    public Sampler(SamplingParams params, int vocab, int[] prompt) {
        this.p = params;
        this.rnd = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
        this.generatedCount = new int[vocab];
        this.seen = new boolean[vocab];
        for (int t : prompt) if (t >= 0 && t < vocab) seen[t] = true;
        for (int id : params.logitBias().keySet())
            if (id < 0 || id >= vocab) throw new IllegalArgumentException("logit_bias: token id " + id + " is outside the vocabulary [0, " + vocab + ")");
    }

    /** Records a token that was emitted without sampling (forced output), so penalties still see it. */
    public void accept(int token) {
        generatedCount[token]++;
        seen[token] = true;
    }

    /** Samples the next token; {@code logits} is modified in place. */
    public int sample(float[] logits) {
        adjust(logits);
        int token = p.temperature() == 0 ? argmax(logits) : draw(logits);
        accept(token);
        return token;
    }

    void adjust(float[] logits) {
        for (var e : p.logitBias().entrySet()) logits[e.getKey()] += e.getValue();
        double rep = p.repetitionPenalty(), pres = p.presencePenalty(), freq = p.frequencyPenalty();
        if (rep != 1 || pres != 0 || freq != 0) {
            for (int i = 0; i < logits.length; i++) {
                if (rep != 1 && seen[i]) logits[i] = (float) (logits[i] > 0 ? logits[i] / rep : logits[i] * rep);
                int c = generatedCount[i];
                if (c > 0) logits[i] -= (float) (pres + freq * c);
            }
        }
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /** Softmax at the temperature, the filters, then inverse-CDF sampling over the kept tokens. */
    private int draw(float[] logits) {
        int n = logits.length;
        double inv = 1.0 / p.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        if (max == Float.NEGATIVE_INFINITY) throw new IllegalStateException("every token is masked");
        double sum = 0;
        float[] prob = logits; // reuse: probabilities overwrite the logits
        for (int i = 0; i < n; i++) {
            double e = Math.exp((logits[i] - max) * inv);
            prob[i] = (float) e;
            sum += e;
        }
        for (int i = 0; i < n; i++) prob[i] /= (float) sum;

        boolean filter = p.topK() > 0 || p.topP() < 1 || p.minP() > 0;
        if (!filter) return inverseCdf(prob);

        // Sort by probability, descending: positive floats order like their bit patterns.
        if (order.length != n) order = new long[n];
        for (int i = 0; i < n; i++) order[i] = ((long) Float.floatToRawIntBits(prob[i]) << 32) | (n - 1 - i);
        Arrays.sort(order); // ascending; equal probabilities put the lower id last, i.e. first when read backwards
        int keep = p.topK() > 0 ? Math.min(p.topK(), n) : n;
        float pMax = prob[id(order[n - 1], n)];
        double cum = 0;
        int kept = 0;
        for (int r = 0; r < keep; r++) {
            float pr = prob[id(order[n - 1 - r], n)];
            if (p.minP() > 0 && pr < p.minP() * pMax) break;
            cum += pr;
            kept++;
            if (cum >= p.topP()) break; // the smallest prefix whose mass reaches top_p
        }
        double u = rnd.nextDouble() * cum;
        for (int r = 0; r < kept; r++) {
            int t = id(order[n - 1 - r], n);
            u -= prob[t];
            if (u < 0) return t;
        }
        return id(order[n - kept], n);
    }

    private static int id(long packed, int n) { return n - 1 - (int) packed; }

    private int inverseCdf(float[] prob) {
        double u = rnd.nextDouble();
        int last = 0;
        for (int i = 0; i < prob.length; i++) {
            if (prob[i] <= 0) continue;
            last = i;
            u -= prob[i];
            if (u < 0) return i;
        }
        return last; // rounding left a sliver of mass
    }
}
