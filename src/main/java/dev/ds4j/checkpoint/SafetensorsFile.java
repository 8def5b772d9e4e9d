package dev.ds4j.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file. The whole file is mapped read-only once; tensors are slices of that
 * mapping, so opening costs a header parse and nothing proportional to the weights. Every header field is
 * checked before use: a truncated file or a lying header fails here with the file and tensor named, not
 * later as an out-of-bounds access deep inside a kernel.
 */
public final class SafetensorsFile {
    /** Real headers are a few MB at most (Flash's largest shard header is ~1.6 MB); anything bigger is corrupt. */
    public static final long MAX_HEADER_BYTES = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path path;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps {@code path} into {@code arena}; the mapping lives as long as the arena. */
    public static SafetensorsFile open(Path path, Arena arena) {
        String file = path.getFileName().toString();
        MemorySegment all;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new CheckpointException(file + ": file is " + size + " bytes, too short for a safetensors header (truncated?)");
            all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot open (" + e.getMessage() + ")", e);
        }
        long size = all.byteSize();
        long headerLen = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES)
            throw new CheckpointException(file + ": header length " + Long.toUnsignedString(headerLen)
                    + " is not plausible (must be 2.." + MAX_HEADER_BYTES + " bytes); not a safetensors file or corrupt");
        if (8 + headerLen > size)
            throw new CheckpointException(file + ": header length " + headerLen + " runs past the end of the "
                    + size + "-byte file (truncated?)");
        byte[] hb = all.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode root;
        try {
            root = JSON.readTree(new String(hb, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            throw new CheckpointException(file + ": header is not valid JSON (" + firstLine(e.getMessage()) + ")", e);
        }
        if (root == null || !root.isObject()) throw new CheckpointException(file + ": header is not a JSON object");
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw new CheckpointException(file + ": __metadata__ is not an object");
                v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            String where = file + ": tensor '" + name + "'";
            if (!(v instanceof ObjectNode obj)) throw new CheckpointException(where + ": header entry is not an object");
            JsonNode dt = obj.get("dtype"), sh = obj.get("shape"), off = obj.get("data_offsets");
            if (dt == null || !dt.isTextual()) throw new CheckpointException(where + ": missing or non-string 'dtype'");
            DType dtype = DType.parse(dt.asText());
            if (dtype == null) throw new CheckpointException(where + ": unsupported dtype '" + dt.asText() + "'");
            if (sh == null || !sh.isArray()) throw new CheckpointException(where + ": missing or non-array 'shape'");
            long[] shape = new long[sh.size()];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0)
                    throw new CheckpointException(where + ": shape entry " + i + " is not a non-negative integer: " + d);
                shape[i] = d.asLong();
                try {
                    elements = Math.multiplyExact(elements, shape[i]);
                } catch (ArithmeticException overflow) {
                    throw new CheckpointException(where + ": shape " + sh + " overflows");
                }
            }
            if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber())
                throw new CheckpointException(where + ": 'data_offsets' must be [begin, end]");
            long begin = off.get(0).asLong(), end = off.get(1).asLong();
            if (begin < 0 || end < begin)
                throw new CheckpointException(where + ": bad data_offsets [" + begin + ", " + end + "]");
            long want;
            try {
                want = Math.multiplyExact(elements, (long) dtype.bytes);
            } catch (ArithmeticException overflow) {
                throw new CheckpointException(where + ": shape " + sh + " overflows");
            }
            if (end - begin != want)
                throw new CheckpointException(where + ": data_offsets span " + (end - begin) + " bytes but "
                        + dtype + " " + sh + " needs " + want);
            if (end > dataLen)
                throw new CheckpointException(where + ": data ends at byte " + (dataStart + end) + " but the file has only "
                        + size + " bytes (truncated?)");
            tensors.put(name, new TensorInfo(name, dtype, shape, path, all.asSlice(dataStart + begin, want)));
        }
        checkNoOverlap(file, tensors, dataStart);
        return new SafetensorsFile(path, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void checkNoOverlap(String file, Map<String, TensorInfo> tensors, long dataStart) {
        List<TensorInfo> list = new ArrayList<>(tensors.values());
        list.removeIf(t -> t.data().byteSize() == 0);
        list.sort((a, b) -> Long.compare(a.data().address(), b.data().address()));
        for (int i = 1; i < list.size(); i++) {
            TensorInfo prev = list.get(i - 1), cur = list.get(i);
            if (prev.data().address() + prev.data().byteSize() > cur.data().address())
                throw new CheckpointException(file + ": tensors '" + prev.name() + "' and '" + cur.name() + "' overlap in the data section");
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    public Path path() { return path; }
    public Map<String, TensorInfo> tensors() { return tensors; }
    public Map<String, String> metadata() { return metadata; }
}
