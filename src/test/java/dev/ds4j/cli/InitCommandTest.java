package dev.ds4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InitCommandTest {
    @TempDir
    Path tmp;

    @Test
    void tinyPresetIsWrittenWithPlainProgressLinesWhenStderrIsNotATerminal() throws Exception {
        Path dir = tmp.resolve("tiny");
        CliRunner.Result r = CliRunner.run("init", dir.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("init tiny: 0.14 / 0.14 GB (100%)").contains("done: 0.14 GB written").contains("4 layers + MTP")
                .doesNotContain("\r");
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly(
                    "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json");
        }
    }

    @Test
    void badInvocationsAreOneLineErrorsThatTouchNothing() throws Exception {
        CliRunner.Result unknown = CliRunner.run("init", tmp.resolve("x").toString(), "--preset", "flash");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err().strip()).isEqualTo("ds4j: error: --preset: unknown preset 'flash' (available: tiny, flash-shape)");
        Files.writeString(tmp.resolve("keep.txt"), "mine");
        CliRunner.Result full = CliRunner.run("init", tmp.toString(), "--preset", "flash-shape");
        assertThat(full.exit()).isEqualTo(2);
        assertThat(full.err()).contains("exists and is not an empty directory; refusing to overwrite it");
        assertThat(Files.readString(tmp.resolve("keep.txt"))).isEqualTo("mine");
        assertThat(CliRunner.run("init", tmp.resolve("y").toString(), "--threads", "0").err()).contains("--threads: must be at least 1");
        assertThat(tmp.resolve("x")).doesNotExist();
        assertThat(tmp.resolve("y")).doesNotExist();
    }

    @Test
    void notEnoughDiskSpaceIsRefusedBeforeWriting() {
        Path dir = tmp.resolve("not/yet/there");
        assertThatThrownBy(() -> InitCommand.requireFreeSpace(dir, Long.MAX_VALUE / 2, "flash-shape"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(dir + ": preset 'flash-shape' needs 4611686018.4 GB of free disk space, but " + tmp + " has only");
        assertThat(dir).doesNotExist();
    }

    @Test
    void plainLinesReportAmountRateAndEta() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(buf, true, StandardCharsets.UTF_8);
        Progress p = Progress.lines("job", 2_000_000_000L, "GB", 1_000_000_000L, err);
        p.accept(500_000_000L);
        assertThat(p.line(System.nanoTime())).matches("job: 0\\.50 / 2\\.00 GB \\(25%\\), \\d+ GB/s, ETA \\d+ s");
        p.accept(1_500_000_000L);
        p.close();
        assertThat(buf.toString(StandardCharsets.UTF_8)).matches("(?s).*job: 2\\.00 / 2\\.00 GB \\(100%\\), \\d+ GB/s, ETA 0 s\\R");
    }
}
