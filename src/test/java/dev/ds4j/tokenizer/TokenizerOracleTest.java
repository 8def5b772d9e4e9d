package dev.ds4j.tokenizer;

import static dev.ds4j.tokenizer.TokenizerFixture.describe;
import static dev.ds4j.tokenizer.TokenizerFixture.escape;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares the tokenizer with HF tokenizers (the Rust library, through DJL) on generated strings.
 *
 * <p>Unpaired surrogates: DJL hands Java strings to Rust as JNI "modified UTF-8" and, when that is not
 * valid UTF-8, converts the whole string lossily: each lone surrogate becomes three U+FFFD and every
 * correctly paired supplementary character in the same string becomes six. That is an artefact of the
 * binding, not HF behaviour (Python cannot even pass such a string). The oracle is therefore given the
 * string with our documented policy applied (one U+FFFD per unpaired surrogate), which tests everything
 * after that replacement; the replacement itself is checked in {@link TokenizerTest}.
 */
class TokenizerOracleTest {
    static final int STRINGS = 12_000;

    static Tokenizer tok;
    static HuggingFaceTokenizer hf;
    static List<String> added;

    @BeforeAll
    static void load() throws Exception {
        tok = TokenizerFixture.tokenizer();
        hf = HuggingFaceTokenizer.newInstance(TokenizerFixture.tokenizerJson(),
                Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        added = TokenizerFixture.addedContents();
    }

    @AfterAll
    static void close() {
        if (hf != null) hf.close();
    }

    static int[] oracle(String s) {
        long[] ids = hf.encode(TokenizerFixture.replaceLoneSurrogates(s), false, false).getIds();
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    @Test
    void oracleIsNotTruncating() {
        // DJL truncates to 512 ids unless told not to; a silently truncated oracle would compare prefixes only.
        assertThat(oracle("hello world ".repeat(5000)).length).isGreaterThan(10_000);
    }

    /**
     * Every code point, in a context where each class the regexes distinguish (L, M, N, P, S, White_Space,
     * CR/LF, the CJK ranges, anything else) gives a different split: " XXa\n" is one piece for a letter or
     * mark, " ", "XX", "a" for a number, " XX", "a" for punctuation or a symbol, " X", "Xa" for whitespace
     * and " ", "X", "Xa" for the rest. This is where Java's Unicode tables (Unicode 16.0 in JDK 25) could
     * disagree with those compiled into HF's Oniguruma; they agree on every code point with this oracle
     * (a one-off run with four more contexts agreed as well). Chunks of 512 code points keep the calls few.
     */
    @Test
    void everyCodePointIsClassifiedLikeHf() {
        List<String> mismatches = new ArrayList<>();
        for (int base = 0; base < 0x110000; base += 512) {
            StringBuilder sb = new StringBuilder();
            for (int c = base; c < base + 512; c++) {
                if (c >= 0xD800 && c <= 0xDFFF) continue;
                sb.append(' ').appendCodePoint(c).appendCodePoint(c).append("a\n");
            }
            String s = sb.toString();
            int[] expected = oracle(s), actual = tok.encodeText(s);
            if (!Arrays.equals(expected, actual)) mismatches.add(firstMismatchingCodePoint(base));
        }
        assertThat(mismatches).as("chunks of 512 code points that differ").isEmpty();
    }

    private static String firstMismatchingCodePoint(int base) {
        for (int c = base; c < base + 512; c++) {
            if (c >= 0xD800 && c <= 0xDFFF) continue;
            String s = " " + Character.toString(c).repeat(2) + "a\n";
            int[] expected = oracle(s), actual = tok.encodeText(s);
            if (!Arrays.equals(expected, actual))
                return String.format("U+%04X (Java type %d): %s", c, Character.getType(c), report(s, expected, actual));
        }
        return String.format("chunk at U+%04X differs only in context", base);
    }

    /** Random id sequences, byte-level tokens included, so that decoded bytes are often invalid UTF-8. */
    @Test
    void decodeMatchesHf() {
        java.util.Random random = new java.util.Random(7);
        int compared = 0;
        for (int i = 0; i < 5000; i++) {
            int[] ids = new int[1 + random.nextInt(12)];
            for (int k = 0; k < ids.length; k++) {
                ids[k] = switch (random.nextInt(4)) {
                    case 0 -> random.nextInt(tok.vocabSize());
                    case 1 -> 128_000 + random.nextInt(tok.vocabSize() - 128_000);
                    default -> random.nextInt(512); // single bytes and short tokens: broken sequences
                };
            }
            String expected = hf.decode(Arrays.stream(ids).asLongStream().toArray(), false);
            String actual = tok.decode(ids);
            compared++;
            if (!expected.equals(actual))
                assertThat(escape(actual)).as("decode %s", Arrays.toString(ids)).isEqualTo(escape(expected));
        }
        assertThat(compared).isEqualTo(5000);
    }

    /**
     * Single pieces far longer than any in the generated strings take the heap path of the BPE. Letters
     * without spaces, one CJK run, a run of spaces, and repeated pairs whose merges overlap.
     */
    @Test
    void longPiecesMatchHf() {
        java.util.Random random = new java.util.Random(11);
        StringBuilder letters = new StringBuilder(), cjk = new StringBuilder();
        for (int i = 0; i < 100_000; i++) letters.append((char) ('a' + random.nextInt(26)));
        for (int i = 0; i < 30_000; i++) cjk.appendCodePoint(0x4E00 + random.nextInt(0x9FA5 - 0x4E00 + 1));
        for (String s : new String[] {letters.toString(), cjk.toString(), " ".repeat(50_000) + "x",
                "ab".repeat(40_000), "的".repeat(30_000), "ー".repeat(20_000), "\u00e9".repeat(30_000)}) {
            int[] expected = oracle(s), actual = tok.encodeText(s);
            if (!Arrays.equals(expected, actual))
                assertThat(actual).as("long piece starting %s (%d chars)", escape(s.substring(0, 20)), s.length())
                        .containsExactly(expected);
        }
    }

    @Test
    void encodeWithAddedTokensMatchesHf() {
        TextGenerator gen = new TextGenerator(20260101L, added);
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (int i = 0; i < STRINGS; i++) {
            String s = gen.next(true);
            compared++;
            int[] expected = oracle(s), actual = tok.encodeWithAddedTokens(s);
            if (!Arrays.equals(expected, actual)) mismatches.add(report(s, expected, actual));
        }
        System.out.println("encodeWithAddedTokens vs HF: " + compared + " strings, " + mismatches.size() + " mismatches");
        assertThat(mismatches).as("%d strings compared; first mismatch:%n%s", compared,
                mismatches.isEmpty() ? "" : mismatches.get(0)).isEmpty();
    }

    @Test
    void encodeTextMatchesHfWithoutAddedLiterals() {
        TextGenerator gen = new TextGenerator(20260202L, added);
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (int i = 0; i < STRINGS; i++) {
            String s = gen.next(false);
            if (added.stream().anyMatch(s::contains)) continue;
            compared++;
            int[] expected = oracle(s), actual = tok.encodeText(s);
            if (!Arrays.equals(expected, actual)) mismatches.add(report(s, expected, actual));
        }
        System.out.println("encodeText vs HF: " + compared + " strings, " + mismatches.size() + " mismatches");
        assertThat(compared).isGreaterThan(STRINGS * 9 / 10);
        assertThat(mismatches).as("%d strings compared; first mismatch:%n%s", compared,
                mismatches.isEmpty() ? "" : mismatches.get(0)).isEmpty();
    }

    /**
     * HF matches added tokens with "normalized": false first and the others in what is left, so of two
     * overlapping tokens the non-normalised one wins even when the other starts earlier or is longer. The
     * real vocabulary has no such overlaps; a small one does.
     */
    @Test
    void addedTokenPassesMatchHfOnOverlaps(@TempDir Path dir) throws Exception {
        TinyTokenizerJson j = new TinyTokenizerJson();
        j.merge("a", "b");
        j.addToken("<c>", false);
        j.addToken("ab<", true);
        j.addToken("x<c>y", true);
        j.addToken("de", false);
        j.addToken("def", true);
        Path file = j.write(dir);
        Tokenizer tiny = Tokenizer.load(file);
        try (var tinyHf = HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "false", "truncation", "false"))) {
            for (String s : new String[] {"ab<c>", "x<c>y", "def", "zdefab<c>x<c>yab<", "ab<<c>", "xab<c", "<c>def", "abdef"}) {
                int[] expected = Arrays.stream(tinyHf.encode(s, false, false).getIds()).mapToInt(Math::toIntExact).toArray();
                assertThat(tiny.encodeWithAddedTokens(s)).as(escape(s)).containsExactly(expected);
            }
        }
    }

    static String report(String s, int[] expected, int[] actual) {
        return "input " + escape(s) + "\n  HF:   " + describe(tok, expected) + "\n  ours: " + describe(tok, actual);
    }
}
