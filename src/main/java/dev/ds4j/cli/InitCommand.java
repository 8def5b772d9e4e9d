package dev.ds4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;

@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Writes a random-weight DeepSeek-V4 checkpoint in the official layout, with the DeepSeek-V4 tokenizer, "
                + "so the whole stack can run without downloading real weights.",
                "Its output is noise. Real weights come from the official repositories (deepseek-ai/DeepSeek-V4-Flash, -Pro)."})
final class InitCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "directory to create (must not exist or be empty)")
    Path dir;

    @Option(names = "--preset", defaultValue = "tiny", paramLabel = "tiny",
            description = "tiny: 4 layers (sliding, CSA, HCA), hidden 256, the real 129,280-token vocabulary, FP8 + FP4 experts, MTP (~150 MB)")
    String preset;

    @Option(names = "--seed", defaultValue = "1", description = "random seed for the weights (default 1)")
    long seed;

    @Option(names = "--tokenizer-dir", paramLabel = "DIR", description = "where tokenizer.json and tokenizer_config.json come from (default ../shared/data/deepseek-v4 beside ds4j)")
    Path tokenizerDir;

    /** The tiny preset's weights, the tokenizer files from {@code tokenizerDir}, and DeepSeek's sampling defaults. */
    static void writeTiny(Path dir, long seed, Path tokenizerDir) throws IOException {
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, seed, 0.05, true, 1);
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json"})
            Files.copy(tokenizerDir.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        var gen = new ObjectMapper().createObjectNode().put("bos_token_id", 0).put("eos_token_id", 1)
                .put("do_sample", true).put("temperature", 1.0).put("top_p", 1.0);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve("generation_config.json").toFile(), gen);
    }

    private static boolean isEmptyDir(Path dir) throws IOException {
        try (var entries = Files.list(dir)) { return entries.findAny().isEmpty(); }
    }

    @Override
    public Integer call() throws IOException {
        if (!preset.equals("tiny"))
            throw new IllegalArgumentException("--preset: unknown preset '" + preset + "' (available: tiny; flash-shape comes with the speed work)");
        if (Files.exists(dir) && (!Files.isDirectory(dir) || !isEmptyDir(dir)))
            throw new IllegalArgumentException(dir + ": exists and is not an empty directory; refusing to overwrite it");
        Path tok = tokenizerDir != null ? tokenizerDir : Inputs.tokenizerPath(null, null).getParent();
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json"})
            if (!Files.isRegularFile(tok.resolve(f))) throw new IllegalArgumentException(tok.resolve(f) + ": not found (use --tokenizer-dir)");

        long t0 = System.nanoTime();
        System.err.println("writing preset '" + preset + "' to " + dir + " ...");
        writeTiny(dir, seed, tok);
        try (Model m = Model.load(dir)) { // prove it loads
            System.err.printf("done in %.1f s: %.0f MB, %d layers, vocab %d. Its weights are random: output is noise.%n",
                    (System.nanoTime() - t0) / 1e9, m.checkpointBytes() / 1e6, m.layers(), m.config().vocabSize());
        }
        return 0;
    }
}
