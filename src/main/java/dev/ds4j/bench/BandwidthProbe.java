package dev.ds4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The machine's sustainable read bandwidth, measured the way decoding reads weights: every thread streams
 * its own slice of a buffer far larger than the caches, summing 8-byte words into independent
 * accumulators (so the loop is bound by memory, not by an add chain). The best of several passes is kept,
 * as the bench does for its own timings.
 */
public final class BandwidthProbe {
    private BandwidthProbe() {}

    /** Bytes per second read by {@code threads} threads over a fresh {@code bytes}-byte buffer. */
    public static double measure(long bytes, int threads, int passes) {
        if (bytes < (1 << 20) || threads < 1 || passes < 1) throw new IllegalArgumentException("probe needs ≥ 1 MiB, ≥ 1 thread, ≥ 1 pass");
        long words = bytes / 8 / threads * threads;
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "ds4j-bandwidth-probe");
            t.setDaemon(true);
            return t;
        });
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(words * 8, 64);
            long slice = words / threads;
            run(pool, threads, t -> { // touch every page with non-zero data, on the thread that will read it
                for (long i = t * slice; i < (t + 1) * slice; i++) buf.setAtIndex(ValueLayout.JAVA_LONG, i, i * 0x9E3779B97F4A7C15L);
                return 0L;
            });
            double best = 0;
            long sink = 0;
            for (int p = 0; p < passes; p++) {
                long t0 = System.nanoTime();
                sink += run(pool, threads, t -> sum(buf, t * slice, (t + 1) * slice));
                double s = (System.nanoTime() - t0) / 1e9;
                best = Math.max(best, words * 8 / s);
            }
            if (sink == 42) System.err.print(""); // keep the sums alive
            return best;
        } finally {
            pool.shutdownNow();
        }
    }

    private interface Slice { long apply(int thread); }

    private static long run(ExecutorService pool, int threads, Slice work) {
        List<Future<Long>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int k = t;
            fs.add(pool.submit(() -> work.apply(k)));
        }
        long total = 0;
        try {
            for (Future<Long> f : fs) total += f.get();
        } catch (Exception e) {
            throw new IllegalStateException("bandwidth probe failed", e);
        }
        return total;
    }

    private static long sum(MemorySegment buf, long from, long to) {
        long a = 0, b = 0, c = 0, d = 0;
        long i = from;
        for (; i + 4 <= to; i += 4) {
            a += buf.getAtIndex(ValueLayout.JAVA_LONG, i);
            b += buf.getAtIndex(ValueLayout.JAVA_LONG, i + 1);
            c += buf.getAtIndex(ValueLayout.JAVA_LONG, i + 2);
            d += buf.getAtIndex(ValueLayout.JAVA_LONG, i + 3);
        }
        for (; i < to; i++) a += buf.getAtIndex(ValueLayout.JAVA_LONG, i);
        return a + b + c + d;
    }
}
