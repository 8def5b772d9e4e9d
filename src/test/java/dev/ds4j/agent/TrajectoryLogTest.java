package dev.ds4j.agent;

import dev.ds4j.agent.TrajectoryRecord.ModelStep;
import dev.ds4j.agent.TrajectoryRecord.RunEnd;
import dev.ds4j.agent.TrajectoryRecord.RunStart;
import dev.ds4j.agent.TrajectoryRecord.ToolCall;
import dev.ds4j.agent.TrajectoryRecord.ToolFinished;
import dev.ds4j.agent.TrajectoryRecord.ToolStarted;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrajectoryLogTest {
    @TempDir Path run;

    private static final RunStart START = new RunStart("fix the \"tests\"\nin ünïcode ✓ <｜User｜>", "local:tiny",
            Map.of("max_steps", "8", "temperature", "0.6"), 1_700_000_000_000L);

    private static List<TrajectoryRecord> sample() {
        String args = "{\"cmd\":\"echo 'a\\nb' | wc -l\",\"timeout\":5}";
        return List.of(
                START,
                new ModelStep(0, "<think>plan\n</think>text｜DSML｜", "plan\n", "text", List.of(new ToolCall("c0", "shell", args)),
                        1234, 56, 1_700_000_000_100L, 250),
                new ToolStarted(0, "c0", "shell", args, false, 1_700_000_000_400L),
                new ToolFinished("c0", "2\n\u0000tail", 0, 1_700_000_000_500L, 100),
                new ModelStep(1, "done", null, "done", List.of(), 1300, 2, 1_700_000_000_600L, 9),
                new RunEnd("answered", 1_700_000_000_700L));
    }

    private Path file() { return run.resolve(TrajectoryLog.FILE_NAME); }

    private void writeSample() {
        List<TrajectoryRecord> s = sample();
        try (TrajectoryLog log = TrajectoryLog.create(run, (RunStart) s.get(0))) {
            for (TrajectoryRecord r : s.subList(1, s.size())) log.append(r);
        }
    }

    @Test
    void roundTripKeepsEveryFieldAndOneLinePerRecord() throws IOException {
        writeSample();
        Trajectory t = Trajectory.read(run);
        assertThat(t.records()).isEqualTo(sample());
        assertThat(t.droppedTail()).isEmpty();
        assertThat(t.start()).contains(START);
        assertThat(t.steps()).hasSize(2);
        assertThat(t.end().orElseThrow().reason()).isEqualTo("answered");
        List<String> lines = Files.readAllLines(file(), StandardCharsets.UTF_8);
        assertThat(lines).hasSize(6);
        for (int i = 0; i < lines.size(); i++) {
            assertThat(lines.get(i)).startsWith("{\"seq\":" + i + ",\"kind\":\"").matches(".*,\"crc\":\"[0-9a-f]{8}\"}");
            assertThat(TrajectoryCodec.JSON.readTree(lines.get(i)).isObject()).isTrue();
        }
    }

    @Test
    void reopenedLogContinuesTheSequence() {
        writeSample();
        try (TrajectoryLog log = TrajectoryLog.open(run)) {
            assertThat(log.recovery()).isEmpty();
            assertThat(log.append(new RunEnd("again", 1))).isEqualTo(6);
        }
        assertThat(Trajectory.read(run).records()).hasSize(7);
    }

    @Test
    void appendedRecordIsInTheFileBeforeAppendReturns() {
        try (TrajectoryLog log = TrajectoryLog.create(run, START)) {
            log.append(new ToolStarted(0, "c0", "shell", "{}", false, 1));
            // An independent reader, while the log is still open: nothing is held back in a buffer.
            Trajectory seen = Trajectory.read(run);
            assertThat(seen.records()).hasSize(2);
            assertThat(seen.call("c0")).isPresent();
        }
    }

    @Test
    void tornLastLineIsDroppedAndReportedAtEveryCutPoint() throws IOException {
        writeSample();
        byte[] whole = Files.readAllBytes(file());
        int lastLineStart = lastLineStart(whole);
        // Every prefix of the last line that lacks its closing brace is a torn write.
        for (int cut = lastLineStart + 1; cut < whole.length - 2; cut++) {
            Files.write(file(), Arrays.copyOf(whole, cut));
            Trajectory t = Trajectory.read(run);
            assertThat(t.records()).as("cut at %d", cut).isEqualTo(sample().subList(0, 5));
            assertThat(t.droppedTail().orElseThrow()).as("cut at %d", cut).startsWith("line 6 (");
        }
    }

    @Test
    void openTruncatesTheTornLineAndAppendsCleanly() throws IOException {
        writeSample();
        byte[] whole = Files.readAllBytes(file());
        int lastLineStart = lastLineStart(whole);
        Files.write(file(), Arrays.copyOf(whole, lastLineStart + 20));
        try (TrajectoryLog log = TrajectoryLog.open(run)) {
            assertThat(log.recovery().orElseThrow()).contains("line 6").contains("20 bytes, no newline");
            assertThat(Files.size(file())).isEqualTo(lastLineStart);
            log.append(new RunEnd("resumed", 2));
        }
        Trajectory t = Trajectory.read(run);
        assertThat(t.droppedTail()).isEmpty();
        assertThat(t.end().orElseThrow().reason()).isEqualTo("resumed");
    }

    @Test
    void garbageLastLineWithNewlineIsDroppedToo() throws IOException {
        writeSample();
        Files.write(file(), "{\"seq\":6,\"kind\":\"run_e\u0000\u0000\u0000\n".getBytes(StandardCharsets.UTF_8),
                java.nio.file.StandardOpenOption.APPEND);
        Trajectory t = Trajectory.read(run);
        assertThat(t.records()).isEqualTo(sample());
        assertThat(t.droppedTail().orElseThrow()).contains("line 7").contains("no checksum");
    }

    @Test
    void completeLastRecordWithoutNewlineIsKept() throws IOException {
        writeSample();
        byte[] whole = Files.readAllBytes(file());
        Files.write(file(), Arrays.copyOf(whole, whole.length - 1));
        try (TrajectoryLog log = TrajectoryLog.open(run)) {
            assertThat(log.recovery().orElseThrow()).contains("no newline");
            assertThat(log.trajectory().records()).isEqualTo(sample());
            log.append(new RunEnd("more", 3));
        }
        assertThat(Trajectory.read(run).records()).hasSize(7);
    }

    @Test
    void changedByteBeforeTheLastLineIsAnErrorNamingTheLine() throws IOException {
        writeSample();
        String text = Files.readString(file());
        // Same length, still valid JSON: only the checksum can tell.
        Files.writeString(file(), text.replace("\"result\":\"2\\n", "\"result\":\"3\\n"));
        assertThatThrownBy(() -> Trajectory.read(run))
                .isInstanceOf(TrajectoryCorruptException.class)
                .hasMessageContaining(file() + ": line 4: checksum mismatch");
        assertThatThrownBy(() -> TrajectoryLog.open(run)).isInstanceOf(TrajectoryCorruptException.class);
        assertThat(Files.readString(file())).as("a corrupt log is left as it was").contains("\"result\":\"3\\n");
    }

    @Test
    void missingLineBeforeTheLastIsAnError() throws IOException {
        writeSample();
        List<String> lines = Files.readAllLines(file(), StandardCharsets.UTF_8);
        lines.remove(2);
        Files.write(file(), lines, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> Trajectory.read(run))
                .isInstanceOf(TrajectoryCorruptException.class)
                .hasMessageContaining("line 3: seq 3 where 2 was expected");
    }

    @Test
    void appendsThatDoNotFitTheRunAreRefusedBeforeWriting() throws IOException {
        try (TrajectoryLog log = TrajectoryLog.create(run, START)) {
            assertThatThrownBy(() -> log.append(new ToolFinished("nope", "x", 0, 1, 1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("tool_finished for call nope, which never started");
            assertThatThrownBy(() -> log.append(START)).hasMessageContaining("a second run_start");
            log.append(new ToolStarted(0, "c", "t", "{}", true, 1));
            log.append(new ToolFinished("c", "x", 0, 1, 1));
            assertThatThrownBy(() -> log.append(new ToolFinished("c", "y", 0, 1, 1)))
                    .hasMessageContaining("a second tool_finished for call c");
        }
        assertThat(Trajectory.read(run).records()).hasSize(3);
        assertThatThrownBy(() -> TrajectoryLog.create(run, START))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("already exists");
        assertThatThrownBy(() -> Trajectory.read(run.resolve("elsewhere")))
                .isInstanceOf(TrajectoryCorruptException.class).hasMessageContaining("no trajectory log");
    }

    private static int lastLineStart(byte[] b) {
        int i = b.length - 2;
        while (b[i] != '\n') i--;
        return i + 1;
    }

    @Test
    void aRunIsAppendedByOneProcessAtATime() throws Exception {
        TrajectoryLog first = TrajectoryLog.create(run, START);
        assertThatThrownBy(() -> TrajectoryLog.open(run)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the run is in use by another process");
        first.close();
        TrajectoryLog.open(run).close(); // released on close

        // Another process holding the lock (an fcntl lock, as the JVM takes): refused until that process dies.
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "python3 missing");
        Process holder = new ProcessBuilder("/usr/bin/python3", "-c", "import fcntl,sys,time\n"
                + "f=open(sys.argv[1],'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
                run.resolve(TrajectoryLog.LOCK_NAME).toString()).redirectErrorStream(true).start();
        try {
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream())).readLine();
            assertThat(line).isEqualTo("locked");
            assertThatThrownBy(() -> TrajectoryLog.open(run)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("the run is in use by another process");
        } finally {
            holder.destroyForcibly().waitFor(); // SIGKILL: the kernel drops its lock
        }
        try (TrajectoryLog again = TrajectoryLog.open(run)) {
            assertThat(again.trajectory().start()).isPresent();
        }
    }
}
