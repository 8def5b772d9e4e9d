package dev.ds4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.checkpoint.Checkpoint;
import dev.ds4j.checkpoint.DType;
import dev.ds4j.checkpoint.SafetensorsWriter;
import dev.ds4j.tensor.Formats;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes checkpoints in the official DeepSeek-V4 layout (names, dtypes, FP8 128×128 block scales, packed FP4
 * experts with per-32 scales, §7) for a given config: with random weights drawn as the golden models were,
 * or as all-zero sparse files (shape-only checkpoints for load tests). Optionally sharded with an index.
 */
public final class CheckpointLayout {
    private CheckpointLayout() {}

    /** How a tensor is stored: decides dtype and the random distribution. */
    enum Role { LINEAR_FP8, EXPERT, LINEAR_BF16, NORM, HC_FN, HC_BASE, HC_SCALE, SINK, APE, BIAS, TID2EID }

    /**
     * One tensor with its checkpoint shape. Linear roles name the module ("layers.0.attn.wq_a") and get
     * ".weight" (and ".scale") appended; their shape is the dequantised [out, in].
     */
    record Spec(String name, Role role, long... shape) {
        int rows() { return shape.length == 2 ? (int) shape[0] : 1; }
        int cols() { return (int) shape[shape.length - 1]; }
        int elements() { return rows() * cols(); }
    }

    public enum Fill { RANDOM, ZEROS }

    /** The tensors of a checkpoint for {@code c}, in writing order. */
    static List<Spec> specs(ModelConfig c, boolean withMtp) {
        List<Spec> out = new ArrayList<>();
        int d = c.dim(), hc = c.hcMult();
        out.add(new Spec("embed", Role.LINEAR_BF16, c.vocabSize(), d));
        for (int i = 0; i < c.nLayers(); i++) block(out, c, "layers." + i + ".", c.compressRatio(i), c.isHashLayer(i));
        if (withMtp) {
            int ratio = c.compressRatios().length > c.nLayers() ? c.compressRatio(c.nLayers()) : 0;
            block(out, c, "mtp.0.", ratio, false);
            out.add(new Spec("mtp.0.e_proj", Role.LINEAR_FP8, d, d));
            out.add(new Spec("mtp.0.h_proj", Role.LINEAR_FP8, d, d));
            for (String n : new String[]{"enorm", "hnorm", "norm"}) out.add(new Spec("mtp.0." + n + ".weight", Role.NORM, d));
            out.add(new Spec("mtp.0.hc_head_fn", Role.HC_FN, hc, (long) hc * d));
            out.add(new Spec("mtp.0.hc_head_base", Role.HC_BASE, hc));
            out.add(new Spec("mtp.0.hc_head_scale", Role.HC_SCALE, 1));
        }
        out.add(new Spec("norm.weight", Role.NORM, d));
        out.add(new Spec("head", Role.LINEAR_BF16, c.vocabSize(), d));
        out.add(new Spec("hc_head_fn", Role.HC_FN, hc, (long) hc * d));
        out.add(new Spec("hc_head_base", Role.HC_BASE, hc));
        out.add(new Spec("hc_head_scale", Role.HC_SCALE, 1));
        return out;
    }

