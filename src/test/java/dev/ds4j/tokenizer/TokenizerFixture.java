package dev.ds4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ds4j.TestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** The shared tokenizer data, loaded once per test JVM, and helpers for readable failure messages. */
final class TokenizerFixture {
    private TokenizerFixture() {}

    static Path dataDir() { return TestData.shared().resolve("data/deepseek-v4"); }

    static Path tokenizerJson() { return dataDir().resolve("tokenizer.json"); }

    private static Tokenizer tokenizer;

    static synchronized Tokenizer tokenizer() {
        if (tokenizer == null) {
            try {
                tokenizer = Tokenizer.load(tokenizerJson());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tokenizer;
    }

    /** Added-token contents from added-tokens-v4.json, a listing independent of tokenizer.json's parsing. */
    static List<String> addedContents() {
        try {
            JsonNode list = new ObjectMapper().readTree(dataDir().resolve("added-tokens-v4.json").toFile());
            List<String> out = new ArrayList<>();
            list.forEach(t -> out.add(t.get("content").asText()));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The tokenizer's lone-surrogate policy written out independently: each unpaired surrogate becomes U+FFFD. */
    static String replaceLoneSurrogates(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else {
                sb.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return sb.toString();
    }

    static boolean hasLoneSurrogate(String s) { return !replaceLoneSurrogates(s).equals(s); }

    /** Java-escaped form of s: printable ASCII as is, everything else as \\uXXXX. */
    static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c >= 0x20 && c < 0x7F) b.append(c);
            else b.append(String.format("\\u%04x", (int) c));
        }
        return b.append('"').toString();
    }

    static String describe(Tokenizer tok, int[] ids) {
        return Arrays.toString(ids) + " " + Arrays.stream(ids)
                .mapToObj(id -> id >= 0 && id < tok.vocabSize() ? tok.tokenContent(id) : "?")
                .collect(Collectors.joining("|", "[", "]"));
    }
}
