package dev.ds4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading: the real file's shape, and a clear error naming the file and JSON path for each way a
 * tokenizer.json can be malformed or ask for something this tokenizer does not implement. Also the BPE
 * merge order on vocabularies small enough to work out by hand.
 */
class TokenizerLoaderTest {
    @TempDir
    Path dir;

    @Test
    void realFileHasTheDocumentedShape() {
        Tokenizer tok = TokenizerFixture.tokenizer();
        assertThat(tok.vocabSize()).isEqualTo(129_280);
        assertThat(tok.tokenContent(128_803)).isEqualTo("<｜User｜>");
        assertThat(tok.tokenContent(0)).isEqualTo("<｜begin▁of▁sentence｜>");
        assertThat(tok.source()).isEqualTo(TokenizerFixture.tokenizerJson());
    }

    @Test
    void loadsTheRealFileQuickly() throws Exception {
        Tokenizer.load(TokenizerFixture.tokenizerJson()); // warm-up: class loading and JIT
        long t0 = System.nanoTime();
        Tokenizer.load(TokenizerFixture.tokenizerJson());
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("tokenizer.json load: %.3f s%n", seconds);
        assertThat(seconds).as("sanity bound only; the target is well under a second").isLessThan(10);
    }

    // Merges worked out by hand: the lowest rank applies first wherever it is, and equal ranks go left first.

    @Test
    void mergesApplyByRankNotPosition() throws Exception {
        TinyTokenizerJson j = new TinyTokenizerJson();
        int bc = j.merge("b", "c");
        int ab = j.merge("a", "b");
        Tokenizer tok = Tokenizer.load(j.write(dir));
        assertThat(tok.encodeText("abc")).containsExactly('a', bc);
        assertThat(tok.encodeText("ab")).containsExactly(ab);
    }

    @Test
    void equalRanksMergeLeftmostFirst() throws Exception {
        TinyTokenizerJson j = new TinyTokenizerJson();
        int aa = j.merge("a", "a");
        Tokenizer tok = Tokenizer.load(j.write(dir));
        assertThat(tok.encodeText("aaa")).containsExactly(aa, 'a');
        assertThat(tok.encodeText("aaaaa")).containsExactly(aa, aa, 'a');
        // The same on the heap path, which only pieces longer than Bpe.SHORT_PIECE take.
        int[] expected = new int[101];
        java.util.Arrays.fill(expected, 0, 100, aa);
        expected[100] = 'a';
        assertThat(tok.encodeText("a".repeat(201))).containsExactly(expected);
        // And on the bucket path, which only pieces of Bpe.BUCKET_PIECE bytes or more take.
        assertThat(tok.encodeText("a".repeat(10_001))).startsWith(aa, aa).endsWith(aa, 'a').hasSize(5001);
    }

    /**
     * A merge listed before the merge that creates one of its symbols: "ab c" can only apply after "a b",
     * although its rank is lower. Processing ranks in increasing order would miss it; such a list must take
     * the heap, which re-examines every new pair.
     */
    @Test
    void mergeListedBeforeItsSymbolIsCreated() throws Exception {
        TinyTokenizerJson j = new TinyTokenizerJson();
        var vocab = (ObjectNode) j.model().get("vocab");
        vocab.put("ab", 256);
        vocab.put("abc", 257);
        j.model().putArray("merges").add("ab c").add("a b");
        Tokenizer tok = Tokenizer.load(j.write(dir));
        assertThat(tok.encodeText("abc")).containsExactly(257);
        assertThat(tok.encodeText("abc".repeat(3000))).containsOnly(257).hasSize(3000);
    }

    @Test
    void laterMergesBuildOnEarlierOnes() throws Exception {
        TinyTokenizerJson j = new TinyTokenizerJson();
        int ab = j.merge("a", "b");
        int abab = j.merge("ab", "ab");
        int ba = j.merge("b", "a");
        Tokenizer tok = Tokenizer.load(j.write(dir));
        // "ababa": (a b) at 0 and 2 first (rank 0, left first), then (ab ab), leaving "a"; (b a) never gets a chance.
        assertThat(tok.encodeText("ababa")).containsExactly(abab, 'a');
        assertThat(tok.encodeText("ba")).containsExactly(ba);
        assertThat(tok.encodeText("abab".repeat(40))).containsOnly(abab).hasSize(40);
        assertThat(tok.tokenContent(ab)).isEqualTo("ab");
    }

    @Test
    void mergesMayBeWrittenAsPairs() throws Exception {
        TinyTokenizerJson j = new TinyTokenizerJson();
        int ab = j.merge("a", "b");
        var merges = j.model().putArray("merges");
        merges.addArray().add("a").add("b");
        Tokenizer tok = Tokenizer.load(j.write(dir));
        assertThat(tok.encodeText("ab")).containsExactly(ab);
    }

