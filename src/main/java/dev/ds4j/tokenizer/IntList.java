package dev.ds4j.tokenizer;

import java.util.Arrays;

/** Growable int array; encoding appends hundreds of thousands of ids and boxing them would dominate. */
final class IntList {
    private int[] a;
    private int n;

    IntList(int capacity) { a = new int[Math.max(capacity, 8)]; }

    void add(int v) {
        if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
        a[n++] = v;
    }

    int size() { return n; }

    int[] toArray() { return Arrays.copyOf(a, n); }
}
