package dev.ds4j.tokenizer;

import java.util.List;
import java.util.Random;

/**
 * Seeded generator of test strings that aim at the tokenizer's edges: every alternative of the
 * pre-tokenizer regexes and the boundaries between them, characters whose category decides a split,
 * multi-byte characters spanning several byte-level tokens, added-token literals and fragments of them,
 * and unpaired surrogates.
 */
final class TextGenerator {
    private static final String[] WORDS = {"the", "The", "hello", "world", "tokenizer", "DeepSeek", "don't",
            "it's", "I'm", "we'll", "naïve", "café", "Straße", "Ελληνικά", "русский", "日本語", "中文", "한국어",
            "العربية", "עברית", "हिन्दी", "ไทย", "x", "a", "I", "ok", "ABC", "camelCase", "snake_case",
            "HTTPServer", "iPhone", "e.g.", "U.S.A.", "ǅemal", "ﬁne", "Ⅻ"};
    private static final String[] CODE = {"for (int i = 0; i < n; i++) {", "}\n", "\treturn x;\n",
            "def f(x):\n    return x ** 2\n", "a->b", "x != y", "x!=y", "#include <stdio.h>", "/* c */",
            "// comment", "\"quoted\"", "'s", "$HOME", "@Override", "::", "...", "--flag", "a.b.c()", "[1, 2]",
            "{\"k\": \"v\"}", "<div class=\"x\">", "</div>", "<think>", "https://example.com/a?b=c&d=e",
            "    ", "\r\n", "!!!\n\n", "?!\r\n", "(*)", "\\n", "`code`", "~/x", "|>", "<|", "||", "^_^", "''"};
    private static final String[] SPECIAL_FRAGMENTS = {"<｜User｜>", "<｜Assistant｜>", "<｜DSML｜", "｜DSML｜",
            "</think>", "<think>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence",
            "end▁of▁sentence｜>", "<｜", "｜>", "｜", "▁", "<｜/table>｜DSML｜", "<<｜User｜>>", "<｜User｜<｜User｜>",
            "<|EOT|>", "<|place_holder_mm_span_0021|>", "<|place_holder_mm_span_9999|>", "<dsml:", "</dsml:x>",
            "<｜place▁holder▁no▁799｜>", "<｜place▁holder▁no▁800｜>", "<｜latest_reminder｜>", "<｜tool▁sep｜>",
            "</think", "<think", "think>", "<｜｜>", "<｜▁pad▁｜>"};
    private static final String[] SPACES = {" ", " ", " ", "\t", "\n", "\n", "\r\n", "\r", "\u00a0", "\u3000",
            "\u2028", "\u2029", "\u000b", "\u000c", "\u001c", "\u001d", "\u001e", "\u001f", "\u0085", "\u1680",
            "\u2000", "\u2007", "\u200a", "\u202f", "\u205f", "\u200b", "\u180e", "\ufeff"};
    private static final String[] EMOJI = {"😀", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🧑🏿‍🚀", "🏳️‍🌈", "🇺🇸", "🇯🇵", "1️⃣", "❤️",
            "☺", "✨", "🤖", "👩‍💻", "🫠", "🪿", "👋🏻", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "©", "™"};
    private static final int[][] LETTER_RANGES = {{'a', 'z'}, {'A', 'Z'}, {0xC0, 0x24F}, {0x370, 0x3FF},
            {0x400, 0x4FF}, {0x590, 0x5FF}, {0x600, 0x6FF}, {0x900, 0x97F}, {0xE00, 0xE7F}, {0x10A0, 0x10FF},
            {0x1E00, 0x1EFF}, {0xAC00, 0xD7A3}, {0x1100, 0x11FF}, {0x1D400, 0x1D7FF}};
    private static final int[][] CJK_RANGES = {{0x4E00, 0x9FA5}, {0x3040, 0x309F}, {0x30A0, 0x30FF},
            {0x9FA6, 0x9FFF}, {0x3400, 0x4DBF}, {0x3000, 0x303F}, {0xFF00, 0xFFEF}, {0x31F0, 0x31FF},
            {0x20000, 0x2A6DF}, {0xF900, 0xFAFF}, {0x2E80, 0x2FDF}};
    private static final int[][] DIGIT_RANGES = {{'0', '9'}, {'0', '9'}, {0x660, 0x669}, {0x6F0, 0x6F9},
            {0x966, 0x96F}, {0xFF10, 0xFF19}, {0x2070, 0x2079}, {0x2080, 0x2089}, {0xB2, 0xB3}, {0xB9, 0xB9},
            {0xBC, 0xBE}, {0x2150, 0x2189}, {0x2460, 0x249B}, {0x1D7CE, 0x1D7FF}, {0x3007, 0x3007},
            {0x3021, 0x3029}, {0x10107, 0x10133}};
    private static final int[][] MARK_RANGES = {{0x300, 0x36F}, {0x483, 0x489}, {0x591, 0x5BD}, {0x64B, 0x65F},
            {0x93A, 0x94F}, {0xE31, 0xE3A}, {0x1AB0, 0x1ACE}, {0x20D0, 0x20F0}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F},
            {0x3099, 0x309A}};
    private static final int[][] SYMBOL_RANGES = {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}, {0xA1, 0xBF},
            {0x2010, 0x205E}, {0x20A0, 0x20C0}, {0x2100, 0x214F}, {0x2190, 0x23FF}, {0x2500, 0x27BF},
            {0x2E00, 0x2E5D}, {0x3001, 0x3003}, {0x30FB, 0x30FC}, {0xFF01, 0xFF0F}, {0x1F300, 0x1FAFF}};

    private final Random random;
    private final List<String> addedContents;

    TextGenerator(long seed, List<String> addedContents) {
        this.random = new Random(seed);
        this.addedContents = addedContents;
    }

    /** A string of 1 to 12 segments; with allowAdded false it never contains an added-token literal on purpose. */
    String next(boolean allowAdded) {
        StringBuilder sb = new StringBuilder();
        int segments = 1 + random.nextInt(12);
        for (int s = 0; s < segments; s++) segment(sb, allowAdded);
        return sb.toString();
    }

    private void segment(StringBuilder sb, boolean allowAdded) {
        switch (random.nextInt(allowAdded ? 15 : 13)) {
            case 0 -> sb.append(pick(WORDS));
            case 1 -> { sb.append(' '); sb.append(pick(WORDS)); }
            case 2 -> sb.append(pick(CODE));
            case 3 -> repeat(sb, CJK_RANGES, 1 + random.nextInt(8));
            case 4 -> { for (int i = random.nextInt(3); i >= 0; i--) sb.append(pick(EMOJI)); }
            case 5 -> { // letters with stacked combining marks
                appendFrom(sb, LETTER_RANGES);
                for (int i = random.nextInt(4); i >= 0; i--) appendFrom(sb, MARK_RANGES);
            }
            case 6 -> repeat(sb, DIGIT_RANGES, 1 + random.nextInt(9));
            case 7 -> { for (int i = random.nextInt(6); i >= 0; i--) sb.append(pick(SPACES)); }
            case 8 -> { // any code point, assigned or not, from all planes
                int cp;
                do cp = random.nextInt(4) == 0 ? random.nextInt(0x10000) : random.nextInt(0x110000);
                while (cp >= 0xD800 && cp <= 0xDFFF);
                sb.appendCodePoint(cp);
            }
            case 9 -> repeat(sb, SYMBOL_RANGES, 1 + random.nextInt(4));
            case 10 -> repeat(sb, LETTER_RANGES, 1 + random.nextInt(10));
            case 11 -> sb.append(random.nextBoolean() ? "\ud800" : random.nextBoolean() ? "\udfff" : "\ude00\ud83d");
            case 12 -> { // a run of one character class, long enough to stress (?!\S) and the merge order
                String unit = pick(new String[] {" ", "a", "ab", "\n", "-", "=", "。", "的", "0", " \n"});
                sb.append(unit.repeat(2 + random.nextInt(20)));
            }
            case 13 -> sb.append(pick(SPECIAL_FRAGMENTS));
            default -> { // a real added token, whole or cut
                String t = addedContents.get(random.nextInt(addedContents.size()));
                int cut = random.nextInt(4);
                sb.append(cut == 0 ? t.substring(0, random.nextInt(t.length()))
                        : cut == 1 ? t.substring(random.nextInt(t.length())) : t);
            }
        }
    }

    private void repeat(StringBuilder sb, int[][] ranges, int count) {
        for (int i = 0; i < count; i++) appendFrom(sb, ranges);
    }

    private void appendFrom(StringBuilder sb, int[][] ranges) {
        int[] r = ranges[random.nextInt(ranges.length)];
        sb.appendCodePoint(r[0] + random.nextInt(r[1] - r[0] + 1));
    }

    private String pick(String[] options) { return options[random.nextInt(options.length)]; }
}
