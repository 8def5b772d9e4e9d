package dev.ds4j;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared data (golden checkpoints, spec, tokenizer): -Dds4j.shared, else $DS4J_SHARED, else ../shared. */
public final class TestData {
    private TestData() {}

    public static Path shared() {
        String env = System.getenv("DS4J_SHARED");
        String where = System.getProperty("ds4j.shared", env != null && !env.isEmpty() ? env : "../shared");
        Path p = Path.of(where).toAbsolutePath().normalize();
        if (!Files.isDirectory(p.resolve("golden")))
            throw new IllegalStateException("shared data not found at " + p + " (expected ../shared/golden beside the"
                    + " repository; elsewhere set DS4J_SHARED to the shared directory)");
        return p;
    }

    public static Path golden(String name) { return shared().resolve("golden").resolve(name); }
}
