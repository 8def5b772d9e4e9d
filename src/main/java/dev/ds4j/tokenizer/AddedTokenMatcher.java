package dev.ds4j.tokenizer;

import java.util.Map;
import java.util.TreeMap;

/**
 * Finds added-token contents in raw text, leftmost first and the longest among those starting at the same
 * place, never overlapping: the matching HF does with Aho-Corasick (MatchKind::LeftmostLongest). A trie over
 * UTF-16 units suffices because no content starts or ends inside a surrogate pair.
 */
final class AddedTokenMatcher {
    private static final class Node {
        char[] keys = new char[0];
        Node[] kids = new Node[0];
        int id = -1;

        Node child(char c) {
            int k = java.util.Arrays.binarySearch(keys, c);
            return k >= 0 ? kids[k] : null;
        }
    }

    private final Node root;

    /** @param tokens content -> id; contents must be non-empty */
    AddedTokenMatcher(Map<String, Integer> tokens) {
        root = build(new TreeMap<>(tokens), 0);
    }

    private static Node build(TreeMap<String, Integer> tokens, int depth) {
        Node node = new Node();
        TreeMap<Character, TreeMap<String, Integer>> byChar = new TreeMap<>();
        for (var e : tokens.entrySet()) {
            String s = e.getKey();
            if (s.length() == depth) node.id = e.getValue();
            else byChar.computeIfAbsent(s.charAt(depth), c -> new TreeMap<>()).put(s, e.getValue());
        }
        node.keys = new char[byChar.size()];
        node.kids = new Node[byChar.size()];
        int k = 0;
        for (var e : byChar.entrySet()) {
            node.keys[k] = e.getKey();
            node.kids[k++] = build(e.getValue(), depth + 1);
        }
        return node;
    }

    boolean isEmpty() { return root.keys.length == 0; }

    /**
     * The first match in s[from, to) as (start << 32 | end), its id in idOut[0]; or -1 when there is none.
     */
    long find(String s, int from, int to, int[] idOut) {
        for (int start = from; start < to; start++) {
            Node node = root;
            int bestEnd = -1;
            for (int i = start; i < to; i++) {
                node = node.child(s.charAt(i));
                if (node == null) break;
                if (node.id >= 0) {
                    bestEnd = i + 1;
                    idOut[0] = node.id;
                }
            }
            if (bestEnd >= 0) return (long) start << 32 | bestEnd;
        }
        return -1;
    }
}
