package dev.ds4j.tokenizer;

import java.util.Arrays;

/**
 * Remembers the ids of short pieces: ordinary text repeats the same few thousand words, and BPE on a word
 * costs far more than hashing it. Direct-mapped, so it never grows and a collision simply replaces the
 * older entry. Shared by all threads without locks: an {@link Entry} is immutable and only published
 * through its final fields, so a reader sees either a complete old entry or a complete new one.
 */
final class PieceCache {
    static final int MAX_BYTES = 32;
    private static final int SIZE = 1 << 16;

    private record Entry(byte[] key, int hash, int[] ids) {}

    private final Entry[] table = new Entry[SIZE];

    static int hash(byte[] b, int len) {
        int h = len;
        for (int i = 0; i < len; i++) h = h * 31 + b[i];
        return h ^ (h >>> 15);
    }

    /** The cached ids of bytes[0, len), or null. */
    int[] get(byte[] bytes, int len, int hash) {
        Entry e = table[hash & (SIZE - 1)];
        if (e == null || e.hash != hash || e.key.length != len
                || !Arrays.equals(e.key, 0, len, bytes, 0, len)) return null;
        return e.ids;
    }

    void put(byte[] bytes, int len, int hash, int[] ids) {
        table[hash & (SIZE - 1)] = new Entry(Arrays.copyOf(bytes, len), hash, ids);
    }
}
