package dev.ds4j.bench;

import dev.ds4j.kv.KvLayout;
import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import dev.ds4j.session.Session;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The bench's arithmetic and bookkeeping on the tiny preset (its timings are not asserted: benchmarks are not timed tests). */
class BenchTest {
    @TempDir
    static Path dir;

    @Test
    void reportsFromItsOwnMeasurementsAndTheCacheItFilled() throws Exception {
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        try (Model m = Model.load(dir)) {
            double bw = BandwidthProbe.measure(64L << 20, 1, 1);
            assertThat(bw).isGreaterThan(1e8); // any machine reads 64 MB faster than 100 MB/s
            Bench.Result r = Bench.run(m, Session.Options.defaults(), 9, 3, 1, bw, null);
            assertThat(r.decodeSeconds()).hasSize(3);
            for (double t : r.decodeSeconds()) assertThat(t).isPositive();
            assertThat(r.rooflineRatio()).isCloseTo(r.decodeTokensPerSecond() * r.bytesPerToken() / bw, within(1e-12));
            // The session held 9 prompt + 3 decoded tokens; the compact layout's bytes at that length, as the spec projects them.
            long expected = 0;
            for (var b : Model.cacheSpec(m.config(), false, KvLayout.COMPACT).bytesAt(12)) expected += b.total();
            assertThat(r.kvBytes()).isEqualTo(expected);

            Bench.ContextPoint p = Bench.contextPoint(m, Session.Options.defaults(), 5000, 2, 1);
            long at = 0;
            for (var b : Model.cacheSpec(m.config(), false, KvLayout.COMPACT).bytesAt(5002 + Bench.CONTEXT_WARMUP)) at += b.total();
            assertThat(p.kvBytes()).isEqualTo(at);
        }
    }
}
