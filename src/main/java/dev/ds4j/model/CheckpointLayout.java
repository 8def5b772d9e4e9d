package dev.ds4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.checkpoint.Checkpoint;
import dev.ds4j.checkpoint.SafetensorsStream;
import dev.ds4j.checkpoint.SafetensorsWriter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Writes checkpoints in the official DeepSeek-V4 layout (names, dtypes, FP8 128×128 block scales, packed FP4
 * experts with per-32 scales, §7) for a given config: with random weights ({@link RandomWeights}), or as
 * all-zero sparse files (shape-only checkpoints for load tests). Optionally sharded with an index. Tensors
 * are streamed into the files, so the size of a checkpoint is bounded by the disk, not the heap.
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

    /** How random numbers are drawn (see {@link RandomWeights.Source}). */
    public enum Streams {
        /** One stream through the whole checkpoint, on one thread: the bytes of the committed references and the tiny preset. */
        SEQUENTIAL,
        /** A stream per piece of a tensor, so all cores can generate; the bytes do not depend on the thread count. */
        PER_PIECE
    }

    /**
     * How to write a checkpoint. {@code shards} > 1 splits the tensor list into that many files of equal tensor
     * count (how the committed references were split); {@code maxShardBytes} > 0 instead starts a new file before
     * a tensor that would take the current one past that size, as the official shards (~3.5 GB each) are cut.
     * {@code progress} (may be null) receives the data bytes of each write.
     */
    public record Options(Fill fill, long seed, double std, boolean withMtp, Streams streams, int shards, long maxShardBytes,
                          int threads, LongConsumer progress) {
        public Options {
            if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
            if (streams == Streams.SEQUENTIAL && threads != 1) throw new IllegalArgumentException("one sequential stream cannot use " + threads + " threads");
        }

        public static Options sequential(Fill fill, long seed, double std, boolean withMtp, int shards) {
            return new Options(fill, seed, std, withMtp, Streams.SEQUENTIAL, shards, 0, 1, null);
        }

        public static Options parallel(long seed, double std, boolean withMtp, long maxShardBytes, int threads) {
            return new Options(Fill.RANDOM, seed, std, withMtp, Streams.PER_PIECE, 1, maxShardBytes, threads, null);
        }

        public Options withProgress(LongConsumer p) {
            return new Options(fill, seed, std, withMtp, streams, shards, maxShardBytes, threads, p);
        }
    }

    /**
     * Writes {@code config} and its weights to {@code dir} from one sequential stream (see {@link Options}).
     * {@code std} is the std of linear weights; {@code shards} > 1 writes model-0000k-of-0000n.safetensors plus the index.
     */
    public static void write(Path dir, ObjectNode config, Fill fill, long seed, double std, boolean withMtp, int shards) throws IOException {
        write(dir, config, Options.sequential(fill, seed, std, withMtp, shards));
    }

    /**
     * Writes {@code config} and its weights to {@code dir}, tensor by tensor straight into the safetensors files:
     * the heap holds a few pieces of at most {@link RandomWeights#PIECE_ELEMENTS} elements, whatever the size.
     */
    public static void write(Path dir, ObjectNode config, Options o) throws IOException {
        ModelConfig c = ModelConfig.parse(config);
        Files.createDirectories(dir);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        List<Spec> specs = specs(c, o.withMtp());
        List<List<SafetensorsWriter.Entry>> bySpec = new ArrayList<>();
        for (Spec s : specs) bySpec.add(RandomWeights.entries(s, c));
        List<SafetensorsStream.File> files = shard(bySpec, o);
        try (SafetensorsStream out = SafetensorsStream.create(dir, files, Map.of("format", "pt"), o.progress())) {
            if (o.fill() == Fill.ZEROS) writeZeros(out, specs, bySpec);
            else if (o.streams() == Streams.SEQUENTIAL) writeSequential(out, c, specs, o);
            else writeParallel(out, c, specs, o);
            out.finish();
        }
        if (files.size() > 1) writeIndex(dir, files);
    }

    /** Bytes of the tensor data a checkpoint for {@code config} holds (the files add a header of a few MB at most). */
    public static long dataBytes(ObjectNode config, boolean withMtp) {
        ModelConfig c = ModelConfig.parse(config);
        long n = 0;
        for (Spec s : specs(c, withMtp)) for (SafetensorsWriter.Entry e : RandomWeights.entries(s, c)) n += e.bytes();
        return n;
    }

    private static List<SafetensorsStream.File> shard(List<List<SafetensorsWriter.Entry>> bySpec, Options o) {
        List<SafetensorsWriter.Entry> all = new ArrayList<>();
        bySpec.forEach(all::addAll);
        List<List<SafetensorsWriter.Entry>> parts = new ArrayList<>();
        if (o.maxShardBytes() > 0) {
            // Whole specs only, so that a weight and its scale share a file.
            List<SafetensorsWriter.Entry> cur = new ArrayList<>();
            long bytes = 0;
            for (List<SafetensorsWriter.Entry> group : bySpec) {
                long g = group.stream().mapToLong(SafetensorsWriter.Entry::bytes).sum();
                if (!cur.isEmpty() && bytes + g > o.maxShardBytes()) {
                    parts.add(cur);
                    cur = new ArrayList<>();
                    bytes = 0;
                }
                cur.addAll(group);
                bytes += g;
            }
            parts.add(cur);
        } else if (o.shards() > 1) {
            int per = (all.size() + o.shards() - 1) / o.shards();
            for (int k = 0; k < o.shards(); k++)
                parts.add(all.subList(Math.min(all.size(), k * per), Math.min(all.size(), (k + 1) * per)));
        } else {
            parts.add(all);
        }
        if (parts.size() == 1) return List.of(new SafetensorsStream.File(Checkpoint.SINGLE, parts.getFirst()));
        List<SafetensorsStream.File> files = new ArrayList<>();
        for (int k = 0; k < parts.size(); k++)
            files.add(new SafetensorsStream.File(String.format("model-%05d-of-%05d.safetensors", k + 1, parts.size()), parts.get(k)));
        return files;
    }

    private static void writeIndex(Path dir, List<SafetensorsStream.File> files) throws IOException {
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (SafetensorsStream.File f : files)
            for (SafetensorsWriter.Entry e : f.entries()) {
                weightMap.put(e.name(), f.name());
                total += e.bytes();
            }
        ObjectNode index = new ObjectMapper().createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode wm = index.putObject("weight_map");
        weightMap.forEach(wm::put);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve(Checkpoint.INDEX).toFile(), index);
    }

    /** Holes everywhere except HC scales, which are 1 so that a zero checkpoint still runs. */
    private static void writeZeros(SafetensorsStream out, List<Spec> specs, List<List<SafetensorsWriter.Entry>> bySpec) throws IOException {
        for (int i = 0; i < specs.size(); i++)
            for (SafetensorsWriter.Entry e : bySpec.get(i)) {
                if (specs.get(i).role() != Role.HC_SCALE) {
                    out.skip(e.bytes());
                    continue;
                }
                ByteBuffer ones = ByteBuffer.allocate((int) e.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                while (ones.hasRemaining()) ones.putFloat(1f);
                out.write(ones.flip());
            }
    }

    private static void writeSequential(SafetensorsStream out, ModelConfig c, List<Spec> specs, Options o) throws IOException {
        RandomWeights.Source src = RandomWeights.Source.sequential(o.seed());
        Emitter em = new Emitter(out);
        for (int i = 0; i < specs.size(); i++)
            for (RandomWeights.Piece p : RandomWeights.pieces(i, specs.get(i), c)) em.emit(p, RandomWeights.generate(p, c, src, o.std()));
    }

    /** Workers generate pieces ahead, in order, while this thread writes them; at most two pieces per thread wait. */
    private static void writeParallel(SafetensorsStream out, ModelConfig c, List<Spec> specs, Options o) throws IOException {
        List<RandomWeights.Piece> pieces = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) pieces.addAll(RandomWeights.pieces(i, specs.get(i), c));
        ExecutorService pool = Executors.newFixedThreadPool(o.threads(), r -> {
            Thread t = new Thread(r, "ds4j-weights");
            t.setDaemon(true);
            return t;
        });
        try {
            Emitter em = new Emitter(out);
            ArrayDeque<Future<RandomWeights.Data>> ahead = new ArrayDeque<>();
            int next = 0, depth = 2 * o.threads();
            for (RandomWeights.Piece p : pieces) {
                while (ahead.size() < depth && next < pieces.size()) {
                    RandomWeights.Piece q = pieces.get(next++);
                    ahead.add(pool.submit(() -> RandomWeights.generate(q, c, RandomWeights.Source.forPiece(o.seed(), q), o.std())));
                }
                em.emit(p, await(ahead.poll()));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static RandomWeights.Data await(Future<RandomWeights.Data> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing the checkpoint");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IOException(e.getCause());
        }
    }

    /** Writes each piece's weight rows, and a tensor's scale (gathered from its pieces) right after its last piece. */
    private static final class Emitter {
        private final SafetensorsStream out;
        private final ByteArrayOutputStream scale = new ByteArrayOutputStream();

        Emitter(SafetensorsStream out) { this.out = out; }

        void emit(RandomWeights.Piece p, RandomWeights.Data d) throws IOException {
            out.write(d.weight());
            if (d.scale() != null) scale.writeBytes(d.scale());
            if (p.last() && scale.size() > 0) {
                out.write(scale.toByteArray());
                scale.reset();
            }
        }
    }
}
