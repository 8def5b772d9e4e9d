package dev.ds4j.model;

import dev.ds4j.TestData;
import dev.ds4j.kv.KvLayout;
import dev.ds4j.session.Session;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The compact KV layout stores exactly what official numerics compute: official-numerics logits are
 * bit-identical to those of the same values held as fp32, for a full prefill, prefill/decode splits and
 * chunked prefill, past the window with several CSA and HCA entries, with the configured top-k and with an
 * unbounded one.
 */
class KvLayoutExactnessTest {
    @TempDir
    static Path tmp;

    static int[] tokens(int n, int vocab, long seed) { return new SplittableRandom(seed).ints(n, 3, Math.min(vocab, 128_000)).toArray(); }

    /** Records the final residual streams of every position (the logits are a function of them alone). */
    static final class FinalStreams implements Observer {
        final int lastLayer, width;
        final float[][] rows;

        FinalStreams(int lastLayer, int n, int width) {
            this.lastLayer = lastLayer;
            this.width = width;
            this.rows = new float[n][];
        }

        @Override
        public void layerOutput(int layer, long pos, float[] streams, int off) {
            if (layer == lastLayer) rows[(int) pos] = Arrays.copyOfRange(streams, off, off + width);
        }
    }

    static FinalStreams streams(Model m, int n, int width) { return new FinalStreams(m.layers() - 1, n, width); }

    static void assertBitIdentical(float[] actual, float[] expected, String what) {
        assertThat(actual.length).as(what).isEqualTo(expected.length);
        for (int i = 0; i < expected.length; i++)
            if (Float.floatToRawIntBits(actual[i]) != Float.floatToRawIntBits(expected[i]))
                throw new AssertionError(what + ": element " + i + " is " + actual[i] + ", the fp32 layout gives " + expected[i]);
    }

    static float[] logits(Model m, float[] streams) {
        float[] l = new float[m.config().vocabSize()];
        m.logits(streams, 0, l, new float[m.config().dim()], Numerics.OFFICIAL);
        return l;
    }

    /**
     * Reference: the fp32 layout's full prefill. Against it, the compact layout's full prefill, prefill/decode
     * splits (prefill to p, decode token by token, prefill the rest) and a chunked prefill: the final streams
     * of every position and the logits of every decoded token and of the last one must be bit-identical.
     * (Logits rows for all 400 positions of a 129K vocabulary would cost more than the forward passes; the
     * streams carry the same information.)
     */
    static void check(Model m, int n, int[][] splits, int topk) {
        int[] ids = tokens(n, m.config().vocabSize(), 11);
        int width = m.config().hcMult() * m.config().dim();
        Session.Options official = Session.Options.defaults().withNumerics(Numerics.OFFICIAL).withIndexTopk(topk);
        assertThat(official.layout()).isEqualTo(KvLayout.COMPACT);

        FinalStreams ref = streams(m, n, width);
        Session fp32 = new Session(m, official.withKvLayout(KvLayout.FP32).withObserver(ref));
        float[] lastRef = fp32.prefill(ids, false)[0];

        FinalStreams full = streams(m, n, width);
        Session compact = new Session(m, official.withObserver(full));
        assertBitIdentical(compact.prefill(ids, false)[0], lastRef, "full prefill, last logits");
        for (int t = 0; t < n; t++) assertBitIdentical(full.rows[t], ref.rows[t], "full prefill, streams at " + t);
        long kvCompact = 0, kvFp32 = 0;     // entry bytes; the fp32 compressor state is the same in both
        for (var b : compact.cacheBytesByLayer()) kvCompact += b.kv();
        for (var b : fp32.cacheBytesByLayer()) kvFp32 += b.kv();
        assertThat(kvCompact).isLessThan(kvFp32 / 2);

        for (int[] split : splits) {
            int p = split[0], decoded = split[1];
            FinalStreams got = streams(m, n, width);
            Session s = new Session(m, official.withObserver(got));
            s.prefill(Arrays.copyOf(ids, p), false);
            for (int t = p; t < p + decoded; t++)
                assertBitIdentical(s.decode(ids[t]), logits(m, ref.rows[t]), "split at " + p + ", decoded logits at " + t);
            if (p + decoded < n) assertBitIdentical(s.prefill(Arrays.copyOfRange(ids, p + decoded, n), false)[0], lastRef, "split at " + p + ", last logits");
            for (int t = 0; t < n; t++) assertBitIdentical(got.rows[t], ref.rows[t], "split at " + p + ", streams at " + t);
        }

        FinalStreams chunked = streams(m, n, width);
        assertBitIdentical(new Session(m, official.withChunk(37).withObserver(chunked)).prefill(ids, false)[0], lastRef, "chunk 37, last logits");
        for (int t = 0; t < n; t++) assertBitIdentical(chunked.rows[t], ref.rows[t], "chunk 37, streams at " + t);
    }

