package dev.ds4j;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared (the golden checkpoints and spec) from the test JVM. */
public final class TestData {
    private TestData() {}

    public static Path shared() {
        Path p = Path.of(System.getProperty("ds4j.shared", "../shared")).toAbsolutePath().normalize();
        if (!Files.isDirectory(p.resolve("golden")))
            throw new IllegalStateException("shared data not found at " + p + " (expected ../shared/golden beside the repository)");
        return p;
    }

    public static Path golden(String name) { return shared().resolve("golden").resolve(name); }
}
