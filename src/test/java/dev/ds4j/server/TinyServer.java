package dev.ds4j.server;

import dev.ds4j.TestData;
import dev.ds4j.generate.Engine;
import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/** The real server on a loopback port with the `init --preset tiny` model, shared by the server tests. */
final class TinyServer implements AutoCloseable {
    static final String MODEL = "ds4j-tiny";
    final Model model;
    final Engine engine;
    final OpenAiServer server;
    final Path dir;

    TinyServer(String apiKey) throws Exception {
        dir = Files.createTempDirectory("ds4j-tiny");
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        model = Model.load(dir);
        Tokenizer tok = Tokenizer.load(TestData.shared().resolve("data/deepseek-v4/tokenizer.json"));
        engine = new Engine(model, tok, Session.Options.defaults(), 2);
        server = new OpenAiServer(engine, MODEL, apiKey).start("127.0.0.1", 0);
    }

    String baseUrl() { return "http://127.0.0.1:" + server.port() + "/v1"; }

    @Override
    public void close() throws Exception {
        server.close();
        engine.close();
        model.close();
        try (var files = Files.list(dir)) { for (Path p : files.toList()) Files.delete(p); }
        Files.delete(dir);
    }
}