    private static void block(List<Spec> out, ModelConfig c, String p, int ratio, boolean hash) {
        int d = c.dim(), hd = c.headDim(), hc = c.hcMult(), mix = c.hcMixDim(), I = c.moeInterDim(), E = c.nRoutedExperts();
        out.add(new Spec(p + "attn_norm.weight", Role.NORM, d));
        out.add(new Spec(p + "ffn_norm.weight", Role.NORM, d));
        for (String site : new String[]{"attn", "ffn"}) {
            out.add(new Spec(p + "hc_" + site + "_fn", Role.HC_FN, mix, (long) hc * d));
            out.add(new Spec(p + "hc_" + site + "_base", Role.HC_BASE, mix));
            out.add(new Spec(p + "hc_" + site + "_scale", Role.HC_SCALE, 3));
        }
        String a = p + "attn.";
        out.add(new Spec(a + "attn_sink", Role.SINK, c.nHeads()));
        out.add(new Spec(a + "wq_a", Role.LINEAR_FP8, c.qLoraRank(), d));
        out.add(new Spec(a + "q_norm.weight", Role.NORM, c.qLoraRank()));
        out.add(new Spec(a + "wq_b", Role.LINEAR_FP8, (long) c.nHeads() * hd, c.qLoraRank()));
        out.add(new Spec(a + "wkv", Role.LINEAR_FP8, hd, d));
        out.add(new Spec(a + "kv_norm.weight", Role.NORM, hd));
        out.add(new Spec(a + "wo_a", Role.LINEAR_FP8, (long) c.oGroups() * c.oLoraRank(), (long) c.nHeads() * hd / c.oGroups()));
        out.add(new Spec(a + "wo_b", Role.LINEAR_FP8, d, (long) c.oGroups() * c.oLoraRank()));
        if (ratio > 0) {
            int w = (ratio == 4 ? 2 : 1) * hd;
            out.add(new Spec(a + "compressor.wkv", Role.LINEAR_BF16, w, d));
            out.add(new Spec(a + "compressor.wgate", Role.LINEAR_BF16, w, d));
            out.add(new Spec(a + "compressor.ape", Role.APE, ratio, w));
            out.add(new Spec(a + "compressor.norm.weight", Role.NORM, hd));
        }
        if (ratio == 4) {
            int id = c.indexHeadDim();
            out.add(new Spec(a + "indexer.wq_b", Role.LINEAR_FP8, (long) c.indexHeads() * id, c.qLoraRank()));
            out.add(new Spec(a + "indexer.weights_proj", Role.LINEAR_BF16, c.indexHeads(), d));
            out.add(new Spec(a + "indexer.compressor.wkv", Role.LINEAR_BF16, 2L * id, d));
            out.add(new Spec(a + "indexer.compressor.wgate", Role.LINEAR_BF16, 2L * id, d));
            out.add(new Spec(a + "indexer.compressor.ape", Role.APE, ratio, 2L * id));
            out.add(new Spec(a + "indexer.compressor.norm.weight", Role.NORM, id));
        }
        String f = p + "ffn.";
        out.add(new Spec(f + "gate", Role.LINEAR_BF16, E, d));
        if (hash) out.add(new Spec(f + "gate.tid2eid", Role.TID2EID, c.vocabSize(), c.nActivatedExperts()));
        else out.add(new Spec(f + "gate.bias", Role.BIAS, E));
        for (int e = 0; e < E; e++) {
            out.add(new Spec(f + "experts." + e + ".w1", Role.EXPERT, I, d));
            out.add(new Spec(f + "experts." + e + ".w2", Role.EXPERT, d, I));
            out.add(new Spec(f + "experts." + e + ".w3", Role.EXPERT, I, d));
        }
        out.add(new Spec(f + "shared_experts.w1", Role.LINEAR_FP8, I, d));
        out.add(new Spec(f + "shared_experts.w2", Role.LINEAR_FP8, d, I));
        out.add(new Spec(f + "shared_experts.w3", Role.LINEAR_FP8, I, d));
    }

    /**
     * Writes {@code config} and its weights to {@code dir}. {@code std} is the std of linear weights;
     * {@code shards} > 1 writes model-0000k-of-0000n.safetensors plus the index.
     */
    public static void write(Path dir, ObjectNode config, Fill fill, long seed, double std, boolean withMtp, int shards) throws IOException {
        ModelConfig c = ModelConfig.parse(config);
        Files.createDirectories(dir);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        SplittableRandom rnd = new SplittableRandom(seed);
        List<SafetensorsWriter.Entry> all = new ArrayList<>();
        for (Spec s : specs(c, withMtp)) emit(all, s, c, fill, rnd, std);
        if (shards <= 1) {
            SafetensorsWriter.write(dir.resolve(Checkpoint.SINGLE), all, Map.of("format", "pt"));
            return;
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        int per = (all.size() + shards - 1) / shards;
        for (int k = 0; k < shards; k++) {
            List<SafetensorsWriter.Entry> part = all.subList(Math.min(all.size(), k * per), Math.min(all.size(), (k + 1) * per));
            String name = String.format("model-%05d-of-%05d.safetensors", k + 1, shards);
            SafetensorsWriter.write(dir.resolve(name), part, Map.of("format", "pt"));
            for (var e : part) weightMap.put(e.name(), name);
        }
        ObjectNode index = new ObjectMapper().createObjectNode();
        index.putObject("metadata").put("total_size", all.stream().mapToLong(SafetensorsWriter.Entry::bytes).sum());
        ObjectNode wm = index.putObject("weight_map");
        weightMap.forEach(wm::put);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve(Checkpoint.INDEX).toFile(), index);
    }

