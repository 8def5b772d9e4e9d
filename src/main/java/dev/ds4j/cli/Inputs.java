package dev.ds4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading the CLI's input files: exact bytes, strict UTF-8, errors that name the file. */
final class Inputs {
    private Inputs() {}

    /** The file's text exactly (no trimming); "-" reads standard input. Invalid UTF-8 is an error, not U+FFFD. */
    static String readUtf8(String file) {
        byte[] bytes;
        try {
            if (file.equals("-")) {
                try (InputStream in = System.in) { bytes = in.readAllBytes(); }
            } else {
                bytes = Files.readAllBytes(Path.of(file));
            }
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not valid UTF-8 (" + e.getMessage() + ")");
        }
    }

    /** Standard output as UTF-8: a C locale's platform encoding would turn non-ASCII text into '?'. */
    static java.io.PrintStream stdout() {
        return new java.io.PrintStream(System.out, true, StandardCharsets.UTF_8);
    }

    /**
     * The tokenizer to use: --tokenizer, else the model directory's tokenizer.json, else the
     * DeepSeek-V4 tokenizer in the shared data: $DS4J_SHARED/data/deepseek-v4, else ../shared beside the checkout.
     */
    static Path tokenizerPath(Path explicit, Path modelDir) {
        if (explicit != null) return explicit;
        if (modelDir != null) return modelDir.resolve("tokenizer.json");
        String shared = System.getenv("DS4J_SHARED");
        if (shared != null && !shared.isEmpty()) return Path.of(shared, "data/deepseek-v4/tokenizer.json");
        String home = System.getProperty("ds4j.home", ".");
        return Path.of(home).resolve("../shared/data/deepseek-v4/tokenizer.json").normalize();
    }
}
