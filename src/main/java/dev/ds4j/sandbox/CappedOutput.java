package dev.ds4j.sandbox;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.LongConsumer;

/**
 * Keeps the first half and the last half of a stream up to a cap and counts the rest. Both ends matter to
 * an agent (the command line echo and the final error), and the runtime must keep draining the pipe however
 * much a command writes: DSec saw `yes` produce tens of GB of captured output.
 */
final class CappedOutput {
    private final byte[] head;
    private final byte[] tail; // ring
    private int headLen;
    private long tailWritten;
    private long total;

    CappedOutput(int cap) {
        head = new byte[cap / 2 + cap % 2];
        tail = new byte[cap / 2];
    }

    synchronized void write(byte[] b, int off, int len) {
        total += len;
        int h = Math.min(len, head.length - headLen);
        System.arraycopy(b, off, head, headLen, h);
        headLen += h;
        off += h;
        len -= h;
        if (tail.length == 0) return;
        if (len > tail.length) { // only the last tail.length bytes can survive
            off += len - tail.length;
            tailWritten += len - tail.length;
            len = tail.length;
        }
        for (int i = 0; i < len; i++) tail[(int) ((tailWritten + i) % tail.length)] = b[off + i];
        tailWritten += len;
    }

    synchronized long total() {
        return total;
    }

    synchronized boolean truncated() {
        return total > head.length + tail.length;
    }

    synchronized byte[] bytes() {
        int t = (int) Math.min(tailWritten, tail.length);
        byte[] out = new byte[headLen + t];
        System.arraycopy(head, 0, out, 0, headLen);
        long start = tailWritten - t;
        for (int i = 0; i < t; i++) out[headLen + i] = tail[(int) ((start + i) % tail.length)];
        return out;
    }

    /** UTF-8 text; a character cut at the seam or the cap becomes U+FFFD. */
    String text() {
        return new String(bytes(), StandardCharsets.UTF_8);
    }

    /** Drains {@code in} to its end, calling {@code onData} with the time of each read (for idle timeouts). */
    void drain(InputStream in, LongConsumer onData) {
        byte[] buf = new byte[64 * 1024];
        try (in) {
            int n;
            while ((n = in.read(buf)) > 0) {
                onData.accept(System.nanoTime());
                write(buf, 0, n);
            }
        } catch (IOException e) {
            // The pipe closes when the process is killed; what was read so far is the output.
        }
    }
}
