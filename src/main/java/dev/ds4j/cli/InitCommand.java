package dev.ds4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Writes a random-weight DeepSeek-V4 checkpoint in the official layout, with the DeepSeek-V4 tokenizer, "
                + "so the whole stack can run without downloading real weights.",
                "Its output is noise. Real weights come from the official repositories (deepseek-ai/DeepSeek-V4-Flash, -Pro)."})
final class InitCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "directory to create (must not exist or be empty)")
    Path dir;

    @Option(names = "--preset", defaultValue = "tiny", paramLabel = "tiny|flash-shape", description = {
            "tiny: 4 layers (sliding, CSA, HCA), hidden 256, the real 129,280-token vocabulary, FP8 + FP4 experts, MTP (144 MB, seconds)",
            "flash-shape: V4-Flash's real dimensions (hidden 4096, 64 heads, 256 FP4 experts of 2048, 6 active) in its first "
                    + "4 layers (sliding, sliding, CSA, HCA; 3 hash-routed) plus MTP: 20.0 GB in 6 shards, about 4 minutes on 2 cores; for speed work"})
    String preset;

    @Option(names = "--seed", defaultValue = "1", description = "random seed for the weights (default 1)")
    long seed;

    @Option(names = "--tokenizer-dir", paramLabel = "DIR", description = "where tokenizer.json and tokenizer_config.json come from (default ../shared/data/deepseek-v4 beside ds4j)")
    Path tokenizerDir;

    @Option(names = "--threads", description = "threads generating flash-shape weights (default: number of cores; the weights do not depend on it)")
    Integer threads;

    @Option(names = "--quiet", description = "no progress bar: a plain progress line every 10 s")
    boolean quiet;

    /** Room for the safetensors headers, the tokenizer (8 MB) and the file system's own blocks. */
    static final long DISK_MARGIN = 256L << 20;
    /** The official Flash shards hold about 3.5 GB each (ARCHITECTURE §7.1: 159.6 GB in 46 files). */
    static final long FLASH_SHARD_BYTES = 4_000_000_000L;

    /** A checkpoint that init can write: its config and how its weights are generated. */
    record Preset(String name, ObjectNode config, CheckpointLayout.Options options) {
        static final String NAMES = "tiny, flash-shape";

        static Preset of(String name, long seed, int threads) {
            return switch (name) {
                // One sequential stream: the tiny preset's bytes stay what they have always been for a seed.
                case "tiny" -> new Preset(name, Presets.tiny(), CheckpointLayout.Options.sequential(CheckpointLayout.Fill.RANDOM, seed, 0.05, true, 1));
                // std 1/√4096, so that a projection keeps its input's scale (the tiny preset's 0.05 is ~0.8/√256).
                case "flash-shape" -> new Preset(name, Presets.flashShape(), CheckpointLayout.Options.parallel(seed, 1 / 64.0, true, FLASH_SHARD_BYTES, threads));
                default -> throw new IllegalArgumentException("--preset: unknown preset '" + name + "' (available: " + NAMES + ")");
            };
        }

        long bytes() { return CheckpointLayout.dataBytes(config, options.withMtp()); }
    }

    /** The tiny preset's weights, the tokenizer files from {@code tokenizerDir}, and DeepSeek's sampling defaults. */
    static void writeTiny(Path dir, long seed, Path tokenizerDir) throws IOException {
        write(Preset.of("tiny", seed, 1), dir, tokenizerDir, null);
    }

    static void write(Preset p, Path dir, Path tokenizerDir, LongConsumer progress) throws IOException {
        CheckpointLayout.write(dir, p.config(), p.options().withProgress(progress));
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json"})
            Files.copy(tokenizerDir.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        var gen = new ObjectMapper().createObjectNode().put("bos_token_id", 0).put("eos_token_id", 1)
                .put("do_sample", true).put("temperature", 1.0).put("top_p", 1.0);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve("generation_config.json").toFile(), gen);
    }

    private static boolean isEmptyDir(Path dir) throws IOException {
        try (var entries = Files.list(dir)) { return entries.findAny().isEmpty(); }
    }

    /** Fails unless the file system that will hold {@code dir} has {@code needed} bytes free. */
    static void requireFreeSpace(Path dir, long needed, String preset) throws IOException {
        Path existing = dir.toAbsolutePath();
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return;
        long free = Files.getFileStore(existing).getUsableSpace();
        if (free < needed)
            throw new IllegalArgumentException(String.format("%s: preset '%s' needs %.1f GB of free disk space, but %s has only %.1f GB free",
                    dir, preset, needed / 1e9, existing, free / 1e9));
    }

    @Override
    public Integer call() throws IOException {
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (nThreads < 1) throw new IllegalArgumentException("--threads: must be at least 1, got " + nThreads);
        Preset p = Preset.of(preset, seed, nThreads);
        if (Files.exists(dir) && (!Files.isDirectory(dir) || !isEmptyDir(dir)))
            throw new IllegalArgumentException(dir + ": exists and is not an empty directory; refusing to overwrite it");
        Path tok = tokenizerDir != null ? tokenizerDir : Inputs.tokenizerPath(null, null).getParent();
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json"})
            if (!Files.isRegularFile(tok.resolve(f))) throw new IllegalArgumentException(tok.resolve(f) + ": not found (use --tokenizer-dir)");
        long bytes = p.bytes();
        requireFreeSpace(dir, bytes + DISK_MARGIN, preset);

        long t0 = System.nanoTime();
        System.err.printf("writing preset '%s' (%.2f GB of random weights) to %s ...%n", preset, bytes / 1e9, dir);
        PartialOutput partial = new PartialOutput(dir, !Files.exists(dir));
        Runtime.getRuntime().addShutdownHook(partial.hook);
        try (Progress progress = Progress.bytes("init " + preset, bytes, quiet)) {
            write(p, dir, tok, n -> {
                if (partial.interrupted) throw new IllegalStateException("interrupted");
                progress.accept(n);
            });
        } catch (Error e) {
            partial.delete();
            throw e;
        } catch (IOException | RuntimeException e) {
            partial.delete();
            throw new IllegalStateException("writing " + dir + " failed (" + (e.getMessage() == null ? e : e.getMessage())
                    + "); the partial output was deleted", e);
        } finally {
            partial.release();
        }
        double writeSeconds = (System.nanoTime() - t0) / 1e9;
        long t1 = System.nanoTime();
        try (Model m = Model.load(dir)) { // prove it loads
            System.err.printf("done: %.2f GB written in %.1f s (%.0f MB/s), loaded in %.2f s: %d layers%s, vocab %d. "
                            + "Its weights are random: output is noise.%n",
                    m.checkpointBytes() / 1e9, writeSeconds, m.checkpointBytes() / 1e6 / writeSeconds, (System.nanoTime() - t1) / 1e9,
                    m.layers(), m.hasMtp() ? " + MTP" : "", m.config().vocabSize());
        }
        return 0;
    }

    /**
     * What init must undo if it stops half way. The directory was empty (or absent) before, so everything in it
     * is ours. On Ctrl-C the shutdown hook stops the writer at its next write, waits until it has let go of the
     * files (not for the thread to end: it then calls System.exit, which blocks during shutdown), and deletes the lot.
     */
    private static final class PartialOutput {
        final Path dir;
        final boolean created;
        final Thread hook;
        final CountDownLatch released = new CountDownLatch(1);
        volatile boolean interrupted;

        PartialOutput(Path dir, boolean created) {
            this.dir = dir;
            this.created = created;
            this.hook = new Thread(() -> {
                interrupted = true;
                try {
                    released.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
                delete();
                System.err.println("\ninit interrupted: deleted the partial output in " + dir);
            }, "ds4j-init-cleanup");
        }

        synchronized void delete() {
            if (!Files.exists(dir)) return;
            try (Stream<Path> all = Files.walk(dir)) {
                for (Path f : all.sorted(Comparator.reverseOrder()).toList())
                    if (created || !f.equals(dir)) Files.deleteIfExists(f);
            } catch (IOException e) {
                throw new UncheckedIOException("could not delete the partial output in " + dir + " (" + e.getMessage() + "); " + dir + " is incomplete", e);
            }
        }

        void release() {
            released.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The hook is running; it deletes the output.
            }
        }
    }
}
