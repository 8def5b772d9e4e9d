package dev.ds4j.kv;

/** The last {@code window} key/value vectors of one layer as a ring: position p lives in slot p mod window. */
public final class SlidingWindowCache {
    private final int window, dim;
    private final float[] ring;

    public SlidingWindowCache(int window, int dim) {
        this.window = window;
        this.dim = dim;
        this.ring = new float[window * dim];
    }

    public int window() { return window; }
    public int dim() { return dim; }
    public float[] data() { return ring; }
    /** Offset in {@link #data()} of the entry for absolute position {@code pos}. */
    public int offset(long pos) { return (int) (pos % window) * dim; }

    public void put(long pos, float[] src, int srcOff) { System.arraycopy(src, srcOff, ring, offset(pos), dim); }

    public long bytes() { return 4L * ring.length; }

    void copyFrom(SlidingWindowCache o) { System.arraycopy(o.ring, 0, ring, 0, ring.length); }

    void write(java.io.DataOutputStream out) throws java.io.IOException { KvIo.floats(out, ring, ring.length); }

    void read(java.io.DataInputStream in) throws java.io.IOException { KvIo.into(in, ring, "sliding window"); }
}
