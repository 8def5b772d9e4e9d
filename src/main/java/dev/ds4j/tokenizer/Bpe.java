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
    /** Pieces from this many bytes take the bucket path when the merge list allows it. */
    static final int BUCKET_PIECE = 4096;

    private static final long EMPTY = -1L;

    private final int[] byteIds;
    // Open addressing, key (left << 32 | right) at 2 * slot and value (rank << 32 | merged id) beside it,
    // so that a lookup touches one cache line: on long pieces the lookups are mostly cache misses.
    private final long[] table;
    private final int mask;
    // By rank: left id, right id, merged id. Lets the heap path check a popped entry without a hash lookup.
    private final int[] byRank;
    /**
     * Whether every merge comes after all merges that create its two symbols, as in any trained merge list.
     * Then merging at rank r only creates pairs of higher rank, so ranks can be processed in increasing
     * order from buckets instead of a heap.
     */
    final boolean ranksIncrease;

    /**
     * @param byteIds vocabulary id of the single-byte symbol of each byte
     * @param lefts, rights, mergedIds merge of rank r: lefts[r] + rights[r] -> mergedIds[r]
     */
    Bpe(int[] byteIds, int[] lefts, int[] rights, int[] mergedIds) {
        this.byteIds = byteIds.clone();
        int cap = Integer.highestOneBit(Math.max(16, lefts.length * 2 + 1)) << 1;
        table = new long[2 * cap];
        mask = cap - 1;
        for (int i = 0; i < table.length; i += 2) table[i] = EMPTY;
        byRank = new int[lefts.length * 3];
        for (int r = 0; r < lefts.length; r++) {
            byRank[3 * r] = lefts[r];
            byRank[3 * r + 1] = rights[r];
            byRank[3 * r + 2] = mergedIds[r];
            long key = pairKey(lefts[r], rights[r]);
            int slot = slot(key);
            while (table[2 * slot] != EMPTY && table[2 * slot] != key) slot = (slot + 1) & mask;
            // A pair listed twice keeps its later rank, as in HF (its merge map is filled in file order).
            table[2 * slot] = key;
            table[2 * slot + 1] = (long) r << 32 | mergedIds[r];
        }
        int maxId = 0;
        for (int id : mergedIds) maxId = Math.max(maxId, id);
        int[] lastCreated = new int[maxId + 1]; // highest rank that creates each id, -1 for none
        Arrays.fill(lastCreated, -1);
        for (int r = 0; r < mergedIds.length; r++) lastCreated[mergedIds[r]] = r;
        boolean increase = true;
        for (int r = 0; r < lefts.length && increase; r++) {
            for (int part : new int[] {lefts[r], rights[r]})
                if (part <= maxId && lastCreated[part] >= r) increase = false;
        }
        ranksIncrease = increase;
    }

    private static long pairKey(int left, int right) { return (long) left << 32 | right; }

    private int slot(long key) { return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask; }

    /** (rank << 32 | merged id) of the merge of left and right, or -1 when there is none. */
    long merge(int left, int right) {
        long key = pairKey(left, right);
        int slot = slot(key);
        while (true) {
            long k = table[2 * slot];
            if (k == key) return table[2 * slot + 1];
            if (k == EMPTY) return -1;
            slot = (slot + 1) & mask;
        }
    }

    /** Appends the ids of the piece bytes[0, len) to out. */
    void encode(byte[] bytes, int len, IntList out) {
        if (len <= SHORT_PIECE) encodeShort(bytes, len, out);
        else if (len >= BUCKET_PIECE && ranksIncrease) encodeBuckets(bytes, len, out);
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
        long[] initial = new long[len];
        int count = 0;
        for (int i = 0; i + 1 < len; i++) {
            long m = merge(sym[i], sym[i + 1]);
            if (m >= 0) initial[count++] = m >>> 32 << 32 | i;
        }
        LongHeap heap = new LongHeap(initial, count);
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int pos = (int) top, right = next[pos], r = 3 * (int) (top >>> 32);
            // Pairs only ever grow, so if the symbols at pos and right are still those of the popped rank,
            // this is the pair that was pushed (and not merged since).
            if (right < 0 || sym[pos] != byRank[r] || sym[right] != byRank[r + 1]) continue;
            sym[pos] = byRank[r + 2];
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

    /**
     * The heap path's order without a heap, for merge lists whose ranks increase (see {@link #ranksIncrease}):
     * ranks are visited in increasing order, and the positions of a rank's pairs, all known by the time it
     * is visited, are merged left to right. A merge only adds pairs of higher ranks to their buckets.
     */
    void encodeBuckets(byte[] bytes, int len, IntList out) {
        int ranks = byRank.length / 3;
        int[] sym = new int[len];
        int[] prev = new int[len];
        int[] next = new int[len];
        int[] head = new int[ranks];
        Arrays.fill(head, -1);
        int[] entryPos = new int[2 * len], entryNext = new int[2 * len];
        int entries = 0;
        for (int i = 0; i < len; i++) {
            sym[i] = byteIds[bytes[i] & 0xFF];
            prev[i] = i - 1;
            next[i] = i + 1 < len ? i + 1 : -1;
        }
        for (int i = len - 2; i >= 0; i--) { // backwards, so that each bucket's list starts out in position order
            long m = merge(sym[i], sym[i + 1]);
            if (m < 0) continue;
            int rank = (int) (m >>> 32);
            entryPos[entries] = i;
            entryNext[entries] = head[rank];
            head[rank] = entries++;
        }
        int[] batch = new int[16];
        for (int rank = 0; rank < ranks; rank++) {
            if (head[rank] < 0) continue;
            int count = 0;
            boolean sorted = true;
            for (int e = head[rank]; e >= 0; e = entryNext[e]) {
                if (count == batch.length) batch = Arrays.copyOf(batch, count * 2);
                batch[count] = entryPos[e];
                if (count > 0 && batch[count] < batch[count - 1]) sorted = false;
                count++;
            }
            int left = byRank[3 * rank], right = byRank[3 * rank + 1], merged = byRank[3 * rank + 2];
            // Two pairs of one rank can only overlap when its symbols are equal ("a a" in "aaa"); otherwise
            // they are disjoint and the order in which they merge changes nothing.
            if (!sorted && left == right) Arrays.sort(batch, 0, count);
            for (int k = 0; k < count; k++) {
                int pos = batch[k], nx = next[pos];
                if (nx < 0 || sym[pos] != left || sym[nx] != right) continue;
                sym[pos] = merged;
                sym[nx] = -1;
                int after = next[nx];
                next[pos] = after;
                if (after >= 0) prev[after] = pos;
                int before = prev[pos];
                for (int side = 0; side < 2; side++) {
                    int at = side == 0 ? before : pos, to = side == 0 ? pos : after;
                    if (at < 0 || to < 0) continue;
                    long m = merge(sym[at], sym[to]);
                    if (m < 0) continue;
                    if (entries == entryPos.length) {
                        entryPos = Arrays.copyOf(entryPos, entries * 2);
                        entryNext = Arrays.copyOf(entryNext, entries * 2);
                    }
                    int r = (int) (m >>> 32);
                    entryPos[entries] = at;
                    entryNext[entries] = head[r];
                    head[r] = entries++;
                }
            }
            head[rank] = -1;
        }
        for (int i = 0; i >= 0; i = next[i]) out.add(sym[i]);
    }

    /** Binary min-heap of longs. */
    private static final class LongHeap {
        private long[] a;
        private int n;

        /** Takes over values[0, count) and orders them bottom-up, which is linear. */
        LongHeap(long[] values, int count) {
            a = values.length >= 4 ? values : Arrays.copyOf(values, 4);
            n = count;
            for (int i = n / 2 - 1; i >= 0; i--) siftDown(i, a[i]);
        }

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
            if (n > 0) siftDown(0, v);
            return top;
        }

        private void siftDown(int i, long v) {
            while (true) {
                int child = 2 * i + 1;
                if (child >= n) break;
                if (child + 1 < n && a[child + 1] < a[child]) child++;
                if (a[child] >= v) break;
                a[i] = a[child];
                i = child;
            }
            a[i] = v;
        }
    }
}
