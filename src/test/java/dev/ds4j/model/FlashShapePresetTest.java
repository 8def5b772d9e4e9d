package dev.ds4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.checkpoint.DType;
import dev.ds4j.checkpoint.SafetensorsWriter.Entry;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The flash-shape preset against the figures of ARCHITECTURE.md: §1.1 (V4-Flash column), §1.2 (schedule),
 * §7.1 (tensor count rule) and §7.2 (Flash shapes, read from the real shard headers). The preset is never
 * written here (20 GB); only its config and tensor list are checked.
 */
class FlashShapePresetTest {
    private static final ModelConfig C = ModelConfig.parse(Presets.flashShape());

    @Test
    void hasTheV4FlashHyperParameters() {
        // §1.1, V4-Flash column.
        assertThat(C.vocabSize()).isEqualTo(129280);
        assertThat(C.dim()).isEqualTo(4096);
        assertThat(C.nMtpLayers()).isEqualTo(1);
        assertThat(C.nHeads()).isEqualTo(64);
        assertThat(C.headDim()).isEqualTo(512);
        assertThat(C.ropeDim()).isEqualTo(64);
        assertThat(C.qLoraRank()).isEqualTo(1024);
        assertThat(C.oGroups()).isEqualTo(8);
        assertThat(C.oLoraRank()).isEqualTo(1024);
        assertThat(C.window()).isEqualTo(128);
        assertThat(C.indexHeads()).isEqualTo(64);
        assertThat(C.indexHeadDim()).isEqualTo(128);
        assertThat(C.indexTopk()).isEqualTo(512);
        assertThat(C.nRoutedExperts()).isEqualTo(256);
        assertThat(C.nSharedExperts()).isEqualTo(1);
        assertThat(C.nActivatedExperts()).isEqualTo(6);
        assertThat(C.moeInterDim()).isEqualTo(2048);
        assertThat(C.routeScale()).isEqualTo(1.5f);
        assertThat(C.swigluLimit()).isEqualTo(10f);
        assertThat(C.nHashLayers()).isEqualTo(3);
        assertThat(C.hcMult()).isEqualTo(4);
        assertThat(C.hcSinkhornIters()).isEqualTo(20);
        assertThat(C.hcEps()).isEqualTo(1e-6f);
        assertThat(C.normEps()).isEqualTo(1e-6f);
        assertThat(C.ropeTheta()).isEqualTo(10000);
        assertThat(C.compressRopeTheta()).isEqualTo(160000);
        assertThat(C.yarn()).isEqualTo(new ModelConfig.Yarn(16, 65536, 32, 1));
        assertThat(C.maxPositions()).isEqualTo(1048576);
        assertThat(C.bosId()).isZero();
        assertThat(C.eosId()).isEqualTo(1);
        assertThat(C.fp8Weights()).isTrue();
        assertThat(C.expertDtype()).isEqualTo("fp4");
        JsonNode q = Presets.flashShape().get("quantization_config");
        assertThat(q.get("fmt").asText()).isEqualTo("e4m3");
        assertThat(q.get("scale_fmt").asText()).isEqualTo("ue8m0");
        assertThat(q.get("activation_scheme").asText()).isEqualTo("dynamic");
        assertThat(q.get("weight_block_size").toString()).isEqualTo("[128,128]");
        assertThat(Presets.flashShape().get("scoring_func").asText()).isEqualTo("sqrtsoftplus");
    }

    @Test
    void isTheFirstFourLayersOfTheFlashScheduleWithItsMtpEntry() {
        // §1.2: Flash is [0, 0, 4, 128, 4, 128, …, 4, 0]; hash routing in layers 0, 1, 2; the MTP entry is 0.
        assertThat(C.nLayers()).isEqualTo(4);
        assertThat(C.compressRatios()).containsExactly(0, 0, 4, 128, 0);
        assertThat(C.isHashLayer(2)).isTrue();
        assertThat(C.isHashLayer(3)).isFalse();
    }

    static Map<String, Entry> entries() {
        Map<String, Entry> m = new HashMap<>();
        for (CheckpointLayout.Spec s : CheckpointLayout.specs(C, true))
            for (Entry e : RandomWeights.entries(s, C)) assertThat(m.put(e.name(), e)).as(e.name()).isNull();
        return m;
    }

