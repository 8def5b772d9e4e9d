package dev.ds4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The random checkpoints that tests and references depend on must not change under a new writer: the
 * committed references in src/test/resources/reference were written from seeds 21 and 22 (tools/reference),
 * and their expected logits come from transformers, so a single changed byte would invalidate them.
 */
class CheckpointBytesTest {
    @TempDir
    Path tmp;

    static Path reference(String name) throws URISyntaxException {
        return Path.of(CheckpointBytesTest.class.getResource("/reference/" + name + "/config.json").toURI()).getParent();
    }

    static ObjectNode config(Path dir) throws IOException {
        return (ObjectNode) new ObjectMapper().readTree(dir.resolve("config.json").toFile());
    }

    /** Every file the writer produced in {@code got}, byte for byte equal to the one in {@code want}. */
    static void assertSameFiles(Path want, Path got, List<String> names) throws IOException {
        for (String n : names) {
            assertThat(got.resolve(n)).as(n).exists();
            assertThat(Files.mismatch(want.resolve(n), got.resolve(n))).as("first differing byte of %s", n).isEqualTo(-1L);
        }
    }

    static List<String> checkpointFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("model")).sorted().toList();
        }
    }

    @Test
    void committedReferencesRegenerateFromTheirSeeds() throws Exception {
        // Parameters from tools/reference/README.md: flash-like-bf16 seed 22 std 0.08, pro-like-fp8 seed 21 std 0.05, 2 shards; no MTP.
        Path flash = reference("flash-like-bf16"), pro = reference("pro-like-fp8");
        CheckpointLayout.write(tmp.resolve("flash"), config(flash), CheckpointLayout.Fill.RANDOM, 22, 0.08, false, 1);
        CheckpointLayout.write(tmp.resolve("pro"), config(pro), CheckpointLayout.Fill.RANDOM, 21, 0.05, false, 2);
        assertSameFiles(flash, tmp.resolve("flash"), List.of("model.safetensors"));
        assertSameFiles(pro, tmp.resolve("pro"), List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"));
    }

    @Test
    void theInHeapOracleAlsoRegeneratesThem() throws Exception {
        Path flash = reference("flash-like-bf16"), pro = reference("pro-like-fp8");
        InHeapCheckpointWriter.write(tmp.resolve("flash"), config(flash), CheckpointLayout.Fill.RANDOM, 22, 0.08, false, 1);
        InHeapCheckpointWriter.write(tmp.resolve("pro"), config(pro), CheckpointLayout.Fill.RANDOM, 21, 0.05, false, 2);
        assertSameFiles(flash, tmp.resolve("flash"), List.of("model.safetensors"));
        assertSameFiles(pro, tmp.resolve("pro"), checkpointFiles(pro));
    }

    @Test
    void tinyPresetWithMtpIsTheSameAsTheInHeapWriters() throws IOException {
        InHeapCheckpointWriter.write(tmp.resolve("heap"), Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, true, 1);
        CheckpointLayout.write(tmp.resolve("stream"), Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, true, 1);
        assertSameFiles(tmp.resolve("heap"), tmp.resolve("stream"), List.of("model.safetensors", "config.json"));
    }

    @Test
    void shardedProLikeWithMtpIsTheSameAsTheInHeapWriters() throws Exception {
        // 5 shards by tensor count split FP8 weights from their scales: the streaming writer must cross files mid-tensor.
        ObjectNode c = config(reference("pro-like-fp8"));
        InHeapCheckpointWriter.write(tmp.resolve("heap"), c, CheckpointLayout.Fill.RANDOM, 4, 0.05, true, 5);
        CheckpointLayout.write(tmp.resolve("stream"), c, CheckpointLayout.Fill.RANDOM, 4, 0.05, true, 5);
        assertThat(checkpointFiles(tmp.resolve("stream"))).isEqualTo(checkpointFiles(tmp.resolve("heap"))).hasSize(6);
        assertSameFiles(tmp.resolve("heap"), tmp.resolve("stream"), checkpointFiles(tmp.resolve("heap")));
    }
}
