package dev.ds4j.kv;

/** The last {@code window} key/value vectors of one layer as a ring: position p lives in slot p mod window. */
public final class SlidingWindowCache {
    private final int window, dim;
    private final EntryStore ring;

    SlidingWindowCache(int window, EntryFormat format) {
        this.window = window;
        this.dim = format.dim;
        this.ring = EntryStore.fixed(format, window);
    }

    public int window() { return window; }
    public int dim() { return dim; }
    /** Bytes of one stored entry in this cache's layout. */
    public int entryBytes() { return ring.format.bytes; }

    /** Stores the entry of absolute position {@code pos} (src[srcOff .. srcOff+dim)), replacing pos − window. */
    public void put(long pos, float[] src, int srcOff) { ring.put(slot(pos), src, srcOff); }

    /** Decodes the entry of absolute position {@code pos}, which must still be in the window, into dst. */
    public void get(long pos, float[] dst, int dstOff) { ring.get(slot(pos), dst, dstOff); }

    private int slot(long pos) { return (int) (pos % window); }

    public long bytes() { return ring.allocatedBytes(); }

    void copyFrom(SlidingWindowCache o) { ring.copyFrom(o.ring, window); }

    void clear() { ring.clear(); }

    /** Random entries for the last min(window, length) positions of a sequence of {@code length} tokens. */
    void fillSynthetic(long length, java.util.SplittableRandom rng) {
        ring.clear();
        ring.random(0, (int) Math.min(window, length), rng);
    }

    void write(java.io.DataOutputStream out) throws java.io.IOException { ring.write(out, window); }

    void read(java.io.DataInputStream in) throws java.io.IOException { ring.read(in, window); }
}
