package dev.ds4j.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.session.Session;
import dev.ds4j.tensor.Formats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class RandomWeightsTest {
    @TempDir
    Path tmp;

    @Test
    void branchFreeFp4CodeEqualsFormatsEncoding() {
        // The grid's midpoints (ties), the grid, saturation, zeros and subnormals, both signs.
        float[] edges = {0f, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, 7f, 1e30f,
                Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, Float.POSITIVE_INFINITY};
        for (float e : edges)
            for (float x : new float[]{e, -e, Math.nextUp(e), Math.nextDown(e), -Math.nextUp(e), -Math.nextDown(e)})
                assertThat(RandomWeights.e2m1Code(x)).as("code of %s", x).isEqualTo(Formats.e2m1Encode(x));
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 2_000_000; i++) {
            float any = Float.intBitsToFloat(r.nextInt());
            if (!Float.isNaN(any)) assertThat(RandomWeights.e2m1Code(any)).as("code of %s", any).isEqualTo(Formats.e2m1Encode(any));
            float g = (float) (3 * r.nextGaussian());
            assertThat(RandomWeights.e2m1Code(g)).as("code of %s", g).isEqualTo(Formats.e2m1Encode(g));
        }
    }

    @Test
    void perPieceStreamsGiveTheSameBytesOnAnyNumberOfThreads() throws Exception {
        ObjectNode c = CheckpointBytesTest.config(CheckpointBytesTest.reference("pro-like-fp8"));
        c.put("hidden_size", 384).put("vocab_size", 12000);   // embed and head span several pieces
        CheckpointLayout.write(tmp.resolve("one"), c, CheckpointLayout.Options.parallel(8, 0.05, true, 2_000_000, 1));
        CheckpointLayout.write(tmp.resolve("three"), c, CheckpointLayout.Options.parallel(8, 0.05, true, 2_000_000, 3));
        var files = CheckpointBytesTest.checkpointFiles(tmp.resolve("one"));
        assertThat(files).hasSizeGreaterThan(3).isEqualTo(CheckpointBytesTest.checkpointFiles(tmp.resolve("three")));
        CheckpointBytesTest.assertSameFiles(tmp.resolve("one"), tmp.resolve("three"), files);
        // A different seed changes the weights (not only the sequential stream depends on it).
        CheckpointLayout.write(tmp.resolve("other"), c, CheckpointLayout.Options.parallel(9, 0.05, true, 2_000_000, 2));
        assertThat(Files.mismatch(tmp.resolve("one").resolve(files.getFirst()), tmp.resolve("other").resolve(files.getFirst()))).isNotEqualTo(-1L);
    }

    @Test
    void progressCountsEveryDataByte() throws Exception {
        ObjectNode c = CheckpointBytesTest.config(CheckpointBytesTest.reference("pro-like-fp8"));
        long[] seen = {0};
        CheckpointLayout.write(tmp, c, CheckpointLayout.Options.parallel(1, 0.05, true, 1_000_000, 2).withProgress(n -> seen[0] += n));
        assertThat(seen[0]).isEqualTo(CheckpointLayout.dataBytes(c, true)).isPositive();
    }

    @Test
    void aSmallShardedCheckpointFromTheParallelPathLoadsAndRuns() throws Exception {
        ObjectNode c = CheckpointBytesTest.config(CheckpointBytesTest.reference("pro-like-fp8"));
        CheckpointLayout.write(tmp, c, CheckpointLayout.Options.parallel(3, 0.05, true, 1_000_000, 2));
        assertThat(CheckpointBytesTest.checkpointFiles(tmp)).hasSizeGreaterThan(4).contains("model.safetensors.index.json");
        try (Model m = Model.load(tmp)) {
            assertThat(m.hasMtp()).isTrue();
            Session s = new Session(m, Session.Options.defaults().withMtp(true));
            float[][] logits = s.prefill(GeneratedCheckpointTest.tokens(20, m.config().vocabSize(), 1), true);
            for (float v : logits[19]) assertThat(v).isFinite();
            for (float v : s.draft(5)) assertThat(v).isFinite();
        }
    }
}
