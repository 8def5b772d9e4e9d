package dev.ds4j.cli;

import dev.ds4j.chat.Prompt;
import dev.ds4j.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads the tokenizer for CLI commands with an error that says where it looked. */
final class TokenizerSupport {
    private TokenizerSupport() {}

    static Tokenizer load(Path tokenizerJson) {
        if (!Files.isRegularFile(tokenizerJson))
            throw new IllegalArgumentException(tokenizerJson + ": no tokenizer.json there (use --tokenizer PATH or --model DIR)");
        try {
            return Tokenizer.load(tokenizerJson);
        } catch (IOException e) {
            throw new IllegalArgumentException(tokenizerJson + ": cannot read: " + e.getMessage());
        }
    }

    static int[] encode(Prompt prompt, Path tokenizerJson) { return prompt.tokenIds(load(tokenizerJson)); }
}
