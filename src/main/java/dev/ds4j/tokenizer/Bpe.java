package dev.ds4j.tokenizer;

import java.util.Arrays;

/**
 * Byte-level BPE over one pre-tokenised piece: start from one symbol per byte and repeatedly apply the
 * merge of lowest rank, the leftmost one on ties, until none applies (HF's order). Short pieces use a
 * quadratic scan that is fastest at their size; long ones a heap over a linked list of symbols, so that a
 * megabyte-long piece (a run of letters or CJK without spaces) is O(n log n).
 */
final class Bpe {
    /** Pieces up to this many bytes take the quadratic path. */
    static final int SHORT_PIECE = 64;

    private static final long EMPTY = -1L;

    private final int[] byteIds;
    // Open addressing: key (left << 32 | right), value (rank << 32 | merged id).
    private final long[] keys;
    private final long[] values;
    private final int mask;

    /**
     * @param byteIds vocabulary id of the single-byte symbol of each byte
     * @param lefts, rights, mergedIds merge of rank r: lefts[r] + rights[r] -> mergedIds[r]
     */
    Bpe(int[] byteIds, int[] lefts, int[] rights, int[] mergedIds) {
        this.byteIds = byteIds.clone();
        int cap = Integer.highestOneBit(Math.max(16, lefts.length * 2 + 1)) << 1;
        keys = new long[cap];
        values = new long[cap];
        mask = cap - 1;
        Arrays.fill(keys, EMPTY);
        for (int r = 0; r < lefts.length; r++) {
            long key = pairKey(lefts[r], rights[r]);
            int slot = slot(key);
            while (keys[slot] != EMPTY && keys[slot] != key) slot = (slot + 1) & mask;
            // A pair listed twice keeps its later rank, as in HF (its merge map is filled in file order).
            keys[slot] = key;
            values[slot] = (long) r << 32 | mergedIds[r];
        }
    }

    private static long pairKey(int left, int right) { return (long) left << 32 | right; }

    private int slot(long key) { return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask; }

    /** (rank << 32 | merged id) of the merge of left and right, or -1 when there is none. */
    long merge(int left, int right) {
        long key = pairKey(left, right);
        int slot = slot(key);
        while (true) {
            long k = keys[slot];
            if (k == key) return values[slot];
            if (k == EMPTY) return -1;
            slot = (slot + 1) & mask;
        }
    }

    /** Appends the ids of the piece bytes[0, len) to out. */
    void encode(byte[] bytes, int len, IntList out) {
        if (len <= SHORT_PIECE) encodeShort(bytes, len, out);
        else encodeLong(bytes, len, out);
    }

    void encodeShort(byte[] bytes, int len, IntList out) {
        int[] sym = new int[len];
        long[] pair = new long[len]; // pair[i]: merge of sym[i] and sym[i + 1]
        for (int i = 0; i < len; i++) sym[i] = byteIds[bytes[i] & 0xFF];
        for (int i = 0; i + 1 < len; i++) pair[i] = merge(sym[i], sym[i + 1]);
        int n = len;
        while (n > 1) {
            int best = -1;
            long bestRank = Long.MAX_VALUE;
            for (int i = 0; i + 1 < n; i++) {
                long m = pair[i];
                if (m >= 0 && (m >>> 32) < bestRank) {
                    bestRank = m >>> 32;
                    best = i;
                }
            }
            if (best < 0) break;
            sym[best] = (int) pair[best];
            System.arraycopy(sym, best + 2, sym, best + 1, n - best - 2);
            System.arraycopy(pair, best + 2, pair, best + 1, n - best - 2);
            n--;
            if (best > 0) pair[best - 1] = merge(sym[best - 1], sym[best]);
            if (best + 1 < n) pair[best] = merge(sym[best], sym[best + 1]);
        }
        for (int i = 0; i < n; i++) out.add(sym[i]);
    }

    void encodeLong(byte[] bytes, int len, IntList out) {
        int[] sym = new int[len];
        int[] prev = new int[len];
        int[] next = new int[len];
        for (int i = 0; i < len; i++) {
            sym[i] = byteIds[bytes[i] & 0xFF];
            prev[i] = i - 1;
            next[i] = i + 1 < len ? i + 1 : -1;
        }
        // Entries (rank << 32 | position of the left symbol): the smallest is the lowest rank, leftmost.
        // Entries go stale when a neighbour merges; they are recognised on pop and skipped.
        LongHeap heap = new LongHeap(len);
        for (int i = 0; i + 1 < len; i++) {
            long m = merge(sym[i], sym[i + 1]);
            if (m >= 0) heap.push(m >>> 32 << 32 | i);
        }
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int pos = (int) top, right = next[pos];
            if (sym[pos] < 0 || right < 0) continue;
            long m = merge(sym[pos], sym[right]);
            // Pairs only ever grow, so a pair at pos with the popped rank is the pair that was pushed.
            if (m < 0 || m >>> 32 != top >>> 32) continue;
            sym[pos] = (int) m;
            sym[right] = -1;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) prev[after] = pos;
            int before = prev[pos];
            if (before >= 0) {
                long mb = merge(sym[before], sym[pos]);
                if (mb >= 0) heap.push(mb >>> 32 << 32 | before);
            }
            if (after >= 0) {
                long ma = merge(sym[pos], sym[after]);
                if (ma >= 0) heap.push(ma >>> 32 << 32 | pos);
            }
        }
        for (int i = 0; i >= 0; i = next[i]) out.add(sym[i]);
    }

    /** Binary min-heap of longs. */
    private static final class LongHeap {
        private long[] a;
        private int n;

        LongHeap(int capacity) { a = new long[Math.max(capacity, 4)]; }

        boolean isEmpty() { return n == 0; }

        void push(long v) {
            if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
            int i = n++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (a[parent] <= v) break;
                a[i] = a[parent];
                i = parent;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0], v = a[--n];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= n) break;
                if (child + 1 < n && a[child + 1] < a[child]) child++;
                if (a[child] >= v) break;
                a[i] = a[child];
                i = child;
            }
            a[i] = v;
            return top;
        }
    }
}
