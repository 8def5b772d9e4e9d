package dev.ds4j.tokenizer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads tokenizer.json. The vocabulary and merges (most of the 6 MB) are streamed; the small configuration
 * objects are read as trees so that every refusal can name its JSON path.
 */
final class TokenizerLoader {
    // The 128,000 vocabulary entries are field names; interning them in Jackson's symbol table made parsing
    // six times slower and gains nothing, since each occurs once.
    private static final ObjectMapper JSON = new ObjectMapper(
            JsonFactory.builder().disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build());

    private final Path file;
    private Map<String, Integer> vocab;
    private String[] vocabById;
    private int vocabSize;
    private List<String[]> merges;
    private JsonNode modelConfig; // the model's fields other than vocab and merges
    private JsonNode addedTokens, preTokenizer, normalizer, decoder;
    private boolean hasModel;

    private TokenizerLoader(Path file) { this.file = file; }

    static Tokenizer load(Path file) throws IOException {
        TokenizerLoader l = new TokenizerLoader(file);
        try (JsonParser p = JSON.createParser(java.nio.file.Files.readAllBytes(file))) {
            l.read(p);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage()
                    + " at " + e.getLocation().offsetDescription(), e);
        }
        return l.build();
    }

    private IllegalArgumentException error(String path, String what) {
        return new IllegalArgumentException(file + ": " + path + ": " + what);
    }

    private void read(JsonParser p) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) throw error("$", "expected a JSON object");
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            p.nextToken();
            switch (name) {
                case "model" -> readModel(p);
                case "added_tokens" -> addedTokens = JSON.readTree(p);
                case "pre_tokenizer" -> preTokenizer = JSON.readTree(p);
                case "normalizer" -> normalizer = JSON.readTree(p);
                case "decoder" -> decoder = JSON.readTree(p);
                default -> p.skipChildren(); // post_processor, truncation, padding: irrelevant without special-token insertion
            }
        }
    }

    private void readModel(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) throw error("model", "expected an object");
        hasModel = true;
        var config = JSON.createObjectNode();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken t = p.nextToken();
            if (name.equals("vocab")) {
                if (t != JsonToken.START_OBJECT) throw error("model.vocab", "expected an object of token -> id");
                vocab = new HashMap<>(1 << 18);
                vocabById = new String[1 << 17];
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String token = p.currentName();
                    if (p.nextToken() != JsonToken.VALUE_NUMBER_INT)
                        throw error("model.vocab." + quote(token), "expected an integer id");
                    int id = p.getIntValue();
                    if (id < 0) throw error("model.vocab." + quote(token), "negative id " + id);
                    if (id >= vocabById.length) vocabById = Arrays.copyOf(vocabById, Math.max(id + 1, vocabById.length * 2));
                    if (vocabById[id] != null)
                        throw error("model.vocab." + quote(token), "id " + id + " is also used by " + quote(vocabById[id]));
                    if (vocab.put(token, id) != null) throw error("model.vocab." + quote(token), "listed twice");
                    vocabById[id] = token;
                    vocabSize = Math.max(vocabSize, id + 1);
                }
            } else if (name.equals("merges")) {
                if (t != JsonToken.START_ARRAY) throw error("model.merges", "expected an array");
                merges = new ArrayList<>(1 << 17);
                while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                    String path = "model.merges[" + merges.size() + "]";
                    if (t == JsonToken.VALUE_STRING) {
                        String line = p.getText();
                        int space = line.indexOf(' ');
                        if (space < 0 || line.indexOf(' ', space + 1) >= 0)
                            throw error(path, quote(line) + " is not two symbols separated by one space");
                        merges.add(new String[] {line.substring(0, space), line.substring(space + 1)});
                    } else if (t == JsonToken.START_ARRAY) {
                        JsonNode pair = JSON.readTree(p);
                        if (pair.size() != 2 || !pair.get(0).isTextual() || !pair.get(1).isTextual())
                            throw error(path, "expected [left, right] strings, got " + pair);
                        merges.add(new String[] {pair.get(0).asText(), pair.get(1).asText()});
                    } else {
                        throw error(path, "expected \"left right\" or [left, right]");
                    }
                }
            } else {
                config.set(name, JSON.readTree(p));
            }
        }
        modelConfig = config;
    }

    private Tokenizer build() {
        if (!hasModel) throw error("model", "missing");
        checkModelConfig();
        if (vocab == null) throw error("model.vocab", "missing");
        if (merges == null) throw error("model.merges", "missing");
        checkNormalizer();
        checkPreTokenizer();
        checkDecoder();

        int size = vocabSize;
        int[] byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
            if (id == null)
                throw error("model.vocab", String.format("no token for byte 0x%02X (spelled %s); byte-level BPE needs all 256",
                        b, quote(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]))));
            byteIds[b] = id;
        }

        // Added tokens: validated before sizing the id space, since they extend it.
        Map<String, Integer> raw = new LinkedHashMap<>(), normalized = new LinkedHashMap<>();
        Map<Integer, String> addedById = new HashMap<>();
        // HF ignores the ids written for added tokens outside the vocabulary and numbers them itself, in file
        // order, from the vocabulary size on; a file whose ids differ would encode differently there.
        int maxAdded = -1;
        if (addedTokens != null && !addedTokens.isNull()) {
            if (!addedTokens.isArray()) throw error("added_tokens", "expected an array");
            for (int i = 0; i < addedTokens.size(); i++) {
                String path = "added_tokens[" + i + "]";
                JsonNode t = addedTokens.get(i);
                JsonNode id = t.get("id"), content = t.get("content");
                if (id == null || !id.canConvertToInt() || id.asInt() < 0) throw error(path + ".id", "missing or not a non-negative integer");
                if (content == null || !content.isTextual() || content.asText().isEmpty())
                    throw error(path + ".content", "missing or not a non-empty string");
                for (String flag : new String[] {"lstrip", "rstrip", "single_word"})
                    if (t.path(flag).asBoolean(false))
                        throw error(path + "." + flag, "true is not supported (only exact-content matching is implemented)");
                String c = content.asText();
                int tokenId = id.asInt();
                Integer inVocab = vocab.get(c);
                if (inVocab != null && inVocab != tokenId)
                    throw error(path, quote(c) + " has id " + tokenId + " but model.vocab gives it id " + inVocab);
                if (inVocab == null && tokenId < vocabSize && vocabById[tokenId] != null)
                    throw error(path + ".id", "id " + tokenId + " of " + quote(c) + " is already a different model.vocab token");
                if (inVocab == null) {
                    int hfId = maxAdded < 0 || maxAdded < vocab.size() ? vocab.size() : maxAdded + 1;
                    if (tokenId != hfId)
                        throw error(path + ".id", "is " + tokenId + " but HF tokenizers would give " + quote(c) + " id " + hfId
                                + " (added tokens outside model.vocab are numbered in file order after it)");
                }
                maxAdded = Math.max(maxAdded, tokenId);
                String previous = addedById.put(tokenId, c);
                if (previous != null && !previous.equals(c))
                    throw error(path + ".id", "id " + tokenId + " is used by both " + quote(previous) + " and " + quote(c));
                if (raw.containsKey(c) || normalized.containsKey(c)) throw error(path + ".content", quote(c) + " is listed twice");
                (t.path("normalized").asBoolean(true) ? normalized : raw).put(c, tokenId);
                size = Math.max(size, tokenId + 1);
            }
        }

        String[] contents = Arrays.copyOf(vocabById, size);
        addedById.forEach((id, c) -> contents[id] = c);

        int n = merges.size();
        int[] lefts = new int[n], rights = new int[n], mergedIds = new int[n];
        for (int r = 0; r < n; r++) {
            String[] m = merges.get(r);
            String path = "model.merges[" + r + "]";
            Integer a = vocab.get(m[0]), b = vocab.get(m[1]), ab = vocab.get(m[0] + m[1]);
            if (a == null) throw error(path, "symbol " + quote(m[0]) + " is not in model.vocab");
            if (b == null) throw error(path, "symbol " + quote(m[1]) + " is not in model.vocab");
            if (ab == null) throw error(path, "merged symbol " + quote(m[0] + m[1]) + " is not in model.vocab");
            lefts[r] = a;
            rights[r] = b;
            mergedIds[r] = ab;
        }
        return new Tokenizer(file, new Bpe(byteIds, lefts, rights, mergedIds), byteIds, contents, raw, normalized);
    }

    private void checkModelConfig() {
        String type = modelConfig.path("type").asText(null);
        if (!"BPE".equals(type))
            throw error("model.type", "only \"BPE\" is supported, found " + modelConfig.get("type"));
        requireNullOrEmpty("model", modelConfig, "dropout", "BPE dropout is not supported");
        requireNullOrEmpty("model", modelConfig, "unk_token", "an unknown token is not supported (byte-level BPE never needs one)");
        requireNullOrEmpty("model", modelConfig, "continuing_subword_prefix", "subword prefixes are not supported");
        requireNullOrEmpty("model", modelConfig, "end_of_word_suffix", "end-of-word suffixes are not supported");
        for (String flag : new String[] {"byte_fallback", "ignore_merges"})
            if (modelConfig.path(flag).asBoolean(false)) throw error("model." + flag, "true is not supported");
    }

    private void requireNullOrEmpty(String path, JsonNode node, String field, String why) {
        JsonNode v = node.get(field);
        if (v != null && !v.isNull() && !(v.isTextual() && v.asText().isEmpty()))
            throw error(path + "." + field, why + "; found " + v);
    }

    private void checkNormalizer() {
        if (normalizer == null || normalizer.isNull()) return;
        if (normalizer.path("type").asText("").equals("Sequence") && normalizer.path("normalizers").isArray()
                && normalizer.path("normalizers").isEmpty()) return;
        throw error("normalizer", "only none or an empty Sequence is supported, found " + normalizer);
    }

    private void checkPreTokenizer() {
        if (preTokenizer == null || preTokenizer.isNull())
            throw error("pre_tokenizer", "missing; only the DeepSeek-V3/V4 Split sequence is supported");
        expect("pre_tokenizer.type", preTokenizer.get("type"), "Sequence");
        JsonNode steps = preTokenizer.get("pretokenizers");
        if (steps == null || !steps.isArray() || steps.size() != 4)
            throw error("pre_tokenizer.pretokenizers", "expected 3 Splits and a ByteLevel (the DeepSeek-V3/V4 sequence), found " + steps);
        String[] regexes = {PreTokenizer.REGEX_NUMBERS, PreTokenizer.REGEX_CJK, PreTokenizer.REGEX_WORDS};
        for (int i = 0; i < 3; i++) {
            String path = "pre_tokenizer.pretokenizers[" + i + "]";
            JsonNode s = steps.get(i);
            expect(path + ".type", s.get("type"), "Split");
            expect(path + ".pattern.Regex", s.path("pattern").get("Regex"), regexes[i]);
            expect(path + ".behavior", s.get("behavior"), "Isolated");
            if (s.path("invert").asBoolean(false)) throw error(path + ".invert", "true is not supported");
        }
        JsonNode bl = steps.get(3);
        String path = "pre_tokenizer.pretokenizers[3]";
        expect(path + ".type", bl.get("type"), "ByteLevel");
        if (bl.path("add_prefix_space").asBoolean(false)) throw error(path + ".add_prefix_space", "true is not supported");
        if (bl.path("use_regex").asBoolean(true)) throw error(path + ".use_regex", "only false is supported (the Splits do the splitting)");
    }

    private void checkDecoder() {
        if (decoder == null || decoder.isNull()) throw error("decoder", "missing; only ByteLevel is supported");
        expect("decoder.type", decoder.get("type"), "ByteLevel");
    }

    private void expect(String path, JsonNode actual, String expected) {
        if (actual == null || !actual.isTextual() || !actual.asText().equals(expected))
            throw error(path, "unsupported: expected " + quote(expected) + ", found " + (actual == null ? "nothing" : actual));
    }

    private static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