    @Test
    void tinyPresetGivesBitIdenticalLogitsInBothLayouts() throws Exception {
        Path dir = tmp.resolve("tiny");
        java.nio.file.Files.createDirectories(dir);
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        try (Model m = Model.load(dir)) {
            // 400 tokens: window 64 wrapped six times, 100 CSA entries (top-16 of them), 3 HCA entries.
            check(m, 400, new int[][]{{1, 3}, {130, 4}, {383, 17}}, 0);
            check(m, 300, new int[][]{{126, 5}}, Integer.MAX_VALUE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-a", "tiny-a-bf16", "tiny-b-fp8"})
    void goldenCheckpointsGiveBitIdenticalLogitsInBothLayouts(String name) {
        try (Model m = Model.load(TestData.golden(name))) {
            check(m, 400, new int[][]{{5, 20}, {256, 40}}, 0);
        }
    }

    @Test
    void plainNumericsRefuseTheCompactLayout() {
        assertThatThrownBy(() -> Session.Options.defaults().withNumerics(Numerics.PLAIN).withKvLayout(KvLayout.COMPACT))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(Session.Options.defaults().withNumerics(Numerics.PLAIN).layout()).isEqualTo(KvLayout.FP32);
        // The layout follows the numerics unless chosen: switching numerics after the fact switches it too.
        assertThat(Session.Options.defaults().withNumerics(Numerics.PLAIN).withNumerics(Numerics.OFFICIAL).layout()).isEqualTo(KvLayout.COMPACT);
    }

    @Test
    void topKMatchesASortWithTiesToTheLowerIndex() {
        SplittableRandom r = new SplittableRandom(3);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + r.nextInt(trial < 200 ? 60 : 5000);
            int k = 1 + r.nextInt(n);
            float[] scores = new float[n];
            int levels = 1 + r.nextInt(8);                 // few distinct values: many ties
            for (int i = 0; i < n; i++) scores[i] = trial % 2 == 0 ? r.nextInt(levels) - 3 : (float) r.nextGaussian();
            if (n > 3) scores[1] = -0f;
            int[] picks = new int[k];
            Indexer.topK(scores, n, k, picks);
            // Float comparison, as the rule is stated: −0 and +0 are one score.
            Comparator<Integer> byScoreThenIndex = (a, b) -> scores[a] > scores[b] ? -1 : scores[a] < scores[b] ? 1 : Integer.compare(a, b);
            int[] expected = IntStream.range(0, n).boxed().sorted(byScoreThenIndex)
                    .limit(k).mapToInt(Integer::intValue).toArray();
            assertThat(picks).as("n=%d k=%d %s", n, k, Arrays.toString(scores)).isEqualTo(expected);
        }
    }

    @Test
    void topKIsFarFromQuadratic() {
        // n = 2^20 / 4 entries (one CSA layer at 1M tokens) and a large k on rising scores, the worst case of
        // both methods: an insertion selection moves up to n·k = 1.7e10 entries (seconds), a heap does about
        // n·log2(k) = 4.2e6 comparisons (milliseconds).
        int n = 262_144, k = 65_536;
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) scores[i] = i;
        int[] picks = new int[k];
        Indexer.topK(scores, n, k, picks);                      // warm-up
        long t0 = System.nanoTime();
        Indexer.topK(scores, n, k, picks);
        double ms = (System.nanoTime() - t0) / 1e6;
        for (int i = 0; i < k; i++) assertThat(picks[i]).isEqualTo(n - 1 - i);
        assertThat(ms).as("ms for one top-k").isLessThan(1000);
    }
}