    // Refusals.

    private void assertRefused(Consumer<TinyTokenizerJson> breakIt, String... messageParts) throws Exception {
        TinyTokenizerJson j = new TinyTokenizerJson();
        j.merge("a", "b");
        j.addToken("<x>", false);
        breakIt.accept(j);
        Path file = j.write(dir);
        assertThatThrownBy(() -> Tokenizer.load(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContainingAll(messageParts);
    }

    @Test
    void missingModel() throws Exception {
        assertRefused(j -> j.root.remove("model"), "model: missing");
    }

    @Test
    void missingVocab() throws Exception {
        assertRefused(j -> j.model().remove("vocab"), "model.vocab: missing");
    }

    @Test
    void missingMerges() throws Exception {
        assertRefused(j -> j.model().remove("merges"), "model.merges: missing");
    }

    @Test
    void otherModelType() throws Exception {
        assertRefused(j -> j.model().put("type", "WordPiece"), "model.type", "\"BPE\"", "WordPiece");
    }

    @Test
    void byteFallback() throws Exception {
        assertRefused(j -> j.model().put("byte_fallback", true), "model.byte_fallback");
    }

    @Test
    void dropout() throws Exception {
        assertRefused(j -> j.model().put("dropout", 0.1), "model.dropout");
    }

    @Test
    void mergeOfUnknownSymbol() throws Exception {
        assertRefused(j -> j.model().withArray("merges").add("a zz"), "model.merges[1]", "\"zz\" is not in model.vocab");
    }

    @Test
    void mergeWithUnknownResult() throws Exception {
        assertRefused(j -> j.model().withArray("merges").add("b c"), "model.merges[1]", "\"bc\" is not in model.vocab");
    }

    @Test
    void mergeWithoutSeparator() throws Exception {
        assertRefused(j -> j.model().withArray("merges").add("abc"), "model.merges[1]", "two symbols");
    }

    @Test
    void vocabWithoutAllBytes() throws Exception {
        assertRefused(j -> ((ObjectNode) j.model().get("vocab")).remove("Ġ"), "model.vocab", "byte 0x20");
    }

    @Test
    void otherSplitRegex() throws Exception {
        assertRefused(j -> ((ObjectNode) j.root.at("/pre_tokenizer/pretokenizers/2/pattern")).put("Regex", "\\s+"),
                "pre_tokenizer.pretokenizers[2].pattern.Regex", "unsupported");
    }

    @Test
    void otherSplitBehaviour() throws Exception {
        assertRefused(j -> ((ObjectNode) j.root.at("/pre_tokenizer/pretokenizers/0")).put("behavior", "Removed"),
                "pre_tokenizer.pretokenizers[0].behavior", "Isolated");
    }

    @Test
    void otherPreTokenizer() throws Exception {
        assertRefused(j -> j.root.putObject("pre_tokenizer").put("type", "Whitespace"), "pre_tokenizer.type", "Sequence");
    }

    @Test
    void missingPreTokenizer() throws Exception {
        assertRefused(j -> j.root.remove("pre_tokenizer"), "pre_tokenizer: missing");
    }

    @Test
    void byteLevelWithPrefixSpace() throws Exception {
        assertRefused(j -> ((ObjectNode) j.root.at("/pre_tokenizer/pretokenizers/3")).put("add_prefix_space", true),
                "pre_tokenizer.pretokenizers[3].add_prefix_space");
    }

    @Test
    void realNormalizer() throws Exception {
        assertRefused(j -> j.root.putObject("normalizer").put("type", "NFC"), "normalizer", "NFC");
    }

    @Test
    void otherDecoder() throws Exception {
        assertRefused(j -> j.root.putObject("decoder").put("type", "WordPiece"), "decoder.type");
    }

    @Test
    void addedTokenWithStrip() throws Exception {
        assertRefused(j -> ((ObjectNode) j.root.at("/added_tokens/0")).put("lstrip", true), "added_tokens[0].lstrip");
    }

    @Test
    void addedTokenWithoutContent() throws Exception {
        assertRefused(j -> ((ObjectNode) j.root.at("/added_tokens/0")).remove("content"), "added_tokens[0].content");
    }

    @Test
    void addedTokenWithIdHfWouldNotGive() throws Exception {
        assertRefused(j -> ((ObjectNode) j.root.at("/added_tokens/0")).put("id", 500), "added_tokens[0].id", "500", "257");
    }

    @Test
    void notJson() throws Exception {
        Path file = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"a\": 1,,}}}");
        assertThatThrownBy(() -> Tokenizer.load(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(file + ": not valid JSON");
    }

    @Test
    void missingFile() {
        assertThatThrownBy(() -> Tokenizer.load(dir.resolve("nope.json"))).isInstanceOf(NoSuchFileException.class);
    }
}
