package dev.ds4j.kv;

import java.util.Arrays;

/** Append-only compressed entries of one layer (main KV entries or indexer keys), entry j at j·dim. */
public final class CompressedCache {
    private final int dim;
    private float[] data;
    private int count;

    public CompressedCache(int dim) {
        this.dim = dim;
        this.data = new float[16 * dim];
    }

    public int dim() { return dim; }
    public int count() { return count; }
    public float[] data() { return data; }

    public void append(float[] src, int srcOff) {
        if ((count + 1) * (long) dim > data.length) data = Arrays.copyOf(data, Math.max(data.length * 2, (count + 1) * dim));
        System.arraycopy(src, srcOff, data, count * dim, dim);
        count++;
    }

    /** Drops entries j ≥ n (used when a session rewinds to a shorter prefix). */
    public void truncate(int n) { count = Math.min(count, n); }

    public long bytes() { return 4L * count * dim; }

    void write(java.io.DataOutputStream out) throws java.io.IOException { KvIo.floats(out, data, count * dim); }

    void read(java.io.DataInputStream in, long maxEntries) throws java.io.IOException {
        float[] a = KvIo.floats(in, -1, maxEntries * dim, "compressed entries");
        if (a.length % dim != 0) throw new java.io.IOException("compressed entries: " + a.length + " floats is not a multiple of " + dim);
        data = a.length == 0 ? new float[16 * dim] : a;
        count = a.length / dim;
    }

    void copyFrom(CompressedCache o) {
        data = Arrays.copyOf(o.data, Math.max(o.data.length, 16 * dim));
        count = o.count;
    }
}
