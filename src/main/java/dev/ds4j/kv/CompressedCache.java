package dev.ds4j.kv;

/**
 * Append-only compressed entries of one layer (main KV entries or indexer keys), entry j decoded on read.
 * Storage grows in chunks (see {@link EntryStore}), never by copying what it holds.
 */
public final class CompressedCache {
    private final int dim;
    private final EntryStore store;
    private int count;

    CompressedCache(EntryFormat format) {
        this.dim = format.dim;
        this.store = new EntryStore(format);
    }

    public int dim() { return dim; }
    public int count() { return count; }
    /** Bytes of one stored entry in this cache's layout. */
    public int entryBytes() { return store.format.bytes; }

    public void append(float[] src, int srcOff) {
        store.ensure(count + 1);
        store.put(count, src, srcOff);
        count++;
    }

    /** Decodes entry j (< count) into dst[dstOff .. dstOff+dim). */
    public void get(int j, float[] dst, int dstOff) {
        if (j >= count) throw new IndexOutOfBoundsException("entry " + j + " of " + count);
        store.get(j, dst, dstOff);
    }

    /** Drops entries j ≥ n. */
    public void truncate(int n) { count = Math.min(count, n); }

    /** Bytes of the entries held. */
    public long usedBytes() { return (long) count * store.format.bytes; }

    /** Bytes allocated: the entries plus the unused tail of the last chunk. */
    public long bytes() { return store.allocatedBytes(); }

    void write(java.io.DataOutputStream out) throws java.io.IOException {
        out.writeInt(count);
        store.write(out, count);
    }

    void read(java.io.DataInputStream in, long maxEntries) throws java.io.IOException {
        int n = in.readInt();
        if (n < 0 || n > maxEntries) throw new java.io.IOException("compressed entries: snapshot holds " + n + ", expected at most " + maxEntries);
        store.clear();
        store.read(in, n);
        count = n;
    }

    void copyFrom(CompressedCache o) {
        store.copyFrom(o.store, o.count);
        count = o.count;
    }

    void clear() {
        store.clear();
        count = 0;
    }

    void fillSynthetic(int n, java.util.SplittableRandom rng) {
        store.clear();
        store.ensure(n);
        store.random(0, n, rng);
        count = n;
    }
}
