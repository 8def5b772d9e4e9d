package dev.ds4j.kv;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Fixed-size entries in byte chunks of {@link #CHUNK} entries, entry i at chunk i/CHUNK. A growing store
 * never copies what it holds once past the first chunk (which doubles from 16 entries up to CHUNK), so
 * its memory is the entries plus at most one partly filled chunk: no doubling spike at a million tokens,
 * and each chunk stays small (150 KB at 584-byte entries). A fixed store (the window ring) is sized exactly.
 */
final class EntryStore {
    static final int CHUNK_SHIFT = 8, CHUNK = 1 << CHUNK_SHIFT, MASK = CHUNK - 1, FIRST = 16;

    final EntryFormat format;
    private final boolean fixed;
    private byte[][] chunks = new byte[0][];
    private int capacity;

    /** An empty growing store. */
    EntryStore(EntryFormat format) { this(format, false); }

    private EntryStore(EntryFormat format, boolean fixed) {
        this.format = format;
        this.fixed = fixed;
    }

    /** A store of exactly n entries that never grows. */
    static EntryStore fixed(EntryFormat format, int n) {
        EntryStore s = new EntryStore(format, true);
        int nChunks = (n + MASK) >>> CHUNK_SHIFT;
        s.chunks = new byte[nChunks][];
        for (int c = 0; c < nChunks; c++) s.chunks[c] = new byte[Math.min(CHUNK, n - c * CHUNK) * format.bytes];
        s.capacity = n;
        return s;
    }

    /** Entries a growing store has allocated once it holds n: the rule {@link #ensure} follows, for projections. */
    static long allocatedFor(long n) {
        if (n == 0) return 0;
        if (n <= CHUNK) return Math.max(FIRST, Long.highestOneBit(n - 1) << 1);
        return (n + MASK) >>> CHUNK_SHIFT << CHUNK_SHIFT;
    }

    int capacity() { return capacity; }
    long allocatedBytes() { return (long) capacity * format.bytes; }

    /** Grows (a growing store) to hold at least n entries. */
    void ensure(int n) {
        if (n <= capacity) return;
        if (fixed) throw new IllegalStateException("a fixed store of " + capacity + " entries cannot hold " + n);
        int target = (int) allocatedFor(n);
        if (target <= CHUNK) {
            byte[] first = chunks.length > 0 ? Arrays.copyOf(chunks[0], target * format.bytes) : new byte[target * format.bytes];
            chunks = new byte[][]{first};
        } else {
            if (capacity < CHUNK) ensure(CHUNK);                     // complete the first chunk
            int nChunks = target >>> CHUNK_SHIFT;
            int old = chunks.length;
            if (nChunks > old) {
                chunks = Arrays.copyOf(chunks, Math.max(nChunks, old + (old >> 1)));  // the index only: references
            }
            for (int c = 0; c < nChunks; c++) if (chunks[c] == null) chunks[c] = new byte[CHUNK * format.bytes];
            target = nChunks * CHUNK;
        }
        capacity = target;
    }

    void put(int i, float[] src, int off) { format.encode(src, off, chunks[i >>> CHUNK_SHIFT], (i & MASK) * format.bytes); }

    void get(int i, float[] dst, int off) { format.decode(chunks[i >>> CHUNK_SHIFT], (i & MASK) * format.bytes, dst, off); }

    /** Random valid entries [from, to) (see {@link EntryFormat#random}); the store must hold them. */
    void random(int from, int to, SplittableRandom rng) {
        for (int i = from; i < to; ) {
            int c = i >>> CHUNK_SHIFT, n = Math.min(to, (c + 1) * CHUNK) - i;
            format.random(chunks[c], (i & MASK) * format.bytes, n, rng);
            i += n;
        }
    }

    /** Copies entries [0, n) of another store of the same format; a growing store ends up sized for n. */
    void copyFrom(EntryStore o, int n) {
        if (!fixed && capacity > allocatedFor(n)) clear();
        ensure(n);
        for (int i = 0; i < n; ) {
            int c = i >>> CHUNK_SHIFT, k = Math.min(n, (c + 1) * CHUNK) - i;
            System.arraycopy(o.chunks[c], 0, chunks[c], 0, k * format.bytes);
            i += k;
        }
    }

    /** Writes entries [0, n) as raw bytes (the entry size is implied by the model and layout). */
    void write(DataOutputStream out, int n) throws IOException {
        for (int i = 0; i < n; ) {
            int c = i >>> CHUNK_SHIFT, k = Math.min(n, (c + 1) * CHUNK) - i;
            out.write(chunks[c], 0, k * format.bytes);
            i += k;
        }
    }

    void read(DataInputStream in, int n) throws IOException {
        ensure(n);
        for (int i = 0; i < n; ) {
            int c = i >>> CHUNK_SHIFT, k = Math.min(n, (c + 1) * CHUNK) - i;
            in.readFully(chunks[c], 0, k * format.bytes);
            i += k;
        }
    }

    /** Zeroes a fixed store; empties a growing one and frees its memory. */
    void clear() {
        if (fixed) {
            for (byte[] c : chunks) Arrays.fill(c, (byte) 0);
        } else {
            chunks = new byte[0][];
            capacity = 0;
        }
    }
}
