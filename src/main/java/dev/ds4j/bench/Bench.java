package dev.ds4j.bench;

import dev.ds4j.model.Model;
import dev.ds4j.session.Session;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Prefill and decode speed on a real model, set against the machine's read bandwidth measured in the same
 * run. Decode reads every weight a token touches once, so tokens/s × bytes/token ÷ bandwidth is the share
 * of the memory roofline reached. Prompts are random token ids (speed does not depend on the text);
 * decode takes the argmax, so the run is deterministic.
 */
public final class Bench {
    private Bench() {}

    public record Result(int promptTokens, double prefillSeconds, int decodeTokens, double[] decodeSeconds,
                         long bytesPerToken, double bandwidth, long kvBytes) {
        public double prefillTokensPerSecond() { return promptTokens / prefillSeconds; }

        /** Median seconds per decoded token (robust to the odd scheduling hiccup). */
        public double decodeSecondsPerToken() {
            double[] s = decodeSeconds.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        public double decodeTokensPerSecond() { return 1 / decodeSecondsPerToken(); }

        /** Achieved decode read rate over measured bandwidth. */
        public double rooflineRatio() { return decodeTokensPerSecond() * bytesPerToken / bandwidth; }

        public double prefillOverDecode() { return prefillTokensPerSecond() / decodeTokensPerSecond(); }
    }

    /**
     * Prefills {@code promptTokens} random tokens, then decodes {@code decodeTokens} more, timing each.
     * {@code bandwidth} is the probe's figure (bytes/s); {@code progress} gets prompt tokens done.
     */
    public static Result run(Model model, Session.Options options, int promptTokens, int decodeTokens, long seed,
                             double bandwidth, IntConsumer progress) {
        if (promptTokens < 1 || decodeTokens < 1) throw new IllegalArgumentException("bench needs ≥ 1 prompt and ≥ 1 decode token");
        int vocab = model.config().vocabSize();
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] prompt = new int[promptTokens];
        for (int i = 0; i < promptTokens; i++) prompt[i] = 1000 + rnd.nextInt(vocab - 2000); // ordinary text ids
        Session s = new Session(model, options);
        long t0 = System.nanoTime();
        float[][] rows = s.prefill(prompt, false, progress);
        double prefill = (System.nanoTime() - t0) / 1e9;
        double[] times = new double[decodeTokens];
        int next = argmax(rows[0]);
        for (int i = 0; i < decodeTokens; i++) {
            long t = System.nanoTime();
            next = argmax(s.decode(next));
            times[i] = (System.nanoTime() - t) / 1e9;
        }
        return new Result(promptTokens, prefill, decodeTokens, times, model.bytesPerToken(), bandwidth, s.cacheBytes());
    }

    /** Untimed decode steps before each context point's timed ones. */
    public static final int CONTEXT_WARMUP = 3;

    /** Decode cost at one context length: the cache filled with synthetic entries, then timed decode steps. */
    public record ContextPoint(long context, double secondsPerToken, long kvBytes, double fillSeconds) {}

    /**
     * For each length, fills a fresh session's cache with {@code context} synthetic tokens (cost does not
     * depend on the entries' values) and times {@code decodeTokens} decode steps (median). The session is
     * dropped before the next length, so at most one large cache lives at a time.
     */
    public static ContextPoint contextPoint(Model model, Session.Options options, long context, int decodeTokens, long seed) {
        Session s = new Session(model, options);
        long t0 = System.nanoTime();
        s.fillSynthetic(context, seed);
        double fill = (System.nanoTime() - t0) / 1e9;
        double[] times = new double[decodeTokens];
        int next = 1000;
        // Warm-up steps, untimed: the first context point would otherwise carry the JIT's compilations.
        for (int i = 0; i < CONTEXT_WARMUP; i++) next = argmax(s.decode(next));
        for (int i = 0; i < decodeTokens; i++) {
            long t = System.nanoTime();
            next = argmax(s.decode(next));
            times[i] = (System.nanoTime() - t) / 1e9;
        }
        Arrays.sort(times);
        double median = times.length % 2 == 1 ? times[times.length / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
        return new ContextPoint(context, median, s.cacheBytes(), fill);
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
