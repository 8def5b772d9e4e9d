package dev.ds4j.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A checkpoint directory: {@code config.json} plus either {@code model.safetensors} or shards listed in
 * {@code model.safetensors.index.json}. All shards are mapped into one shared arena that lives until
 * {@link #close()}; nothing is copied to the heap.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String INDEX = "model.safetensors.index.json";
    public static final String SINGLE = "model.safetensors";

    private final Path dir;
    private final Arena arena;
    private final Map<String, TensorInfo> tensors;
    private final JsonNode config;
    private final long bytes;

    private Checkpoint(Path dir, Arena arena, Map<String, TensorInfo> tensors, JsonNode config, long bytes) {
        this.dir = dir;
        this.arena = arena;
        this.tensors = tensors;
        this.config = config;
        this.bytes = bytes;
    }

    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir + ": not a directory");
        JsonNode config = readJson(dir.resolve("config.json"));
        Arena arena = Arena.ofShared();
        try {
            Map<String, TensorInfo> all = new LinkedHashMap<>();
            long bytes = 0;
            Path index = dir.resolve(INDEX);
            if (Files.exists(index)) {
                JsonNode idx = readJson(index);
                JsonNode wm = idx.get("weight_map");
                if (wm == null || !wm.isObject()) throw new CheckpointException(INDEX + ": missing 'weight_map' object");
                Map<String, String> wantShard = new LinkedHashMap<>();
                Set<String> shards = new TreeSet<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
                    var e = it.next();
                    String shard = e.getValue().asText();
                    if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.startsWith("."))
                        throw new CheckpointException(INDEX + ": tensor '" + e.getKey() + "' maps to an invalid shard name '" + shard + "'");
                    wantShard.put(e.getKey(), shard);
                    shards.add(shard);
                }
                for (String shard : shards) {
                    Path p = dir.resolve(shard);
                    if (!Files.exists(p)) throw new CheckpointException(INDEX + ": shard '" + shard + "' is listed but missing from " + dir);
                    SafetensorsFile f = SafetensorsFile.open(p, arena);
                    bytes += f.path().toFile().length();
                    for (TensorInfo t : f.tensors().values()) {
                        String listed = wantShard.get(t.name());
                        if (listed == null) continue; // stray tensor not in the index: ignore, as HF loaders do
                        if (!listed.equals(shard)) continue;
                        if (all.put(t.name(), t) != null) throw new CheckpointException(shard + ": tensor '" + t.name() + "' appears in two shards");
                    }
                }
                for (var e : wantShard.entrySet())
                    if (!all.containsKey(e.getKey()))
                        throw new CheckpointException(e.getValue() + ": tensor '" + e.getKey() + "' is listed in " + INDEX + " but not in that shard");
            } else {
                Path p = dir.resolve(SINGLE);
                if (!Files.exists(p)) throw new CheckpointException(dir + ": neither " + SINGLE + " nor " + INDEX + " found");
                SafetensorsFile f = SafetensorsFile.open(p, arena);
                bytes += f.path().toFile().length();
                all.putAll(f.tensors());
            }
            return new Checkpoint(dir, arena, Collections.unmodifiableMap(all), config, bytes);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    static JsonNode readJson(Path p) {
        if (!Files.exists(p)) throw new CheckpointException(p.getFileName() + ": missing from " + p.getParent());
        try {
            JsonNode n = new ObjectMapper().readTree(p.toFile());
            if (n == null || !n.isObject()) throw new CheckpointException(p.getFileName() + ": not a JSON object");
            return n;
        } catch (IOException e) {
            String m = e.getMessage() == null ? "" : e.getMessage().split("\n")[0];
            throw new CheckpointException(p.getFileName() + ": not valid JSON (" + m + ")", e);
        }
    }

    public Path dir() { return dir; }
    public JsonNode config() { return config; }
    public Map<String, TensorInfo> tensors() { return tensors; }
    public boolean has(String name) { return tensors.containsKey(name); }
    /** Total bytes of the safetensors files (what is mapped). */
    public long fileBytes() { return bytes; }

    /**
     * Reads one byte of every 4 KiB page of every tensor, so the weights are in the page cache before a
     * timing starts (a benchmark should measure memory, not the disk). Returns the bytes covered.
     */
    public long touchAll() {
        long covered = 0, sink = 0;
        for (TensorInfo t : tensors.values()) {
            MemorySegment d = t.data();
            for (long at = 0; at < d.byteSize(); at += 4096) sink += d.get(java.lang.foreign.ValueLayout.JAVA_BYTE, at);
            covered += d.byteSize();
        }
        if (sink == Long.MIN_VALUE) System.err.print(""); // keep the reads
        return covered;
    }

    /**
     * A hex SHA-256 that changes when the weights change: config, every tensor's name, dtype and shape, and
     * a sample of bytes (the first and middle 64 of each of up to 2,048 tensors). It guards saved KV caches
     * against being restored into a different model; it reads kilobytes, not the checkpoint.
     */
    public String fingerprint() {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            md.update(config.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            int sampled = 0;
            for (TensorInfo t : new java.util.TreeMap<>(tensors).values()) {
                md.update((t.name() + " " + t.dtype() + " " + t.shapeString() + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                if (sampled++ >= 2048) continue;
                long size = t.data().byteSize();
                for (long at : new long[]{0, size / 2}) {
                    int n = (int) Math.min(64, size - at);
                    if (n > 0) md.update(t.data().asSlice(at, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                }
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The tensor, or a CheckpointException naming it when it is absent. */
    public TensorInfo get(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new CheckpointException(dir.getFileName() + ": required tensor '" + name + "' is missing");
        return t;
    }

    @Override
    public void close() { arena.close(); }
}
