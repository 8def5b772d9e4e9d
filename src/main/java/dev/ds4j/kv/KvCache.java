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

    /** Makes this cache an exact copy of {@code other} (same model), e.g. to fork a session at a prefix. */
    public void copyFrom(KvCache other) {
        if (other.layers.length != layers.length) throw new IllegalArgumentException("caches of different models");
        for (int i = 0; i < layers.length; i++) layers[i].copyFrom(other.layers[i]);
        length = other.length;
    }
}
