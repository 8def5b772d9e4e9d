package dev.ds4j.kv;

/**
 * Everything one attention layer remembers about the sequence: the sliding window ring, and for compressed
 * layers the compressed entries with their compressor's streaming state; CSA layers also keep the
 * indexer's keys and its compressor state. Entries are stored in the cache's {@link KvLayout}; compressor
 * state is fp32 in every layout (the official state is fp32 too).
 */
public final class LayerCache {
    public final int ratio;
    public final SlidingWindowCache window;
    public final CompressedCache compressed;      // null for sliding-only layers
    public final CompressorState compressor;      // null for sliding-only layers
    public final CompressedCache indexKeys;       // CSA only
    public final CompressorState indexCompressor; // CSA only

    /**
     * Memory of one layer's cache, by part: the window ring, the compressed entries held, the indexer keys
     * held, the compressor states, and the allocated but unused tail of the entry chunks.
     */
    public record Bytes(long window, long entries, long indexKeys, long state, long slack) {
        /** KV entry bytes only (what ARCHITECTURE §8.3's formula counts). */
        public long kv() { return window + entries + indexKeys; }
        /** Everything allocated. */
        public long total() { return window + entries + indexKeys + state + slack; }

        public Bytes plus(Bytes o) {
            return new Bytes(window + o.window, entries + o.entries, indexKeys + o.indexKeys, state + o.state, slack + o.slack);
        }

        public static final Bytes ZERO = new Bytes(0, 0, 0, 0, 0);
    }

    public LayerCache(int ratio, int window, int headDim, int ropeDim, int indexDim, KvLayout layout) {
        this.ratio = ratio;
        this.window = new SlidingWindowCache(window, entryFormat(layout, headDim, ropeDim));
        boolean compressedLayer = ratio > 0, csa = ratio == 4;
        this.compressed = compressedLayer ? new CompressedCache(entryFormat(layout, headDim, ropeDim)) : null;
        this.compressor = compressedLayer ? new CompressorState(ratio, headDim, csa) : null;
        this.indexKeys = csa ? new CompressedCache(indexFormat(layout, indexDim)) : null;
        this.indexCompressor = csa ? new CompressorState(ratio, indexDim, true) : null;
    }

    static EntryFormat entryFormat(KvLayout layout, int headDim, int ropeDim) {
        return layout == KvLayout.COMPACT ? new EntryFormat.Fp8Rope(headDim, ropeDim) : new EntryFormat.F32(headDim);
    }

    static EntryFormat indexFormat(KvLayout layout, int indexDim) {
        return layout == KvLayout.COMPACT ? new EntryFormat.Fp4(indexDim) : new EntryFormat.F32(indexDim);
    }

    /** Bytes of one window or compressed entry in a layout (584 for V4's 512 dims, 64 of them rope, compact). */
    public static int entryBytes(KvLayout layout, int headDim, int ropeDim) {
        return layout == KvLayout.COMPACT ? EntryFormat.Fp8Rope.size(headDim, ropeDim) : 4 * headDim;
    }

    /** Bytes of one indexer key in a layout (68 for 128 dims, compact). */
    public static int indexKeyBytes(KvLayout layout, int indexDim) {
        return layout == KvLayout.COMPACT ? EntryFormat.Fp4.size(indexDim) : 4 * indexDim;
    }

    /** What a layer of this shape holds after {@code length} tokens, computed by the rules the stores follow. */
    static Bytes bytesAt(int ratio, int window, int headDim, int ropeDim, int indexDim, KvLayout layout, long length) {
        long e = entryBytes(layout, headDim, ropeDim), ei = indexKeyBytes(layout, indexDim);
        long win = window * e, entries = 0, keys = 0, state = 0, slack = 0;
        if (ratio > 0) {
            long n = length / ratio;
            entries = n * e;
            slack += (EntryStore.allocatedFor(n) - n) * e;
            state += CompressorState.bytes(ratio, headDim, ratio == 4);
            if (ratio == 4) {
                keys = n * ei;
                slack += (EntryStore.allocatedFor(n) - n) * ei;
                state += CompressorState.bytes(ratio, indexDim, true);
            }
        }
        return new Bytes(win, entries, keys, state, slack);
    }

    public Bytes bytesByPart() {
        long entries = 0, keys = 0, state = 0, slack = 0;
        if (compressed != null) {
            entries = compressed.usedBytes();
            slack += compressed.bytes() - entries;
            state += compressor.bytes();
        }
        if (indexKeys != null) {
            keys = indexKeys.usedBytes();
            slack += indexKeys.bytes() - keys;
            state += indexCompressor.bytes();
        }
        return new Bytes(window.bytes(), entries, keys, state, slack);
    }

    /** Bytes allocated for this layer (entries, unused chunk tail, window ring, compressor state). */
    public long bytes() { return bytesByPart().total(); }

    void write(java.io.DataOutputStream out) throws java.io.IOException {
        window.write(out);
        if (compressed != null) {
            compressed.write(out);
            compressor.write(out);
        }
        if (indexKeys != null) {
            indexKeys.write(out);
            indexCompressor.write(out);
        }
    }

    /** Reads what {@link #write} wrote for a sequence of {@code length} tokens, checking entry counts against it. */
    void read(java.io.DataInputStream in, long length) throws java.io.IOException {
        window.read(in);
        if (compressed != null) {
            compressed.read(in, length / ratio);
            compressor.read(in);
            if (compressor.nextPosition() > length || compressed.count() != compressor.entries)
                throw new java.io.IOException("compressor state does not match a sequence of " + length + " tokens");
        }
        if (indexKeys != null) {
            indexKeys.read(in, length / ratio);
            indexCompressor.read(in);
            if (indexCompressor.nextPosition() > length || indexKeys.count() != indexCompressor.entries)
                throw new java.io.IOException("indexer state does not match a sequence of " + length + " tokens");
        }
    }

    void copyFrom(LayerCache o) {
        window.copyFrom(o.window);
        if (compressed != null) {
            compressed.copyFrom(o.compressed);
            compressor.copyFrom(o.compressor);
        }
        if (indexKeys != null) {
            indexKeys.copyFrom(o.indexKeys);
            indexCompressor.copyFrom(o.indexCompressor);
        }
    }

    /** Empty, as at sequence start. */
    void clear() {
        window.clear();
        if (compressed != null) {
            compressed.clear();
            compressor.reset();
        }
        if (indexKeys != null) {
            indexKeys.clear();
            indexCompressor.reset();
        }
    }

    /** A valid state after {@code length} tokens of random content (see {@link KvCache#fillSynthetic}). */
    void fillSynthetic(long length, java.util.SplittableRandom rng) {
        window.fillSynthetic(length, rng);
        if (compressed != null) {
            compressed.fillSynthetic(Math.toIntExact(length / ratio), rng);
            compressor.fillSynthetic(length, rng);
        }
        if (indexKeys != null) {
            indexKeys.fillSynthetic(Math.toIntExact(length / ratio), rng);
            indexCompressor.fillSynthetic(length, rng);
        }
    }
}
