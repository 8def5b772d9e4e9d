package dev.ds4j.model;

import dev.ds4j.kv.KvCache;
import dev.ds4j.kv.KvLayout;
import dev.ds4j.session.Session;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Figures, not checks: run with {@code ./mvnw -B -q test -Dtest=LongContextBenchTest -Dds4j.bench=true}.
 * Decode time after a synthetic fill at short and long contexts (tiny preset, official numerics, compact KV),
 * and the heap a synthetic million-token cache of V4-Flash's dims really takes (in a child JVM with 6 GB).
 */
@EnabledIfSystemProperty(named = "ds4j.bench", matches = "true")
class LongContextBenchTest {
    @TempDir
    Path dir;

    @Test
    void tinyDecodeAtShortAndLongSyntheticContexts() throws Exception {
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        try (Model m = Model.load(dir)) {
            Session warm = new Session(m, Session.Options.defaults());
            warm.fillSynthetic(4096, 2);
            for (int i = 0; i < 60; i++) warm.decode(300 + i);            // JIT warm-up
            for (long L : new long[]{1024, 65_536, 1L << 20}) {
                Session s = new Session(m, Session.Options.defaults());
                long t0 = System.nanoTime();
                s.fillSynthetic(L - 16, 1);
                double fillMs = (System.nanoTime() - t0) / 1e6;
                for (int i = 0; i < 4; i++) s.decode(100 + i);          // warm-up
                int n = 12;
                t0 = System.nanoTime();
                for (int i = 0; i < n; i++) s.decode(200 + i);
                double ms = (System.nanoTime() - t0) / 1e6 / n;
                System.out.printf("tiny preset, official, compact KV: context %,d tokens: fill %.0f ms, decode %.1f ms/token (%.1f tok/s), cache %.1f MB%n",
                        s.position(), fillMs, ms, 1000 / ms, s.cacheBytes() / 1e6);
            }
        }
    }

    @Test
    void flashCacheOfAMillionTokensInAChildJvm() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx6g",
                "-cp", System.getProperty("java.class.path"), FlashFill.class.getName()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        System.out.print(out);
        assertThat(p.waitFor()).as(out).isZero();
    }

    /** Fills a compact cache of V4-Flash's dims to 2^20 tokens and reports the heap it took. */
    public static final class FlashFill {
        public static void main(String[] args) {
            var mem = ManagementFactory.getMemoryMXBean();
            KvCache.Spec spec = Model.cacheSpec(LongContextCacheTest.flash(), false, KvLayout.COMPACT);
            System.gc();
            long before = mem.getHeapMemoryUsage().getUsed();
            KvCache cache = new KvCache(spec);
            long t0 = System.nanoTime();
            cache.fillSynthetic(1L << 20, 1);
            double s = (System.nanoTime() - t0) / 1e9;
            System.gc();
            long after = mem.getHeapMemoryUsage().getUsed();
            System.out.printf("Flash dims, compact KV, 2^20 tokens: fill %.2f s (%.2f GB/s, %d threads), bytes() %.3f GiB, heap taken %.3f GiB%n",
                    s, cache.bytes() / s / 1e9, Runtime.getRuntime().availableProcessors(), cache.bytes() / (double) (1L << 30),
                    (after - before) / (double) (1L << 30));
            if (cache.length() != 1L << 20) System.exit(1);
        }
    }
}
