package dev.ds4j.kv;

/**
 * How a cache stores its entries, chosen once when the cache is created. Every {@code kv} class reads and
 * writes through the same API whatever the layout; only the bytes behind it differ.
 */
public enum KvLayout {
    /**
     * Every value as an fp32 (4 bytes). Exact for any numerics; what plain numerics use, since their values
     * lie on no grid.
     */
    FP32,
    /**
     * The production layout (ARCHITECTURE §8.2): attention entries (window and compressed) as E4M3 nope dims
     * with one E8M0 scale per 64 + BF16 rope dims (584 bytes at V4's 448 + 64), indexer keys as packed E2M1
     * with one E8M0 scale per 32 (68 bytes at 128 dims). Lossless for the values official numerics put into
     * the cache, which already lie on those grids; a value that does not is refused, never rounded.
     */
    COMPACT;

    /** The layout a numerics mode stores without loss: compact for official numerics, fp32 for plain. */
    public static KvLayout forNumerics(boolean official) { return official ? COMPACT : FP32; }
}
