package dev.ds4j.session;

import dev.ds4j.TestData;
import dev.ds4j.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The chat's KV reuse: which state a new prompt may continue from, and that continuing from it gives
 * exactly the logits of prefilling the whole prompt in a fresh session (tiny-a golden checkpoint: an
 * 8-token window and compressors of ratio 4 and 128, so window rings and compressor state are crossed).
 */
class PrefixReuseTest {
    static Model model;

    @BeforeAll
    static void load() throws Exception { model = Model.load(TestData.golden("tiny-a")); }

    @AfterAll
    static void close() { model.close(); }

    static Session fresh() { return new Session(model, Session.Options.defaults().withChunk(16)); }

    static int[] tokens(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(model.config().vocabSize());
        return t;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void onlyAProperPrefixIsReusable() {
        int[] p = {5, 6, 7, 8};
        assertThat(PrefixReuse.reusable(new int[]{5, 6}, p)).isEqualTo(2);
        assertThat(PrefixReuse.reusable(new int[]{5, 6, 7}, p)).isEqualTo(3);
        assertThat(PrefixReuse.reusable(new int[]{}, p)).isZero();
        assertThat(PrefixReuse.reusable(p.clone(), p)).as("one token must be left to feed").isZero();
        assertThat(PrefixReuse.reusable(new int[]{5, 6, 7, 8, 9}, p)).isZero();
        assertThat(PrefixReuse.reusable(new int[]{5, 9}, p)).as("diverges").isZero();
        assertThat(PrefixReuse.reusable(null, p)).as("unknown").isZero();
    }

    /** Logits of the last token of {@code prompt} after feeding the rest through the helper. */
    static float[] lastLogits(PrefixReuse reuse, int[] prompt) {
        reuse.feed(prompt, prompt.length - 1, 16, () -> false);
        reuse.checkpoint();
        return reuse.live().decode(prompt[prompt.length - 1]);
    }

    static float[] freshLogits(int[] prompt) { return fresh().prefill(prompt, false)[0]; }

    /** Bit-identical, as every prefill/decode split is; on failure, says by how much instead of printing the vocabulary. */
    static void assertSameLogits(float[] reused, float[] fresh) {
        double max = 0;
        for (int i = 0; i < fresh.length; i++) max = Math.max(max, Math.abs(reused[i] - fresh[i]));
        assertThat(max).as("max |logit difference| between the reused and the fresh session").isZero();
        assertThat(reused).isEqualTo(fresh);
    }

    @Test
    void continuingFromTheLiveSessionOrTheCheckpointEqualsAFreshPrefill() {
        AtomicInteger created = new AtomicInteger();
        PrefixReuse reuse = new PrefixReuse(() -> { created.incrementAndGet(); return fresh(); });

        int[] p1 = tokens(1, 37);
        assertThat(reuse.prepare(p1)).isZero();
        assertSameLogits(lastLogits(reuse, p1), freshLogits(p1));
        int[] reply1 = tokens(2, 21);
        // what Generator leaves behind: the reply's tokens but the last were fed back
        for (int i = 0; i < reply1.length - 1; i++) reuse.live().decode(reply1[i]);
        reuse.generated(p1, reply1);

        // The next prompt starts with everything the live session holds: it continues from there.
        int[] p2 = concat(concat(p1, Arrays.copyOf(reply1, reply1.length - 1)), tokens(3, 40));
        assertThat(reuse.prepare(p2)).isEqualTo(p1.length + reply1.length - 1);
        assertSameLogits(lastLogits(reuse, p2), freshLogits(p2));
        reuse.live().decode(9);
        reuse.live().decode(10);
        reuse.generated(p2, new int[]{9, 10, 42});

        // A prompt that rewrites the end of p2 (the reply re-rendered differently) goes back to the
        // checkpoint, taken before p2's last token, which must be untouched by what was fed after it.
        int[] p3 = concat(Arrays.copyOf(p2, p2.length - 1), tokens(4, 90));
        assertThat(reuse.prepare(p3)).isEqualTo(p2.length - 1);
        assertSameLogits(lastLogits(reuse, p3), freshLogits(p3));

        // An unrelated prompt starts over.
        int before = created.get();
        int[] p4 = tokens(5, 12);
        assertThat(reuse.prepare(p4)).isZero();
        assertThat(created.get()).isEqualTo(before + 1);
        assertSameLogits(lastLogits(reuse, p4), freshLogits(p4));
    }

    @Test
    void aStoppedReplyIsNotReusedButTheCheckpointIs() {
        PrefixReuse reuse = new PrefixReuse(PrefixReuseTest::fresh);
        int[] p1 = tokens(6, 30);
        reuse.prepare(p1);
        lastLogits(reuse, p1);
        reuse.live().decode(77); // part of a reply whose tokens the chat never learned
        reuse.liveUnknown();
        int[] p2 = concat(p1, tokens(7, 10));
        assertThat(reuse.prepare(p2)).isEqualTo(p1.length - 1);
        assertSameLogits(lastLogits(reuse, p2), freshLogits(p2));
    }

    @Test
    void aCancelledPrefillKeepsWhatItFed() {
        PrefixReuse reuse = new PrefixReuse(PrefixReuseTest::fresh);
        int[] p = tokens(8, 50);
        reuse.prepare(p);
        AtomicInteger polls = new AtomicInteger();
        assertThatThrownBy(() -> reuse.feed(p, p.length - 1, 16, () -> polls.incrementAndGet() > 2))
                .isInstanceOf(CancellationException.class);
        assertThat(reuse.live().position()).isEqualTo(32);
        int[] longer = concat(p, tokens(9, 5));
        assertThat(reuse.prepare(longer)).isEqualTo(32);
        assertSameLogits(lastLogits(reuse, longer), freshLogits(longer));
    }
}