    private static void emit(List<SafetensorsWriter.Entry> out, Spec s, ModelConfig c, Fill fill, SplittableRandom rnd, double std) {
        boolean zeros = fill == Fill.ZEROS;
        int rows = s.rows(), cols = s.cols();
        switch (s.role()) {
            case LINEAR_FP8 -> linear(out, s.name(), rows, cols, c.fp8Weights() ? DType.F8_E4M3 : DType.BF16, zeros, rnd, std);
            case EXPERT -> {
                DType dt = !c.fp8Weights() ? DType.BF16 : c.expertDtype().equals("fp4") ? DType.I8 : DType.F8_E4M3;
                linear(out, s.name(), rows, cols, dt, zeros, rnd, std);
            }
            case LINEAR_BF16 -> linear(out, s.name(), rows, cols, DType.BF16, zeros, rnd, std);
            case NORM -> {
                float[] v = null;
                if (!zeros) {
                    v = normal(rnd, cols, 0, 0.2);
                    for (int i = 0; i < v.length; i++) v[i] += 1f;
                }
                out.add(new SafetensorsWriter.Entry(s.name(), DType.BF16, s.shape(), zeros ? null : bf16(v)));
            }
            case HC_FN -> out.add(new SafetensorsWriter.Entry(s.name(), DType.F32, s.shape(), zeros ? null : f32(normal(rnd, s.elements(), 0, std))));
            case HC_BASE, SINK, APE -> out.add(new SafetensorsWriter.Entry(s.name(), DType.F32, s.shape(), zeros ? null : f32(normal(rnd, s.elements(), 0, 0.5))));
            case HC_SCALE -> {
                float[] v = new float[cols];
                for (int i = 0; i < cols; i++) v[i] = zeros ? 1f : (float) (1 + rnd.nextDouble());
                out.add(new SafetensorsWriter.Entry(s.name(), DType.F32, s.shape(), f32(v)));
            }
            case BIAS -> out.add(new SafetensorsWriter.Entry(s.name(), DType.F32, s.shape(), zeros ? null : f32(normal(rnd, cols, 0, 0.1))));
            case TID2EID -> {
                ByteBuffer b = ByteBuffer.allocate(8 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
                for (int r = 0; r < rows; r++) {
                    int[] perm = rnd.ints(0, c.nRoutedExperts()).distinct().limit(cols).toArray();
                    for (int id : perm) b.putLong(id);
                }
                out.add(new SafetensorsWriter.Entry(s.name(), DType.I64, s.shape(), b.array()));
            }
        }
    }

    /** A weight in the requested storage, quantised as DeepSeek's converter does (pow-2 scales, RNE). */
    private static void linear(List<SafetensorsWriter.Entry> out, String name, int rows, int cols, DType dt, boolean zeros,
                               SplittableRandom rnd, double std) {
        switch (dt) {
            case BF16 -> out.add(new SafetensorsWriter.Entry(name + ".weight", DType.BF16, new long[]{rows, cols}, zeros ? null : bf16(normal(rnd, (long) rows * cols, 0, std))));
            case F8_E4M3 -> {
                int sr = (rows + 127) / 128, sc = (cols + 127) / 128;
                byte[] q = zeros ? null : new byte[rows * cols], scale = new byte[sr * sc];
                if (!zeros) {
                    float[] w = normal(rnd, (long) rows * cols, 0, std);
                    for (int br = 0; br < sr; br++) for (int bc = 0; bc < sc; bc++) {
                        float amax = 1e-4f;
                        for (int r = br * 128; r < Math.min(rows, br * 128 + 128); r++)
                            for (int k = bc * 128; k < Math.min(cols, bc * 128 + 128); k++) amax = Math.max(amax, Math.abs(w[r * cols + k]));
                        int e = Formats.ceilLog2(amax / 448f);
                        scale[br * sc + bc] = Formats.e8m0Encode(e);
                        for (int r = br * 128; r < Math.min(rows, br * 128 + 128); r++)
                            for (int k = bc * 128; k < Math.min(cols, bc * 128 + 128); k++) q[r * cols + k] = Formats.e4m3Encode(Math.scalb(w[r * cols + k], -e));
                    }
                }
                out.add(new SafetensorsWriter.Entry(name + ".weight", DType.F8_E4M3, new long[]{rows, cols}, q));
                out.add(new SafetensorsWriter.Entry(name + ".scale", DType.F8_E8M0, new long[]{sr, sc}, zeros ? null : scale));
            }
            case I8 -> {
                int blocks = cols / 32;
                byte[] q = zeros ? null : new byte[rows * cols / 2], scale = zeros ? null : new byte[rows * blocks];
                if (!zeros) {
                    float[] w = normal(rnd, (long) rows * cols, 0, std);
                    for (int r = 0; r < rows; r++) for (int b = 0; b < blocks; b++) {
                        float amax = 6f * Float.MIN_NORMAL;
                        for (int k = 0; k < 32; k++) amax = Math.max(amax, Math.abs(w[r * cols + b * 32 + k]));
                        int e = Formats.ceilLog2(amax / 6f);
                        scale[r * blocks + b] = Formats.e8m0Encode(e);
                        for (int k = 0; k < 32; k += 2) {
                            int lo = Formats.e2m1Encode(Math.scalb(w[r * cols + b * 32 + k], -e));
                            int hi = Formats.e2m1Encode(Math.scalb(w[r * cols + b * 32 + k + 1], -e));
                            q[r * cols / 2 + b * 16 + k / 2] = (byte) (lo | hi << 4);
                        }
                    }
                }
                out.add(new SafetensorsWriter.Entry(name + ".weight", DType.I8, new long[]{rows, cols / 2}, q));
                out.add(new SafetensorsWriter.Entry(name + ".scale", DType.F8_E8M0, new long[]{rows, blocks}, scale));
            }
            default -> throw new IllegalArgumentException("no linear layout for " + dt);
        }
    }

    private static float[] normal(SplittableRandom rnd, long n, double mean, double std) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            // Box–Muller, so the stream of values depends only on the seed.
            double u1 = rnd.nextDouble(), u2 = rnd.nextDouble();
            v[i] = (float) (mean + std * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2));
        }
        return v;
    }

    private static byte[] bf16(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putShort(Formats.floatToBf16(x));
        return b.array();
    }

    private static byte[] f32(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }
}
