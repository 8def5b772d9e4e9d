package dev.ds4j.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files. Tensors without data are left as holes (zeros in a sparse file), which makes
 * multi-GB shape-only checkpoints cheap to create for load-time tests. Writes to a temporary file and
 * renames, so a crash never leaves a half-written checkpoint under the final name.
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
