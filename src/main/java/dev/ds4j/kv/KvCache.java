package dev.ds4j.kv;

import java.util.SplittableRandom;
import java.util.stream.IntStream;

/** The per-sequence cache of all layers, plus the number of tokens it holds (the next absolute position). */
public final class KvCache {
    /**
     * The shape of a model's cache: one compress ratio per layer (the main layers first, then any MTP
     * layer), the dims of an entry, and the storage layout.
     */
    public record Spec(int[] ratios, int mainLayers, int window, int headDim, int ropeDim, int indexDim, KvLayout layout) {
        public Spec {
            ratios = ratios.clone();
            if (mainLayers < 0 || mainLayers > ratios.length) throw new IllegalArgumentException("mainLayers " + mainLayers + " of " + ratios.length);
        }

        public Spec withLayout(KvLayout l) { return new Spec(ratios, mainLayers, window, headDim, ropeDim, indexDim, l); }

        /** Bytes of one window or compressed entry (§8.2's E). */
        public int entryBytes() { return LayerCache.entryBytes(layout, headDim, ropeDim); }

        /** Bytes of one indexer key (§8.2's E_I). */
        public int indexKeyBytes() { return LayerCache.indexKeyBytes(layout, indexDim); }

        /**
         * Per layer, what a cache of this spec holds after {@code length} tokens, by the same rules its stores
         * allocate by, without allocating (a million-token Flash cache is 3.4 GiB).
         */
        public LayerCache.Bytes[] bytesAt(long length) {
            LayerCache.Bytes[] b = new LayerCache.Bytes[ratios.length];
            for (int i = 0; i < b.length; i++) b[i] = LayerCache.bytesAt(ratios[i], window, headDim, ropeDim, indexDim, layout, length);
            return b;
        }
    }

    private final Spec spec;
    private final LayerCache[] layers;
    private long length;

    public KvCache(Spec spec) {
        this.spec = spec;
        this.layers = new LayerCache[spec.ratios().length];
        for (int i = 0; i < layers.length; i++)
            layers[i] = new LayerCache(spec.ratios()[i], spec.window(), spec.headDim(), spec.ropeDim(), spec.indexDim(), spec.layout());
    }

    public Spec spec() { return spec; }
    public KvLayout layout() { return spec.layout(); }
    public LayerCache layer(int i) { return layers[i]; }
    public int layers() { return layers.length; }
    public long length() { return length; }
    public void advance(long n) { length += n; }

    /** Bytes allocated for the whole cache: entries, chunk tails, window rings, compressor states. */
    public long bytes() {
        long b = 0;
        for (LayerCache l : layers) b += l.bytes();
        return b;
    }

    /** Bytes of each layer, by part (the MTP layer last, when the model has one). */
    public LayerCache.Bytes[] bytesByLayer() {
        LayerCache.Bytes[] b = new LayerCache.Bytes[layers.length];
        for (int i = 0; i < b.length; i++) b[i] = layers[i].bytesByPart();
        return b;
    }

    /**
     * Replaces the contents with a valid state after {@code tokens} tokens of random entries, without running
     * the model: every main layer's window ring holds its last positions, its compressed entries and indexer
     * keys number ⌊tokens/ratio⌋, and its compressor states have tokens mod ratio tokens pending. Entries are
     * random bytes of the cache's layout at moderate magnitude (|v| ≤ 6), so decoding from here runs the real
     * code over a real-sized cache. An MTP layer stays empty. Layers fill in parallel; the content depends
     * only on the seed.
     */
    public void fillSynthetic(long tokens, long seed) {
        if (tokens < 0) throw new IllegalArgumentException("negative token count " + tokens);
        SplittableRandom root = new SplittableRandom(seed);
        SplittableRandom[] rngs = new SplittableRandom[layers.length];
        for (int i = 0; i < rngs.length; i++) rngs[i] = root.split();
        IntStream.range(0, layers.length).parallel().forEach(i -> {
            if (i < spec.mainLayers()) layers[i].fillSynthetic(tokens, rngs[i]);
            else layers[i].clear();
        });
        length = tokens;
    }

    /** Writes the whole cache (every layer's window, entries and compressor state) to a snapshot stream. */
    public void write(java.io.DataOutputStream out) throws java.io.IOException {
        out.writeUTF(spec.layout().name());
        out.writeLong(length);
        out.writeInt(layers.length);
        for (LayerCache l : layers) l.write(out);
    }

    /** Replaces this cache's contents with a snapshot written by {@link #write} for the same model and layout. */
    public void read(java.io.DataInputStream in) throws java.io.IOException {
        String layout = in.readUTF();
        if (!layout.equals(spec.layout().name()))
            throw new java.io.IOException("snapshot stores KV as " + layout + ", this cache as " + spec.layout());
        long n = in.readLong();
        if (n < 0) throw new java.io.IOException("negative sequence length " + n);
        int count = in.readInt();
        if (count != layers.length) throw new java.io.IOException("snapshot has " + count + " layers, the model " + layers.length);
        for (LayerCache l : layers) l.read(in, n);
        length = n;
    }

    /** Makes this cache an exact copy of {@code other} (same model and layout), e.g. to fork a session at a prefix. */
    public void copyFrom(KvCache other) {
        if (other.layers.length != layers.length) throw new IllegalArgumentException("caches of different models");
        if (other.layout() != layout()) throw new IllegalArgumentException("caches of different layouts: " + other.layout() + " and " + layout());
        for (int i = 0; i < layers.length; i++) layers[i].copyFrom(other.layers[i]);
        length = other.length;
    }
}
