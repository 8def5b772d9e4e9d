package dev.ds4j.cli;

import dev.ds4j.TestData;
import dev.ds4j.generate.Engine;
import dev.ds4j.model.Model;
import dev.ds4j.server.OpenAiServer;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;
import dev.ds4j.sandbox.Substrate;
import dev.ds4j.sandbox.Substrates;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code ds4j agent} end to end on the tiny model, its turns dictated by a forced file, tools in the process sandbox. */
class AgentCommandTest {
    static final String EOS = "<｜end▁of▁sentence｜>";
    static final String OPEN = "\n\n<｜DSML｜tool_calls>\n", CLOSE = "</｜DSML｜tool_calls>";

    @TempDir static Path modelDir;
    @TempDir Path tmp;

    @BeforeAll
    static void model() throws Exception {
        InitCommand.writeTiny(modelDir, 1, TestData.shared().resolve("data/deepseek-v4"));
    }

    static String call(String tool, String param, String value) {
        return "<｜DSML｜invoke name=\"" + tool + "\">\n<｜DSML｜parameter name=\"" + param + "\" string=\"true\">" + value
                + "</｜DSML｜parameter>\n</｜DSML｜invoke>\n";
    }

    Path forcedFile() throws Exception {
        String write = "I will write the script." + OPEN
                + "<｜DSML｜invoke name=\"write_file\">\n"
                + "<｜DSML｜parameter name=\"path\" string=\"true\">run.sh</｜DSML｜parameter>\n"
                + "<｜DSML｜parameter name=\"content\" string=\"true\">echo ran >> runs.txt\necho sum=$((6*7))\n</｜DSML｜parameter>\n"
                + "</｜DSML｜invoke>\n" + CLOSE + EOS;
        String run = "Now I run it." + OPEN + call("shell", "command", "sh run.sh") + CLOSE + EOS;
        String answer = "The script printed sum=42." + EOS;
        Path f = tmp.resolve("forced.txt");
        Files.writeString(f, String.join("\n---\n", List.of(write, run, answer)) + "\n");
        return f;
    }

    private void assumeProcessSubstrate() throws Exception {
        Substrate.Availability a = Substrates.standard().get("process").availability();
        assumeTrue(a.available(), "process substrate unavailable here: " + a.reason());
        // The sandbox's uid must be able to pass through the workspace's parents.
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
    }

    @Test
    void runsToolsShowsStepsAndPrintsTheAnswer() throws Exception {
        assumeProcessSubstrate();
        Path run = tmp.resolve("run"), ws = tmp.resolve("ws");
        CliRunner.Result r = CliRunner.run("agent", "--model", modelDir.toString(), "--run-dir", run.toString(),
                "--workspace", ws.toString(), "--forced-file", forcedFile().toString(), "write and run a script");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo("The script printed sum=42.\n");
        assertThat(r.err()).contains("[step 0]").contains("[call] write_file").contains("[call] shell")
                .contains("sum=42").contains("[end] answered");
        assertThat(Files.readString(ws.resolve("runs.txt"))).isEqualTo("ran\n");
        assertThat(run.resolve("trajectory.jsonl")).isRegularFile();
        CliRunner.Result show = CliRunner.run("agent", "show", run.toString());
        assertThat(show.out()).as(show.err()).startsWith("[run] write and run a script (model ")
                .contains("[call call_0_0] write_file").contains("[result call_1_0, ok").contains("sum=42")
                .contains("3 model turns").contains("2 tool results (0 failed)").endsWith("the run is finished (answered)\n");
        CliRunner.Result none = CliRunner.run("agent", "show", tmp.toString());
        assertThat(none.exit()).isEqualTo(2);
        assertThat(none.err()).contains("has no trajectory.jsonl");
    }

    @Test
    void resumeAnswersFinishedCallsFromTheLog() throws Exception {
        assumeProcessSubstrate();
        Path run = tmp.resolve("run");
        CliRunner.Result first = CliRunner.run("agent", "--model", modelDir.toString(), "--run-dir", run.toString(),
                "--max-steps", "2", "--forced-file", forcedFile().toString(), "task");
        assertThat(first.exit()).as(first.err()).isEqualTo(1);
        assertThat(first.err()).contains("[end] max_steps");
        CliRunner.Result resumed = CliRunner.run("agent", "resume", run.toString(), "--max-steps", "8");
        assertThat(resumed.exit()).as(resumed.err()).isZero();
        assertThat(resumed.out()).isEqualTo("The script printed sum=42.\n");
        assertThat(resumed.err()).contains("0 tool calls run, 2 answered from the log");
        assertThat(Files.readString(run.resolve("workspace/runs.txt"))).isEqualTo("ran\n");
    }

