package dev.ds4j.cli;

import dev.ds4j.chat.Prompt;

import java.nio.file.Path;

/** Placeholder until the tokenizer lands. */
final class TokenizerSupport {
    private TokenizerSupport() {}

    static int[] encode(Prompt prompt, Path tokenizerJson) {
        throw new UnsupportedOperationException("--ids needs the tokenizer");
    }
}
