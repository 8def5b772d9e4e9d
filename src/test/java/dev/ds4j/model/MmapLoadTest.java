package dev.ds4j.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A 10+ GB checkpoint with V4-Flash layer shapes (256 FP4 experts per layer, FP8 attention, BF16 embed/head),
 * written as a sparse file: loading maps it and parses headers only, so it takes well under a second and the
 * Java heap does not grow with the weights.
 */
class MmapLoadTest {
    @TempDir
    Path dir;

    @Test
    void tenGigabyteCheckpointLoadsInUnderASecondWithASmallHeap() throws IOException {
        ObjectNode c = ModulesTest.config("tiny-b-fp8");
        ArrayNode r = c.putArray("compress_ratios");
        for (int x : new int[]{0, 4, 128, 0}) r.add(x);
        c.put("num_hidden_layers", 3).put("num_hash_layers", 1).put("vocab_size", 129280).put("hidden_size", 4096)
                .put("num_attention_heads", 64).put("head_dim", 512).put("q_lora_rank", 1024).put("o_groups", 8)
                .put("o_lora_rank", 1024).put("sliding_window", 128).put("index_n_heads", 64).put("index_topk", 512)
                .put("n_routed_experts", 256).put("num_experts_per_tok", 6).put("moe_intermediate_size", 2048);
        CheckpointLayout.write(dir, c, CheckpointLayout.Fill.ZEROS, 1, 0, false, 2);
        System.gc();
        long heapBefore = usedHeap();
        long t0 = System.nanoTime();
        try (Model m = Model.load(dir)) {
            double seconds = (System.nanoTime() - t0) / 1e9;
            long heapGrowth = usedHeap() - heapBefore;
            System.out.printf("loaded %.2f GB in %.3f s, heap grew %.1f MB%n", m.checkpointBytes() / 1e9, seconds, heapGrowth / 1e6);
            assertThat(m.checkpointBytes()).isGreaterThan(10_000_000_000L);
            assertThat(seconds).isLessThan(1.0);
            assertThat(heapGrowth).isLessThan(200L << 20);
        }
    }

    private static long usedHeap() {
        var mem = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        return mem.getUsed();
    }
}