    @Test
    void endpointRunGoesThroughTheServer() throws Exception {
        assumeProcessSubstrate();
        Model m = Model.load(modelDir);
        Tokenizer tok = Tokenizer.load(modelDir.resolve("tokenizer.json"));
        Engine engine = new Engine(m, tok, Session.Options.defaults(), 1);
        OpenAiServer server = new OpenAiServer(engine, "tiny-served", null).start("127.0.0.1", 0);
        try {
            Path run = tmp.resolve("run"), ws = tmp.resolve("ws");
            CliRunner.Result r = CliRunner.run("agent", "--endpoint", "http://127.0.0.1:" + server.port(), "--run-dir", run.toString(),
                    "--workspace", ws.toString(), "--forced-file", forcedFile().toString(), "write and run a script");
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.out()).isEqualTo("The script printed sum=42.\n");
            assertThat(r.err()).contains("[call] write_file").contains("sum=42").contains("[end] answered");
            // Later turns start with the earlier ones: the server's prefix cache says how much it did not compute again.
            assertThat(r.err()).containsPattern("\\[tokens\\] \\d+ prompt \\(\\d+ reused\\)");
            assertThat(Files.readString(ws.resolve("runs.txt"))).isEqualTo("ran\n");
            // The served name was discovered from /v1/models and logged; the key never is.
            assertThat(Files.readString(run.resolve("trajectory.jsonl"))).contains("\"model\":\"tiny-served\"")
                    .contains("\"endpoint\":\"http://127.0.0.1:" + server.port() + "\"")
                    .contains("\"stream\":\"true\""); // streamed by default, kept for resume
        } finally {
            server.close();
            engine.close();
            m.close();
        }
        int dead;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) { dead = s.getLocalPort(); }
        CliRunner.Result refused = CliRunner.run("agent", "--endpoint", "http://127.0.0.1:" + dead, "--run-dir",
                tmp.resolve("run2").toString(), "task");
        assertThat(refused.exit()).isEqualTo(2);
        assertThat(refused.err()).startsWith("ds4j: error: --endpoint: GET http://127.0.0.1:" + dead + "/v1/models: cannot connect");
    }

    @Test
    void toolTimeoutEndsARunawayCommandAndTheRunGoesOn() throws Exception {
        assumeProcessSubstrate();
        Path f = tmp.resolve("forced.txt");
        Files.writeString(f, "Wait." + OPEN + call("shell", "command", "echo started; sleep 30; echo never") + CLOSE + EOS
                + "\n---\nIt timed out." + EOS + "\n");
        long t0 = System.nanoTime();
        CliRunner.Result r = CliRunner.run("agent", "--model", modelDir.toString(), "--run-dir", tmp.resolve("run").toString(),
                "--tool-timeout", "1", "--forced-file", f.toString(), "wait");
        assertThat(r.exit()).as(r.err()).isZero();
        String result = r.err().lines().filter(l -> l.startsWith("  [result call_0_0")).findFirst().orElseThrow();
        assertThat(result).startsWith("  [result call_0_0, failed").contains("timeout").contains("started")
                .doesNotContain("never");
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(28); // the sleep did not run out
    }

    @Test
    void badInputIsOneLineNamingWhatWasWrong() {
        CliRunner.Result noModel = CliRunner.run("agent", "task");
        assertThat(noModel.exit()).isEqualTo(2);
        assertThat(noModel.err().strip()).isEqualTo("ds4j: error: --model: missing (a checkpoint directory), or give --endpoint URL");
        CliRunner.Result both = CliRunner.run("agent", "--model", modelDir.toString(), "--endpoint", "http://x", "task");
        assertThat(both.exit()).isEqualTo(2);
        assertThat(both.err().strip()).isEqualTo("ds4j: error: --model and --endpoint: give one, not both");
        CliRunner.Result badMode = CliRunner.run("agent", "--model", modelDir.toString(), "--reasoning", "low", "task");
        assertThat(badMode.exit()).isEqualTo(2);
        assertThat(badMode.err().strip()).isEqualTo("ds4j: error: --reasoning: must be chat, high or max, got low");
        CliRunner.Result badSteps = CliRunner.run("agent", "--model", modelDir.toString(), "--max-steps", "0", "task");
        assertThat(badSteps.err().strip()).isEqualTo("ds4j: error: --max-steps: must be at least 1, got 0");
        CliRunner.Result badSub = CliRunner.run("agent", "--model", modelDir.toString(), "--substrate", "docker", "task");
        assertThat(badSub.exit()).isEqualTo(2);
        assertThat(badSub.err()).startsWith("ds4j: error: --substrate: unknown sandbox substrate 'docker'");
        CliRunner.Result badTimeout = CliRunner.run("agent", "--model", modelDir.toString(), "--tool-timeout", "0", "task");
        assertThat(badTimeout.err().strip()).isEqualTo("ds4j: error: --tool-timeout: must be a positive number of seconds, got 0.0");
        CliRunner.Result badMemory = CliRunner.run("agent", "--model", modelDir.toString(), "--memory-mb", "4", "task");
        assertThat(badMemory.err().strip()).isEqualTo("ds4j: error: --memory-mb: must be at least 8, got 4");
        CliRunner.Result function = CliRunner.run("agent", "--model", modelDir.toString(), "--substrate", "function", "task");
        assertThat(function.err()).startsWith("ds4j: error: --substrate: function runs in-process Java tools only");
        CliRunner.Result badUrl = CliRunner.run("agent", "--endpoint", "localhost:8000", "task");
        assertThat(badUrl.err().strip()).isEqualTo("ds4j: error: --endpoint: must be an http:// or https:// URL, got localhost:8000");
        CliRunner.Result noStream = CliRunner.run("agent", "--model", modelDir.toString(), "--no-stream", "task");
        assertThat(noStream.exit()).isEqualTo(2);
        assertThat(noStream.err().strip()).startsWith("ds4j: error: --no-stream: only for --endpoint");
        CliRunner.Result notRun = CliRunner.run("agent", "resume", tmp.toString());
        assertThat(notRun.exit()).isEqualTo(2);
        assertThat(notRun.err()).contains("RUN_DIR: ").contains("has no trajectory.jsonl");
    }
}
