package dev.ds4j.kv;

/** The per-sequence cache of all layers, plus the number of tokens it holds (the next absolute position). */
public final class KvCache {
    private final LayerCache[] layers;
    private long length;

    public KvCache(LayerCache[] layers) { this.layers = layers; }

    public LayerCache layer(int i) { return layers[i]; }
    public int layers() { return layers.length; }
    public long length() { return length; }
    public void advance(long n) { length += n; }

    public long bytes() {
        long b = 0;
        for (LayerCache l : layers) b += l.bytes();
        return b;
    }

    /** Writes the whole cache (every layer's window, entries and compressor state) to a snapshot stream. */
    public void write(java.io.DataOutputStream out) throws java.io.IOException {
        out.writeLong(length);
        out.writeInt(layers.length);
        for (LayerCache l : layers) l.write(out);
    }

    /** Replaces this cache's contents with a snapshot written by {@link #write} for the same model. */
    public void read(java.io.DataInputStream in) throws java.io.IOException {
        long n = in.readLong();
        if (n < 0) throw new java.io.IOException("negative sequence length " + n);
        int count = in.readInt();
        if (count != layers.length) throw new java.io.IOException("snapshot has " + count + " layers, the model " + layers.length);
        for (LayerCache l : layers) l.read(in, n);
        length = n;
    }

    /** Makes this cache an exact copy of {@code other} (same model), e.g. to fork a session at a prefix. */
    public void copyFrom(KvCache other) {
        if (other.layers.length != layers.length) throw new IllegalArgumentException("caches of different models");
        for (int i = 0; i < layers.length; i++) layers[i].copyFrom(other.layers[i]);
        length = other.length;
    }
}
