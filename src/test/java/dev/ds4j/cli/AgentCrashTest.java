package dev.ds4j.cli;

import dev.ds4j.TestData;
import dev.ds4j.sandbox.Substrate;
import dev.ds4j.sandbox.Substrates;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The whole runtime killed with SIGKILL mid-run: {@code ds4j agent} runs in a child JVM (model, agent loop, process
 * sandbox, trajectory log), the test kills it at a point read from the log, then {@code ds4j agent resume} finishes
 * the run. Each shell call appends a line to a file in the workspace, so the workspace itself counts how often
 * each call really ran, independently of what the log says.
 */
class AgentCrashTest {
    static final String EOS = AgentCommandTest.EOS, OPEN = AgentCommandTest.OPEN, CLOSE = AgentCommandTest.CLOSE;

    @TempDir static Path modelDir;
    @TempDir Path tmp;

    @BeforeAll
    static void model() throws Exception {
        InitCommand.writeTiny(modelDir, 1, TestData.shared().resolve("data/deepseek-v4"));
    }

    private void assumeProcessSubstrate() throws Exception {
        Substrate.Availability a = Substrates.standard().get("process").availability();
        assumeTrue(a.available(), "process substrate unavailable here: " + a.reason());
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
    }

    private static String shell(String preface, String command) {
        return preface + OPEN + AgentCommandTest.call("shell", "command", command) + CLOSE + EOS;
    }

    private Path forced(String... turns) throws Exception {
        Path f = tmp.resolve("forced.txt");
        Files.writeString(f, String.join("\n---\n", turns) + "\n");
        return f;
    }

    /** Starts {@code ds4j agent} in a child JVM; its output goes to files in tmp. */
    private Process startAgent(Path run, Path ws, Path forcedFile) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "agent", "--model", modelDir.toString(), "--run-dir", run.toString(), "--workspace", ws.toString(),
                "--forced-file", forcedFile.toString(), "count the runs"));
        return new ProcessBuilder(cmd).redirectOutput(tmp.resolve("child.out").toFile())
                .redirectError(tmp.resolve("child.err").toFile()).start();
    }

    /** Waits until the run's log holds a line matching {@code seen} and {@code also} holds, then SIGKILLs the child. */
    private void killWhen(Process child, Path run, Predicate<String> seen, BooleanSupplier also) throws Exception {
        Path log = run.resolve("trajectory.jsonl");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (true) {
            if (!child.isAlive()) fail("the agent ended before the kill point (exit " + child.exitValue() + "): "
                    + Files.readString(tmp.resolve("child.err")));
            if (Files.exists(log) && Files.readAllLines(log).stream().anyMatch(seen) && also.getAsBoolean()) break;
            if (System.nanoTime() > deadline) {
                child.destroyForcibly().waitFor();
                fail("the kill point was not reached in 240 s: " + Files.readString(tmp.resolve("child.err")));
            }
            Thread.sleep(10);
        }
        child.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook, no finally block runs
        assertThat(child.exitValue()).isEqualTo(137);
    }

    @Test
    void killedMidGenerationResumesWithoutRerunningFinishedCalls() throws Exception {
        assumeProcessSubstrate();
        Path run = tmp.resolve("run"), ws = tmp.resolve("ws");
        Files.createDirectories(ws);
        // The last turn is long, so the kill (right after the second call's result is logged) lands in its generation.
        String longAnswer = "Both commands ran once. " + "The counts are in the workspace. ".repeat(40) + EOS;
        Path f = forced(shell("First command.", "echo ran >> first.txt; echo first=$(wc -l < first.txt)"),
                shell("Second command.", "echo ran >> second.txt; echo second=$(wc -l < second.txt)"),
                longAnswer);
        Process child = startAgent(run, ws, f);
        killWhen(child, run, l -> l.contains("\"tool_finished\"") && l.contains("call_1_0"), () -> true);
        String logText = Files.readString(run.resolve("trajectory.jsonl"));
        assertThat(logText).as("killed before the run ended").doesNotContain("\"run_end\"");
        assertThat(Files.readString(ws.resolve("first.txt"))).isEqualTo("ran\n");
        assertThat(Files.readString(ws.resolve("second.txt"))).isEqualTo("ran\n");

        CliRunner.Result resumed = CliRunner.run("agent", "resume", run.toString());
        assertThat(resumed.exit()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("0 tool calls run, 2 answered from the log")
                .contains("[result call_0_0, from the log] exit code: 0\\n[stdout]\\nfirst=1")
                .contains("[result call_1_0, from the log] exit code: 0\\n[stdout]\\nsecond=1");
        assertThat(resumed.out()).startsWith("Both commands ran once.");
        // The workspace's own count: each command ran exactly once over both processes.
        assertThat(Files.readString(ws.resolve("first.txt"))).isEqualTo("ran\n");
        assertThat(Files.readString(ws.resolve("second.txt"))).isEqualTo("ran\n");
    }

    @Test
    void killedMidToolRefusesToRunTheUnfinishedCallAgain() throws Exception {
        assumeProcessSubstrate();
        Path run = tmp.resolve("run"), ws = tmp.resolve("ws");
        Files.createDirectories(ws);
        // The second call appends before it sleeps: it has taken effect when the runtime dies, with no result logged.
        Path f = forced(shell("First command.", "echo ran >> first.txt"),
                shell("Second command.", "echo started >> second.txt; sleep 30"),
                "Done." + EOS);
        Process child = startAgent(run, ws, f);
        killWhen(child, run, l -> l.contains("\"tool_started\"") && l.contains("call_1_0"),
                () -> Files.exists(ws.resolve("second.txt")));

        // What the log shows after the crash, before anything resumes it.
        CliRunner.Result show = CliRunner.run("agent", "show", run.toString());
        assertThat(show.exit()).as(show.err()).isZero();
        assertThat(show.out()).contains("[result call_0_0, ok").contains("[started call_1_0] shell")
                .doesNotContain("[result call_1_0").doesNotContain("[end]")
                .contains("unfinished: call_1_0 (shell) started without a result; a resume stops there unless --tell-model-unfinished")
                .contains("the run can be continued: ds4j agent resume " + run);

        CliRunner.Result resumed = CliRunner.run("agent", "resume", run.toString());
        assertThat(resumed.exit()).as(resumed.err()).isEqualTo(1);
        assertThat(resumed.err()).contains("refused").contains("call_1_0").contains("shell")
                .contains("1 answered from the log").contains("continue it with");
        assertThat(Files.readString(ws.resolve("first.txt"))).isEqualTo("ran\n");
        assertThat(Files.readString(ws.resolve("second.txt"))).isEqualTo("started\n");

        // The way on: the model is told the call's effect is unknown, and the run finishes without running it again.
        CliRunner.Result told = CliRunner.run("agent", "resume", run.toString(), "--tell-model-unfinished");
        assertThat(told.exit()).as(told.err()).isZero();
        assertThat(told.err()).contains("[result call_1_0, from the log] [not run again]")
                .contains("0 tool calls run, 2 answered from the log");
        assertThat(told.out()).isEqualTo("Done.\n");
        assertThat(Files.readString(ws.resolve("first.txt"))).isEqualTo("ran\n");
        assertThat(Files.readString(ws.resolve("second.txt"))).isEqualTo("started\n");
    }
}
