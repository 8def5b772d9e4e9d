package dev.ds4j.tokenizer;

import static dev.ds4j.tokenizer.TokenizerFixture.describe;
import static dev.ds4j.tokenizer.TokenizerFixture.escape;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

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
        String longText = "hello world ".repeat(5000);
        assertThat(oracle(longText)).hasSize(10_000);
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

    static String report(String s, int[] expected, int[] actual) {
        return "input " + escape(s) + "\n  HF:   " + describe(tok, expected) + "\n  ours: " + describe(tok, actual);
    }
}