    @Test
    void tensorsHaveTheShapesAndDtypesOfTheRealFlashShards() {
        Map<String, Entry> t = entries();
        // §7.2 rows, Flash column.
        Object[][] table = {
                {"embed.weight", DType.BF16, new long[]{129280, 4096}}, {"head.weight", DType.BF16, new long[]{129280, 4096}},
                {"hc_head_fn", DType.F32, new long[]{4, 16384}},
                {"layers.0.hc_attn_fn", DType.F32, new long[]{24, 16384}}, {"layers.0.hc_ffn_scale", DType.F32, new long[]{3}},
                {"layers.0.attn.attn_sink", DType.F32, new long[]{64}},
                {"layers.0.attn.wq_a.weight", DType.F8_E4M3, new long[]{1024, 4096}}, {"layers.0.attn.wq_a.scale", DType.F8_E8M0, new long[]{8, 32}},
                {"layers.0.attn.wq_b.weight", DType.F8_E4M3, new long[]{32768, 1024}}, {"layers.0.attn.wq_b.scale", DType.F8_E8M0, new long[]{256, 8}},
                {"layers.0.attn.wkv.weight", DType.F8_E4M3, new long[]{512, 4096}}, {"layers.0.attn.wkv.scale", DType.F8_E8M0, new long[]{4, 32}},
                {"layers.0.attn.wo_a.weight", DType.F8_E4M3, new long[]{8192, 4096}}, {"layers.0.attn.wo_a.scale", DType.F8_E8M0, new long[]{64, 32}},
                {"layers.0.attn.wo_b.weight", DType.F8_E4M3, new long[]{4096, 8192}}, {"layers.0.attn.wo_b.scale", DType.F8_E8M0, new long[]{32, 64}},
                {"layers.2.attn.compressor.wkv.weight", DType.BF16, new long[]{1024, 4096}}, {"layers.3.attn.compressor.wgate.weight", DType.BF16, new long[]{512, 4096}},
                {"layers.2.attn.compressor.ape", DType.F32, new long[]{4, 1024}}, {"layers.3.attn.compressor.ape", DType.F32, new long[]{128, 512}},
                {"layers.3.attn.compressor.norm.weight", DType.BF16, new long[]{512}},
                {"layers.2.attn.indexer.wq_b.weight", DType.F8_E4M3, new long[]{8192, 1024}}, {"layers.2.attn.indexer.wq_b.scale", DType.F8_E8M0, new long[]{64, 8}},
                {"layers.2.attn.indexer.weights_proj.weight", DType.BF16, new long[]{64, 4096}},
                {"layers.2.attn.indexer.compressor.wkv.weight", DType.BF16, new long[]{256, 4096}},
                {"layers.2.attn.indexer.compressor.ape", DType.F32, new long[]{4, 256}},
                {"layers.2.attn.indexer.compressor.norm.weight", DType.BF16, new long[]{128}},
                {"layers.1.ffn.gate.weight", DType.BF16, new long[]{256, 4096}}, {"layers.2.ffn.gate.tid2eid", DType.I64, new long[]{129280, 6}},
                {"layers.3.ffn.gate.bias", DType.F32, new long[]{256}},
                {"layers.3.ffn.experts.255.w1.weight", DType.I8, new long[]{2048, 2048}}, {"layers.3.ffn.experts.255.w3.scale", DType.F8_E8M0, new long[]{2048, 128}},
                {"layers.0.ffn.experts.0.w2.weight", DType.I8, new long[]{4096, 1024}}, {"layers.0.ffn.experts.0.w2.scale", DType.F8_E8M0, new long[]{4096, 64}},
                {"layers.1.ffn.shared_experts.w1.weight", DType.F8_E4M3, new long[]{2048, 4096}}, {"layers.1.ffn.shared_experts.w1.scale", DType.F8_E8M0, new long[]{16, 32}},
                {"layers.1.ffn.shared_experts.w2.weight", DType.F8_E4M3, new long[]{4096, 2048}}, {"layers.1.ffn.shared_experts.w2.scale", DType.F8_E8M0, new long[]{32, 16}},
                {"mtp.0.e_proj.weight", DType.F8_E4M3, new long[]{4096, 4096}}, {"mtp.0.h_proj.scale", DType.F8_E8M0, new long[]{32, 32}},
                {"mtp.0.ffn.gate.bias", DType.F32, new long[]{256}}, {"mtp.0.hnorm.weight", DType.BF16, new long[]{4096}},
        };
        for (Object[] row : table) {
            Entry e = t.get((String) row[0]);
            assertThat(e).as((String) row[0]).isNotNull();
            assertThat(e.dtype()).as((String) row[0]).isEqualTo(row[1]);
            assertThat(e.shape()).as((String) row[0]).isEqualTo((long[]) row[2]);
        }
        // §1.2: no tid2eid in the MTP block, no compressor on sliding layers.
        assertThat(t).doesNotContainKeys("mtp.0.ffn.gate.tid2eid", "layers.3.ffn.gate.tid2eid", "layers.0.attn.compressor.ape", "mtp.0.attn.compressor.ape");
    }

