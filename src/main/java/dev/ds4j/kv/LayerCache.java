package dev.ds4j.kv;

/**
 * Everything one attention layer remembers about the sequence: the sliding window ring, and for compressed
 * layers the compressed entries with their compressor's streaming state; CSA layers also keep the
 * indexer's keys and its compressor state.
 */
public final class LayerCache {
    public final int ratio;
    public final SlidingWindowCache window;
    public final CompressedCache compressed;      // null for sliding-only layers
    public final CompressorState compressor;      // null for sliding-only layers
    public final CompressedCache indexKeys;       // CSA only
    public final CompressorState indexCompressor; // CSA only

    public LayerCache(int ratio, int window, int headDim, int indexDim) {
        this.ratio = ratio;
        this.window = new SlidingWindowCache(window, headDim);
        boolean compressedLayer = ratio > 0, csa = ratio == 4;
        this.compressed = compressedLayer ? new CompressedCache(headDim) : null;
        this.compressor = compressedLayer ? new CompressorState(ratio, headDim, csa) : null;
        this.indexKeys = csa ? new CompressedCache(indexDim) : null;
        this.indexCompressor = csa ? new CompressorState(ratio, indexDim, true) : null;
    }

    public long bytes() {
        long b = window.bytes();
        if (compressed != null) b += compressed.bytes() + compressor.bytes();
        if (indexKeys != null) b += indexKeys.bytes() + indexCompressor.bytes();
        return b;
    }

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
}
