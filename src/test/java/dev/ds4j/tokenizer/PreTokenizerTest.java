package dev.ds4j.tokenizer;

import static dev.ds4j.tokenizer.TokenizerFixture.escape;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The hand-written pre-tokenizer against the regexes themselves (read from tokenizer.json and run by
 * java.util.regex), against splits worked out by hand, and the two BPE paths against each other.
 */
class PreTokenizerTest {
    static List<Pattern> patterns = new ArrayList<>();

    /**
     * UNICODE_CHARACTER_CLASS makes Java's \s the Unicode White_Space property, as in Oniguruma; \p{L} and
     * the other categories mean the general categories with or without it. Java's engine backtracks and
     * tries alternatives in order like Oniguruma, and works on code points when the string has surrogate pairs.
     */
    @BeforeAll
    static void readRegexes() throws Exception {
        JsonNode steps = new ObjectMapper().readTree(TokenizerFixture.tokenizerJson().toFile())
                .at("/pre_tokenizer/pretokenizers");
        for (int i = 0; i < 3; i++)
            patterns.add(Pattern.compile(steps.get(i).at("/pattern/Regex").asText(), Pattern.UNICODE_CHARACTER_CLASS));
    }

    /** Isolated splits with java.util.regex: matches and the gaps between them are pieces, applied in sequence. */
    static List<String> regexSplit(String s) {
        List<String> pieces = List.of(s);
        for (Pattern p : patterns) {
            List<String> next = new ArrayList<>();
            for (String piece : pieces) {
                Matcher m = p.matcher(piece);
                int last = 0;
                while (m.find()) {
                    if (m.start() > last) next.add(piece.substring(last, m.start()));
                    next.add(m.group());
                    last = m.end();
                }
                if (last < piece.length()) next.add(piece.substring(last));
            }
            pieces = next;
        }
        return pieces;
    }

    static List<String> scannerSplit(String s) {
        int[] cps = Utf8.codePoints(s, 0, s.length());
        List<String> pieces = new ArrayList<>();
        PreTokenizer.split(cps, 0, cps.length, (start, end) -> pieces.add(new String(cps, start, end - start)));
        return pieces;
    }

    @Test
    void matchesJavaRegexOnGeneratedStrings() {
        TextGenerator gen = new TextGenerator(8080L, TokenizerFixture.addedContents());
        for (int i = 0; i < 10_000; i++) {
            String s = TokenizerFixture.replaceLoneSurrogates(gen.next(true));
            List<String> expected = regexSplit(s), actual = scannerSplit(s);
            if (!expected.equals(actual))
                assertThat(actual.stream().map(TokenizerFixture::escape).toList()).as("pieces of %s", escape(s))
                        .isEqualTo(expected.stream().map(TokenizerFixture::escape).toList());
        }
    }

    /** Every BMP code point, each class of character next to each other class. */
    @Test
    void matchesJavaRegexOnCodePointPairs() {
        int[] samples = {'a', 'Z', 'é', '\u0301', '1', '٣', '²', '.', '!', '$', '+', ' ', '\t', '\n', '\r', '\u00a0',
                '\u3000', '\u2028', '\u0085', '\u001c', '\u000b', '\u200d', '的', 'ア', 'ー', '\uFFFD', 0x1F600, 0x10FFFF, 0};
        Random random = new Random(1);
        for (int c = 0; c < 0x10000; c++) {
            if (c >= 0xD800 && c <= 0xDFFF) continue;
            int a = samples[random.nextInt(samples.length)], b = samples[random.nextInt(samples.length)];
            String s = new StringBuilder().appendCodePoint(a).appendCodePoint(c).appendCodePoint(c).appendCodePoint(b).toString();
            assertThat(scannerSplit(s)).as("pieces of %s", escape(s)).isEqualTo(regexSplit(s));
        }
    }

    /** Splits derived by hand from the three regexes. */
    @Test
    void handWorkedSplits() {
        assertSplit("Hello world", "Hello", " world");
        assertSplit("a  b", "a", " ", " b");                    // \s+(?!\S) leaves the last space to the word
        assertSplit("end  ", "end", "  ");                      // ...but takes the whole run at the end
        assertSplit("x\n\n  y", "x", "\n\n", " ", " y");        // \s*[\r\n]+ stops after the last line break
        assertSplit("1234567", "123", "456", "7");              // \p{N}{1,3}
        assertSplit("abc123def", "abc", "123", "def");
        assertSplit("x²³", "x", "²³");                          // superscripts are numbers too
        assertSplit("你好world", "你好", "world");               // the CJK run is split off first
        assertSplit("한국어", "한국어");                          // Hangul is not in the CJK class: one letter run
        assertSplit(".Hello", ".Hello");                        // ASCII punctuation + ASCII letters
        assertSplit(".Héllo", ".H", "éllo");
        assertSplit(" ...\n\nx", " ...\n\n", "x");              // punctuation takes following line breaks
        assertSplit("a\u00a0b", "a", "\u00a0b");                // one non-letter may lead a word
        assertSplit("\nb", "\n", "b");                          // ...but not a line break
        assertSplit("👍🏽", "👍🏽");                             // emoji and skin tone are both symbols
        assertSplit("👨\u200d👩", "👨", "\u200d", "👩");          // ZWJ matches nothing: a gap of its own
        assertSplit("e\u0301\u0301", "e\u0301\u0301");          // marks continue a word
        assertSplit("\u0301x", "\u0301x");
        assertSplit("don't", "don", "'t");
    }

    private static void assertSplit(String s, String... pieces) {
        assertThat(scannerSplit(s)).as(escape(s)).containsExactly(pieces);
        assertThat(regexSplit(s)).as("regex on %s", escape(s)).containsExactly(pieces);
    }

    /** The quadratic path for short pieces and the heap and bucket paths for long ones must agree on any input. */
    @Test
    void bpePathsAgree() {
        Tokenizer tok = TokenizerFixture.tokenizer();
        Bpe bpe = tok.bpe();
        TextGenerator gen = new TextGenerator(77L, TokenizerFixture.addedContents());
        Random random = new Random(2);
        assertThat(bpe.ranksIncrease).as("DeepSeek's merge list allows the bucket path").isTrue();
        for (int i = 0; i < 5000; i++) {
            byte[] bytes;
            if (i % 50 == 0) {
                bytes = new byte[5000 + random.nextInt(5000)];
                for (int k = 0; k < bytes.length; k++) bytes[k] = (byte) ("aab e\u00e4".charAt(random.nextInt(6)));
            } else if (random.nextBoolean()) {
                bytes = TokenizerFixture.replaceLoneSurrogates(gen.next(false)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            } else {
                bytes = new byte[1 + random.nextInt(100)];
                for (int k = 0; k < bytes.length; k++) bytes[k] = (byte) (random.nextBoolean() ? 'a' + random.nextInt(4) : random.nextInt(256));
            }
            IntList a = new IntList(8), b = new IntList(8), c = new IntList(8);
            bpe.encodeLong(bytes, bytes.length, b);
            if (bytes.length <= 200) bpe.encodeShort(bytes, bytes.length, a);
            else a = b; // quadratic: only the two fast paths are compared on long inputs
            bpe.encodeBuckets(bytes, bytes.length, c);
            byte[] input = bytes;
            assertThat(b.toArray()).as(() -> "heap, bytes " + java.util.Arrays.toString(input)).isEqualTo(a.toArray());
            assertThat(c.toArray()).as(() -> "buckets, bytes " + java.util.Arrays.toString(input)).isEqualTo(a.toArray());
        }
    }
}
