package dev.ds4j.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files whose tensors are already in heap. Tensors without data are left as holes (zeros
 * in a sparse file), which makes multi-GB shape-only checkpoints cheap to create for load-time tests. Large
 * checkpoints are generated straight into a {@link SafetensorsStream} instead.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    /** A tensor to write; {@code data} null means all zeros. */
    public record Entry(String name, DType dtype, long[] shape, byte[] data) {
        public long bytes() {
            long n = dtype.bytes;
            for (long s : shape) n *= s;
            return n;
        }
    }

    public static void write(Path path, List<Entry> tensors, Map<String, String> metadata) throws IOException {
        for (Entry e : tensors)
            if (e.data() != null && e.data().length != e.bytes())
                throw new IllegalArgumentException(e.name() + ": " + e.data().length + " data bytes for " + e.dtype() + " shape needing " + e.bytes());
        try (SafetensorsStream out = SafetensorsStream.create(path.toAbsolutePath().getParent(),
                List.of(new SafetensorsStream.File(path.getFileName().toString(), tensors)), metadata, null)) {
            for (Entry e : tensors) {
                if (e.data() != null) out.write(e.data());
                else out.skip(e.bytes());
            }
            out.finish();
        }
    }

    /** The JSON header, space-padded so that the data section starts 8-byte aligned. */
    static byte[] header(List<Entry> tensors, Map<String, String> metadata) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Entry e : tensors) {
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", e.dtype().name());
            var shape = t.putArray("shape");
            for (long s : e.shape()) shape.add(s);
            t.putArray("data_offsets").add(offset).add(offset + e.bytes());
            offset += e.bytes();
        }
        byte[] hb;
        try {
            hb = json.writeValueAsBytes(header);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        int pad = (8 - hb.length % 8) % 8;
        byte[] padded = new byte[hb.length + pad];
        System.arraycopy(hb, 0, padded, 0, hb.length);
        for (int i = hb.length; i < padded.length; i++) padded[i] = ' ';
        return padded;
    }
}
