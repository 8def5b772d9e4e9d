package dev.ds4j.session;

import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Snapshots must be exact: a session restored from the cache (in memory or from disk) continues with
 * bit-identical logits to the session it was taken from. The cache stays within its budget, evicting the
 * least recently used entry, and refuses snapshots made for other weights or damaged on disk.
 */
class PrefixCacheTest {
    @TempDir
    static Path dir;
    static Model model, other;

    @BeforeAll
    static void setUp() throws Exception {
        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        CheckpointLayout.write(dir.resolve("a"), Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        CheckpointLayout.write(dir.resolve("b"), Presets.tiny(), CheckpointLayout.Fill.RANDOM, 2, 0.05, false, 1); // same shapes, other seed
        model = Model.load(dir.resolve("a"));
        other = Model.load(dir.resolve("b"));
    }

    @AfterAll
    static void tearDown() {
        model.close();
        other.close();
    }

    static int[] tokens(int n, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(128_000);
        return t;
    }

    static Session fresh(Model m) { return new Session(m, Session.Options.defaults()); }

    @Test
    void restoredSnapshotsContinueBitIdentically() throws Exception {
        // 300 tokens: past the 64-token window, several CSA entries, two HCA windows in progress.
        int[] seq = tokens(300, 1);
        Session s = fresh(model);
        s.prefill(seq, false);
        PrefixCache cache = new PrefixCache(model, Session.Options.defaults(), 256L << 20);
        cache.store(seq, s);
        float[] expected = s.decode(42);

        int[] longer = java.util.Arrays.copyOf(seq, 301);
        longer[300] = 42;
        Session r = fresh(model);
        assertThat(cache.restoreLongest(longer, r)).isEqualTo(300);
        assertThat(r.decode(42)).isEqualTo(expected);

        Path kv = dir.resolve("kv");
        assertThat(cache.save(kv)).isEqualTo(1);
        PrefixCache reloaded = new PrefixCache(model, Session.Options.defaults(), 256L << 20);
        PrefixCache.LoadReport report = reloaded.load(kv);
        assertThat(report.loaded()).isEqualTo(1);
        assertThat(report.skipped()).isEmpty();
        Session d = fresh(model);
        assertThat(reloaded.restoreLongest(longer, d)).isEqualTo(300);
        assertThat(d.decode(42)).isEqualTo(expected);

        // Not a prefix, or the whole prompt (one token must remain to compute): no hit.
        assertThat(reloaded.restoreLongest(tokens(301, 9), fresh(model))).isZero();
        assertThat(reloaded.restoreLongest(seq, fresh(model))).isZero();

        // Other weights with the same shapes: refused by fingerprint.
        PrefixCache foreign = new PrefixCache(other, Session.Options.defaults(), 256L << 20);
        PrefixCache.LoadReport refused = foreign.load(kv);
        assertThat(refused.loaded()).isZero();
        assertThat(refused.skipped().values()).singleElement().asString().contains("different weights");

        // A damaged file: skipped with a reason, never half-loaded.
        Path file;
        try (var files = Files.list(kv)) { file = files.filter(p -> p.toString().endsWith(".kv")).findFirst().orElseThrow(); }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) { f.setLength(f.length() / 2); }
        PrefixCache damaged = new PrefixCache(model, Session.Options.defaults(), 256L << 20);
        assertThat(damaged.load(kv).skipped()).hasSize(1);
        assertThat(damaged.stats().entries()).isZero();
    }

    @Test
    void staysWithinBudgetAndEvictsTheLeastRecentlyUsed() {
        Session s1 = fresh(model), s2 = fresh(model), s3 = fresh(model);
        int[] a = tokens(20, 1), b = tokens(20, 2), c = tokens(20, 3);
        s1.prefill(a, false);
        s2.prefill(b, false);
        s3.prefill(c, false);
        long one = s1.cacheBytes() + 4L * 20;
        PrefixCache cache = new PrefixCache(model, Session.Options.defaults(), 2 * one + one / 2); // room for two
        cache.store(a, s1);
        cache.store(b, s2);
        int[] aLonger = java.util.Arrays.copyOf(a, 21);
        assertThat(cache.restoreLongest(aLonger, fresh(model))).isEqualTo(20); // a is now the most recently used
        cache.store(c, s3); // evicts b
        PrefixCache.Stats st = cache.stats();
        assertThat(st.entries()).isEqualTo(2);
        assertThat(st.bytes()).isLessThanOrEqualTo(st.budget());
        assertThat(st.evictions()).isEqualTo(1);
        assertThat(cache.restoreLongest(java.util.Arrays.copyOf(b, 21), fresh(model))).isZero();
        assertThat(cache.restoreLongest(aLonger, fresh(model))).isEqualTo(20);
        assertThat(cache.restoreLongest(java.util.Arrays.copyOf(c, 21), fresh(model))).isEqualTo(20);

        PrefixCache tiny = new PrefixCache(model, Session.Options.defaults(), one / 2);
        tiny.store(a, s1); // larger than the whole budget: not stored
        assertThat(tiny.stats().entries()).isZero();
    }
}