    @Test
    void tensorCountFollowsTheSpecsCountingRule() {
        // §7.1: 1,565 per layer, + 4 per compressor (layers 2, 3), + 7 per indexer (layer 2), + 6 top-level, + MTP 1,575.
        assertThat(entries()).hasSize(4 * 1565 + 2 * 4 + 7 + 6 + 1575);
    }

    private static long n(long bytesPerElement, long... shape) {
        long x = bytesPerElement;
        for (long s : shape) x *= s;
        return x;
    }

    @Test
    void totalBytesAddUpFromTheTensorTable() {
        // Summed by hand from the §7.2 Flash shapes (1 byte for F8/I8/E8M0, 2 for BF16, 4 for F32, 8 for I64).
        long attention = n(2, 4096) * 2 + 2 * (n(4, 24, 16384) + n(4, 24) + n(4, 3)) + n(4, 64)
                + n(1, 1024, 4096) + n(1, 8, 32) + n(2, 1024) + n(1, 32768, 1024) + n(1, 256, 8)
                + n(1, 512, 4096) + n(1, 4, 32) + n(2, 512) + n(1, 8192, 4096) + n(1, 64, 32) + n(1, 4096, 8192) + n(1, 32, 64);
        long experts = 256 * (2 * (n(1, 2048, 2048) + n(1, 2048, 128)) + n(1, 4096, 1024) + n(1, 4096, 64));
        long shared = 2 * (n(1, 2048, 4096) + n(1, 16, 32)) + n(1, 4096, 2048) + n(1, 32, 16);
        long ffn = n(2, 256, 4096) + experts + shared;
        long hashGate = n(8, 129280, 6), biasGate = n(4, 256);
        long csa = 2 * n(2, 1024, 4096) + n(4, 4, 1024) + n(2, 512)
                + n(1, 8192, 1024) + n(1, 64, 8) + n(2, 64, 4096) + 2 * n(2, 256, 4096) + n(4, 4, 256) + n(2, 128);
        long hca = 2 * n(2, 512, 4096) + n(4, 128, 512) + n(2, 512);
        long layers = 3 * (attention + ffn + hashGate) + (attention + ffn + biasGate) + csa + hca;
        long mtp = attention + ffn + biasGate + 2 * (n(1, 4096, 4096) + n(1, 32, 32)) + 3 * n(2, 4096) + n(4, 4, 16384) + n(4, 4) + n(4, 1);
        long top = 2 * n(2, 129280, 4096) + n(2, 4096) + n(4, 4, 16384) + n(4, 4) + n(4, 1);
        long total = layers + mtp + top;
        System.out.printf("flash-shape: %,d bytes of tensor data (%.2f GB), experts %.1f%%%n", total, total / 1e9, 500.0 * experts / total);
        assertThat(CheckpointLayout.dataBytes(Presets.flashShape(), true)).isEqualTo(total);
        List<Long> perEntry = new ArrayList<>();
        entries().values().forEach(e -> perEntry.add(e.bytes()));
        assertThat(perEntry.stream().mapToLong(Long::longValue).sum()).isEqualTo(total);
    }
}
