package dev.ds4j.model;

/** Optional hooks into a forward pass, for verification and debugging. Default methods do nothing. */
public interface Observer {
    Observer NONE = new Observer() {};

    /** The hc residual streams (hc·d floats at off) after layer {@code layer} for the token at {@code pos}; layer −1 is the embedding copied into every stream. */
    default void layerOutput(int layer, long pos, float[] streams, int off) {}

    /**
     * The indexer's choice for the query at {@code pos} in a CSA layer: picks[0..k) and the scores of all
     * {@code visible} entries.
     */
    default void indexPicks(int layer, long pos, int[] picks, int k, float[] scores, int visible) {}
}
