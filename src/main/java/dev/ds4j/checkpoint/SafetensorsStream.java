package dev.ds4j.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Writes one or more safetensors files as one byte stream. The headers only need names, dtypes and shapes,
 * so they are written first; the data sections then follow in entry order, moving on to the next file where
 * one file's data ends (a write may span the boundary). A checkpoint of any size therefore needs no more heap
 * than the caller's current buffer.
 *
 * <p>Files are written under a ".tmp" name and renamed by {@link #finish()}, so a crash or an interrupt never
 * leaves a file that looks complete; {@link #close()} without {@code finish()} deletes them.
 */
public final class SafetensorsStream implements AutoCloseable {
    /** One output file and the tensors it holds, in order; the entries' data is ignored. */
    public record File(String name, List<SafetensorsWriter.Entry> entries) {}

    private static final class Target {
        final Path path, tmp;
        final FileChannel ch;
        final long end;          // file size once complete
        long pos;                // next byte to write

        Target(Path path, Path tmp, FileChannel ch, long start, long end) {
            this.path = path;
            this.tmp = tmp;
            this.ch = ch;
            this.pos = start;
            this.end = end;
        }
    }

    private final List<Target> targets = new ArrayList<>();
    private final LongConsumer progress;
    private int current;
    private boolean finished;

    private SafetensorsStream(LongConsumer progress) {
        this.progress = progress == null ? n -> { } : progress;
    }

    /**
     * Creates every file in {@code dir} with its header. {@code progress} (may be null) receives the number of
     * data bytes each write or skip covers.
     */
    public static SafetensorsStream create(Path dir, List<File> files, Map<String, String> metadata, LongConsumer progress) throws IOException {
        SafetensorsStream s = new SafetensorsStream(progress);
        try {
            for (File f : files) {
                byte[] header = SafetensorsWriter.header(f.entries(), metadata);
                long data = 0;
                for (SafetensorsWriter.Entry e : f.entries()) data += e.bytes();
                Path path = dir.resolve(f.name()), tmp = path.resolveSibling(f.name() + ".tmp");
                FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
                s.targets.add(new Target(path, tmp, ch, 8 + header.length, 8 + header.length + data));
                writeFully(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip(), 0);
                writeFully(ch, ByteBuffer.wrap(header), 8);
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    public void write(byte[] data) throws IOException { write(ByteBuffer.wrap(data)); }

    /** Appends {@code data} at the current position of the stream. */
    public void write(ByteBuffer data) throws IOException {
        while (data.hasRemaining()) {
            Target t = active(data.remaining());
            int n = (int) Math.min(data.remaining(), t.end - t.pos);
            ByteBuffer part = data.slice(data.position(), n);
            writeFully(t.ch, part, t.pos);
            data.position(data.position() + n);
            t.pos += n;
            progress.accept(n);
        }
    }

    /** Advances over {@code n} zero bytes without writing them: they stay holes in a sparse file. */
    public void skip(long n) throws IOException {
        while (n > 0) {
            Target t = active(n);
            long k = Math.min(n, t.end - t.pos);
            t.pos += k;
            n -= k;
            progress.accept(k);
        }
    }

    /** Checks that every declared byte was given, then gives each file its final name. */
    public void finish() throws IOException {
        for (int i = current; i < targets.size(); i++)
            if (targets.get(i).pos != targets.get(i).end)
                throw new IllegalStateException(targets.get(i).path.getFileName() + ": " + (targets.get(i).end - targets.get(i).pos)
                        + " data bytes were never written");
        for (Target t : targets) {
            // Extend to full size; unwritten ranges stay holes.
            if (t.ch.size() < t.end) writeFully(t.ch, ByteBuffer.wrap(new byte[1]), t.end - 1);
            t.ch.close();
        }
        for (Target t : targets) Files.move(t.tmp, t.path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        finished = true;
    }

    /** Deletes the temporary files unless {@link #finish()} succeeded. */
    @Override
    public void close() throws IOException {
        if (finished) return;
        IOException first = null;
        for (Target t : targets) {
            try {
                t.ch.close();
                Files.deleteIfExists(t.tmp);
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        targets.clear();
        if (first != null) throw first;
    }

    private Target active(long wanted) {
        while (current < targets.size() && targets.get(current).pos == targets.get(current).end) current++;
        if (current == targets.size())
            throw new IllegalStateException(wanted + " bytes more than the headers declare (" + (targets.isEmpty() ? "no files" : "last file "
                    + targets.getLast().path.getFileName()) + ")");
        return targets.get(current);
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) at += ch.write(b, at);
    }
}
