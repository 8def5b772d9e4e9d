package dev.ds4j.cli;

import dev.ds4j.generate.Engine;
import dev.ds4j.model.Model;
import dev.ds4j.server.OpenAiServer;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serves a model over HTTP: POST /v1/chat/completions, /v1/completions, /v1/responses (OpenAI), "
                + "/v1/messages (Anthropic); GET /v1/models, /health, /metrics.",
                "Without --model it serves the random-weight tiny preset (created on first use under models/tiny): its output is noise."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", description = "checkpoint directory with tokenizer.json (default: the tiny preset)")
    Path model;

    @Option(names = "--host", defaultValue = "127.0.0.1") String host;
    @Option(names = "--port", defaultValue = "8080") int port;
    @Option(names = "--api-key", description = "require this key (Authorization: Bearer KEY); default: no key") String apiKey;
    @Option(names = "--served-model-name", description = "model id clients must send (default: the directory name)") String name;
    @Option(names = "--allow-control-text", description = "pass control-token text (<｜User｜>, ｜DSML｜ …) in user and system "
            + "content on as plain text instead of answering 400") boolean allowControlText;
    @Option(names = "--threads", description = "threads that share each batched step (default: number of cores)") Integer threads;
    @Option(names = "--max-batch", defaultValue = "16", description = "sequences decoded together in one step (default: ${DEFAULT-VALUE}); more wait in a queue")
    int maxBatch;
    @Option(names = "--prefill-chunk", defaultValue = "256", description = "prompt tokens a sequence feeds per step (default: ${DEFAULT-VALUE})")
    int prefillChunk;
    @Option(names = "--prefix-cache-mb", defaultValue = "512", description = "memory for cached prompt prefixes, LRU (default: ${DEFAULT-VALUE}; 0: off)")
    long prefixCacheMb;
    @Option(names = "--kv-dir", paramLabel = "DIR", description = "load cached prefixes from DIR at start and save them there at shutdown")
    Path kvDir;

    @Override
    public Integer call() throws Exception {
        Path dir = model;
        if (dir == null) {
            dir = Path.of(System.getProperty("ds4j.home", ".")).resolve("models/tiny");
            if (!Files.isRegularFile(dir.resolve("config.json"))) {
                System.err.println("no --model: creating the random-weight tiny preset in " + dir + " (output is noise; real weights: deepseek-ai/DeepSeek-V4-Flash)");
                InitCommand.writeTiny(dir, 1, Inputs.tokenizerPath(null, null).getParent());
            }
        }
        Tokenizer tok = TokenizerSupport.load(dir.resolve("tokenizer.json"));
        Model m = Model.load(dir);
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (n < 1) throw new IllegalArgumentException("--threads: must be at least 1");
        if (maxBatch < 1) throw new IllegalArgumentException("--max-batch: must be at least 1");
        if (prefillChunk < 1) throw new IllegalArgumentException("--prefill-chunk: must be at least 1");
        if (prefixCacheMb < 0) throw new IllegalArgumentException("--prefix-cache-mb: must be ≥ 0");
        if (kvDir != null && prefixCacheMb == 0) throw new IllegalArgumentException("--kv-dir: needs the prefix cache (--prefix-cache-mb > 0)");
        String id = name != null ? name : dir.toAbsolutePath().normalize().getFileName().toString();
        Engine engine = new Engine(m, tok, Session.Options.defaults(), new Engine.Config(n, maxBatch, prefillChunk, prefixCacheMb << 20));
        if (kvDir != null) {
            var report = engine.prefixCache().load(kvDir);
            System.err.printf("%s: restored %d cached prefixes (%.1f MB)%n", kvDir, report.loaded(), engine.prefixCache().stats().bytes() / 1e6);
            report.skipped().forEach((file, why) -> System.err.println("  skipped " + file.getFileName() + ": " + why));
        }
        OpenAiServer server = new OpenAiServer(engine, id, apiKey).allowControlText(allowControlText).start(host, port);
        System.err.printf("serving '%s' on http://%s:%d/v1 (batches of up to %d, %d threads, prefix cache %d MB%s)%n", id, host, server.port(),
                maxBatch, n, prefixCacheMb, apiKey == null ? ", no API key" : "");
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            engine.close();
            if (kvDir != null) {
                try {
                    int saved = engine.prefixCache().save(kvDir);
                    System.err.printf("saved %d cached prefixes to %s%n", saved, kvDir);
                } catch (java.io.IOException | RuntimeException e) {
                    System.err.println("could not save cached prefixes to " + kvDir + ": " + e.getMessage());
                }
            }
            m.close();
            stop.countDown();
        }));
        stop.await();
        return 0;
    }
}
