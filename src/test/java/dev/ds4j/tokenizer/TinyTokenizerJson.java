package dev.ds4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * A small tokenizer.json with the real file's configuration (normaliser, pre-tokenizer, decoder, read from
 * the shared file) but a vocabulary of the 256 byte symbols (id = byte value) plus the merges and added
 * tokens a test asks for. Tests break it in one place to check the loader's errors, or give it to both our
 * tokenizer and HF to check behaviour the real vocabulary cannot show.
 */
final class TinyTokenizerJson {
    static final ObjectMapper JSON = new ObjectMapper();

    final ObjectNode root;
    private final ObjectNode vocab;
    private final ArrayNode merges;
    private final ArrayNode added;
    private int nextId = 256;

    TinyTokenizerJson() {
        JsonNode real = realConfig();
        root = JSON.createObjectNode();
        root.put("version", "1.0");
        added = root.putArray("added_tokens");
        root.set("normalizer", real.get("normalizer").deepCopy());
        root.set("pre_tokenizer", real.get("pre_tokenizer").deepCopy());
        root.set("post_processor", real.get("post_processor").deepCopy());
        root.set("decoder", real.get("decoder").deepCopy());
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]), b);
        merges = model.putArray("merges");
    }

    private static JsonNode cached;

    private static synchronized JsonNode realConfig() {
        if (cached == null) {
            try {
                cached = JSON.readTree(TokenizerFixture.tokenizerJson().toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return cached;
    }

    /** Adds the merge "left right" (byte-level spellings) and its result to the vocabulary; returns the new id. */
    int merge(String left, String right) {
        merges.add(left + " " + right);
        int id = nextId++;
        vocab.put(left + right, id);
        return id;
    }

    /** Adds an added token after the vocabulary, the way HF numbers them; returns its id. */
    int addToken(String content, boolean normalized) {
        int id = nextId++;
        ObjectNode t = added.addObject();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", normalized);
        t.put("special", !normalized);
        return id;
    }

    ObjectNode model() { return (ObjectNode) root.get("model"); }

    Path write(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        try {
            JSON.writeValue(file.toFile(), root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }
}
