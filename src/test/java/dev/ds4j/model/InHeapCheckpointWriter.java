package dev.ds4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.checkpoint.Checkpoint;
import dev.ds4j.checkpoint.DType;
import dev.ds4j.model.CheckpointLayout.Fill;
import dev.ds4j.model.CheckpointLayout.Spec;
import dev.ds4j.tensor.Formats;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The checkpoint writer as it was before the streaming writer (commit 48e6ab5), kept verbatim as the oracle
 * for byte identity: it builds every tensor in heap, then writes each file. Only the names were adapted
 * (SafetensorsWriter.write became writeFile, its Entry record lives here).
 */
final class InHeapCheckpointWriter {
    private InHeapCheckpointWriter() {}

    record Entry(String name, DType dtype, long[] shape, byte[] data) {
        long bytes() {
            long n = dtype.bytes;
            for (long s : shape) n *= s;
            return n;
        }
    }

    /**
     * Writes {@code config} and its weights to {@code dir}. {@code std} is the std of linear weights;
     * {@code shards} > 1 writes model-0000k-of-0000n.safetensors plus the index.
     */
    static void write(Path dir, ObjectNode config, Fill fill, long seed, double std, boolean withMtp, int shards) throws IOException {
        ModelConfig c = ModelConfig.parse(config);
        Files.createDirectories(dir);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Entry> all = new ArrayList<>();
        for (Spec s : CheckpointLayout.specs(c, withMtp)) emit(all, s, c, fill, rnd, std);
        if (shards <= 1) {
            writeFile(dir.resolve(Checkpoint.SINGLE), all, Map.of("format", "pt"));
            return;
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        int per = (all.size() + shards - 1) / shards;
        for (int k = 0; k < shards; k++) {
            List<Entry> part = all.subList(Math.min(all.size(), k * per), Math.min(all.size(), (k + 1) * per));
            String name = String.format("model-%05d-of-%05d.safetensors", k + 1, shards);
            writeFile(dir.resolve(name), part, Map.of("format", "pt"));
            for (var e : part) weightMap.put(e.name(), name);
        }
        ObjectNode index = new ObjectMapper().createObjectNode();
        index.putObject("metadata").put("total_size", all.stream().mapToLong(Entry::bytes).sum());
        ObjectNode wm = index.putObject("weight_map");
        weightMap.forEach(wm::put);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve(Checkpoint.INDEX).toFile(), index);
    }

    private static void emit(List<Entry> out, Spec s, ModelConfig c, Fill fill, SplittableRandom rnd, double std) {
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
                out.add(new Entry(s.name(), DType.BF16, s.shape(), zeros ? null : bf16(v)));
            }
            case HC_FN -> out.add(new Entry(s.name(), DType.F32, s.shape(), zeros ? null : f32(normal(rnd, s.elements(), 0, std))));
            case HC_BASE, SINK, APE -> out.add(new Entry(s.name(), DType.F32, s.shape(), zeros ? null : f32(normal(rnd, s.elements(), 0, 0.5))));
            case HC_SCALE -> {
                float[] v = new float[cols];
                for (int i = 0; i < cols; i++) v[i] = zeros ? 1f : (float) (1 + rnd.nextDouble());
                out.add(new Entry(s.name(), DType.F32, s.shape(), f32(v)));
            }
            case BIAS -> out.add(new Entry(s.name(), DType.F32, s.shape(), zeros ? null : f32(normal(rnd, cols, 0, 0.1))));
            case TID2EID -> {
                ByteBuffer b = ByteBuffer.allocate(8 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
                for (int r = 0; r < rows; r++) {
                    int[] perm = rnd.ints(0, c.nRoutedExperts()).distinct().limit(cols).toArray();
                    for (int id : perm) b.putLong(id);
                }
                out.add(new Entry(s.name(), DType.I64, s.shape(), b.array()));
            }
        }
    }

    /** A weight in the requested storage, quantised as DeepSeek's converter does (pow-2 scales, RNE). */
    private static void linear(List<Entry> out, String name, int rows, int cols, DType dt, boolean zeros,
                               SplittableRandom rnd, double std) {
        switch (dt) {
            case BF16 -> out.add(new Entry(name + ".weight", DType.BF16, new long[]{rows, cols}, zeros ? null : bf16(normal(rnd, (long) rows * cols, 0, std))));
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
                out.add(new Entry(name + ".weight", DType.F8_E4M3, new long[]{rows, cols}, q));
                out.add(new Entry(name + ".scale", DType.F8_E8M0, new long[]{sr, sc}, zeros ? null : scale));
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
                out.add(new Entry(name + ".weight", DType.I8, new long[]{rows, cols / 2}, q));
                out.add(new Entry(name + ".scale", DType.F8_E8M0, new long[]{rows, blocks}, scale));
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

    private static void writeFile(Path path, List<Entry> tensors, Map<String, String> metadata) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Entry e : tensors) {
            if (e.data() != null && e.data().length != e.bytes())
                throw new IllegalArgumentException(e.name() + ": " + e.data().length + " data bytes for " + e.dtype() + " shape needing " + e.bytes());
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", e.dtype().name());
            var shape = t.putArray("shape");
            for (long s : e.shape()) shape.add(s);
            t.putArray("data_offsets").add(offset).add(offset + e.bytes());
            offset += e.bytes();
        }
        byte[] hb = json.writeValueAsBytes(header);
        int pad = (8 - hb.length % 8) % 8;                 // keep the data section 8-byte aligned
        byte[] padded = new byte[hb.length + pad];
        System.arraycopy(hb, 0, padded, 0, hb.length);
        for (int i = hb.length; i < padded.length; i++) padded[i] = ' ';
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).flip();
            ch.write(len, 0);
            ch.write(ByteBuffer.wrap(padded), 8);
            long base = 8 + padded.length, pos = 0;
            for (Entry e : tensors) {
                if (e.data() != null) {
                    ByteBuffer b = ByteBuffer.wrap(e.data());
                    long at = base + pos;
                    while (b.hasRemaining()) at += ch.write(b, at);
                }
                pos += e.bytes();
            }
            // Extend to full size; unwritten ranges stay holes in the sparse file.
            if (ch.size() < base + pos) ch.write(ByteBuffer.wrap(new byte[1]), base + pos - 1);
        }
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
