package dev.ds4j.agent;

import dev.ds4j.TestData;
import dev.ds4j.agent.tools.ToolRegistry;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.SamplingParams;
import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import dev.ds4j.sandbox.ProcessSubstrate;
import dev.ds4j.sandbox.Sandbox;
import dev.ds4j.sandbox.SandboxSpec;
import dev.ds4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The agent loop end to end: the tiny model (random weights) really runs every step, its output dictated by the
 * forced-output hook; the real renderer and parser; tools in the real process sandbox (skipped with the
 * substrate's reason where bubblewrap/cgroups are unavailable).
 */
class AgentLoopTest {
    static final String EOS = "<｜end▁of▁sentence｜>";
    static final String OPEN = "\n\n<｜DSML｜tool_calls>\n", CLOSE = "</｜DSML｜tool_calls>";

    static Model model;
    static Tokenizer tok;
    @TempDir static Path modelDir;
    Sandbox sb;

    @BeforeAll
    static void setUp() throws Exception {
        CheckpointLayout.write(modelDir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        model = Model.load(modelDir);
        tok = Tokenizer.load(TestData.shared().resolve("data/deepseek-v4/tokenizer.json"));
    }

    @AfterAll
    static void tearDown() { if (model != null) model.close(); }

    @BeforeEach
    void sandbox() {
        ProcessSubstrate sub = new ProcessSubstrate();
        var a = sub.availability();
        assumeTrue(a.available(), () -> "process substrate unavailable here: " + a.reason());
        sb = sub.create(SandboxSpec.defaults().withTimeout(Duration.ofSeconds(5)).withMemoryMb(256).withPids(64));
    }

    @AfterEach
    void closeSandbox() { if (sb != null) sb.close(); }

    static String call(String tool, Map<String, String> stringParams) {
        StringBuilder s = new StringBuilder("<｜DSML｜invoke name=\"" + tool + "\">\n");
        stringParams.forEach((k, v) -> s.append("<｜DSML｜parameter name=\"").append(k).append("\" string=\"true\">")
                .append(v).append("</｜DSML｜parameter>\n"));
        return s.append("</｜DSML｜invoke>\n").toString();
    }

    /** Turn 1 writes a file, turn 2 runs it with the shell (it also counts its own runs), turn 3 answers. */
    static final List<String> SCRIPT = List.of(
            "I will write the script." + OPEN
                    + call("write_file", Map.of("path", "run.sh", "content", "echo ran >> runs.txt\necho sum=$((6*7))\n"))
                    + CLOSE + EOS,
            "Now I run it." + OPEN + call("shell", Map.of("command", "sh run.sh")) + CLOSE + EOS,
            "The script printed sum=42." + EOS);

    LocalModelClient client() {
        return new LocalModelClient(model, tok, "ds4j-tiny",
                SamplingParams.DEFAULTS.withSeed(7L).withMaxTokens(512), SCRIPT);
    }

    AgentLoop loop(ModelClient c, int maxSteps) {
        return new AgentLoop(c, ToolRegistry.standard("sh run_tests.sh"), sb, RenderOptions.chat(),
                new AgentLoop.Limits(maxSteps, 10_000, Duration.ofMinutes(1)));
    }

    @Test
    void writesRunsAndAnswers(@TempDir Path runDir) throws Exception {
        LocalModelClient c = client();
        AgentLoop.Outcome out;
        try (TrajectoryLog log = TrajectoryLog.create(runDir, AgentLoop.runStart("write and run a script", c, Map.of()))) {
            out = loop(c, 8).run("You are a coding agent.", "write and run a script", log);
        }
        assertThat(out.endReason()).isEqualTo(AgentLoop.ANSWERED);
        assertThat(c.scriptLeft()).isZero();
        assertThat(Files.readString(sb.workspace().resolve("run.sh"))).isEqualTo("echo ran >> runs.txt\necho sum=$((6*7))\n");
        assertThat(Files.readString(sb.workspace().resolve("runs.txt"))).isEqualTo("ran\n");
        // The shell's output (the arithmetic was done by sh, not by the test) came back as a tool message.
        List<Message> toolMsgs = out.conversation().stream().filter(m -> m.role() == Message.Role.TOOL).toList();
        assertThat(toolMsgs).hasSize(2);
        assertThat(toolMsgs.get(1).toolCallId()).isEqualTo("call_1_0");
        assertThat(toolMsgs.get(1).content()).contains("sum=42");
        Message last = out.conversation().getLast();
        assertThat(last.role()).isEqualTo(Message.Role.ASSISTANT);
        assertThat(last.content()).isEqualTo("The script printed sum=42.");

        Trajectory t = Trajectory.read(runDir);
        assertThat(t.steps()).hasSize(3);
        assertThat(t.steps().get(0).toolCalls()).extracting(TrajectoryRecord.ToolCall::name).containsExactly("write_file");
        assertThat(t.steps().get(1).toolCalls()).extracting(TrajectoryRecord.ToolCall::name).containsExactly("shell");
        assertThat(t.steps().get(2).toolCalls()).isEmpty();
        assertThat(t.call("call_1_0")).hasValueSatisfying(call -> {
            assertThat(call.isFinished()).isTrue();
            assertThat(call.finished().result()).contains("sum=42");
        });
        assertThat(t.unfinishedCalls()).isEmpty();
        assertThat(t.end()).hasValueSatisfying(e -> assertThat(e.reason()).isEqualTo("answered"));
        assertThat(out.toolsExecuted()).isEqualTo(2);
    }

    @Test
    void resumedRunAnswersFinishedCallsFromTheLog(@TempDir Path runDir) throws Exception {
        // The first run stops at the step limit after both tools ran, before the model could answer.
        try (TrajectoryLog log = TrajectoryLog.create(runDir, AgentLoop.runStart("task", client(), Map.of()))) {
            AgentLoop.Outcome first = loop(client(), 2).run(null, "task", log);
            assertThat(first.endReason()).isEqualTo(AgentLoop.MAX_STEPS);
            assertThat(first.toolsExecuted()).isEqualTo(2);
        }
        assertThat(Files.readString(sb.workspace().resolve("runs.txt"))).isEqualTo("ran\n");

        AgentLoop.Outcome resumed;
        try (TrajectoryLog log = TrajectoryLog.open(runDir)) {
            resumed = loop(client(), 8).run(null, "task", log);
        }
        assertThat(resumed.endReason()).isEqualTo(AgentLoop.ANSWERED);
        assertThat(resumed.toolsExecuted()).isZero();
        assertThat(resumed.toolsReplayed()).isEqualTo(2);
        // The script appends a line each time it runs: still one line, so the shell call was not re-run.
        assertThat(Files.readString(sb.workspace().resolve("runs.txt"))).isEqualTo("ran\n");
        assertThat(resumed.conversation().stream().filter(m -> m.role() == Message.Role.TOOL).toList().get(1).content())
                .contains("sum=42");
    }
}
