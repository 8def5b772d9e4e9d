package dev.ds4j.cli;

import dev.ds4j.agent.AgentLoop;
import dev.ds4j.agent.Trajectory;
import dev.ds4j.agent.TrajectoryRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.Callable;

/**
 * {@code ds4j agent show RUN_DIR}: the run's log as a reader wants it, one line per record in log order (so a
 * resumed run shows where it was cut and what was answered from the log), then a summary that says whether the run
 * can be resumed and which call, if any, was left running.
 */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Prints an agent run's trajectory log: the task and settings, each model turn, each tool call and its result, how the run ended.")
final class AgentShowCommand implements Callable<Integer> {
    @Parameters(paramLabel = "RUN_DIR", description = "the run's directory (holding trajectory.jsonl)")
    Path runDir;

    @Option(names = "--full", description = "print texts and results whole instead of one-line excerpts")
    boolean full;

    @Override
    public Integer call() {
        AgentRun.requireRunDir(runDir);
        Trajectory t = Trajectory.read(runDir);
        PrintStream out = System.out;
        int steps = 0, calls = 0, failed = 0;
        long prompt = 0, completion = 0;
        for (TrajectoryRecord rec : t.records()) {
            switch (rec) {
                case TrajectoryRecord.RunStart s -> {
                    out.println("[run] " + text(s.task()) + " (model " + s.model() + ", started " + Instant.ofEpochMilli(s.startedAtMillis()) + ")");
                    if (!s.settings().isEmpty()) out.println("  [settings] " + new java.util.TreeMap<>(s.settings()));
                }
                case TrajectoryRecord.ModelStep m -> {
                    steps++;
                    prompt += m.promptTokens();
                    completion += m.completionTokens();
                    out.printf("[step %d] %d prompt + %d completion tokens, %.1f s%n", m.step(), m.promptTokens(),
                            m.completionTokens(), m.elapsedMillis() / 1000.0);
                    if (m.reasoning() != null && !m.reasoning().isBlank()) out.println("  [reasoning] " + text(m.reasoning()));
                    if (m.content() != null && !m.content().isBlank()) out.println("  [text] " + text(m.content()));
                    for (TrajectoryRecord.ToolCall c : m.toolCalls())
                        out.println("  [call " + c.id() + "] " + c.name() + " " + text(c.argumentsJson()));
                }
                case TrajectoryRecord.ToolStarted s -> out.println("  [started " + s.callId() + "] " + s.tool()
                        + (s.idempotent() ? " (idempotent)" : ""));
                case TrajectoryRecord.ToolFinished f -> {
                    calls++;
                    if (f.exitStatus() != 0) failed++;
                    out.printf("  [result %s, %s, %.1f s] %s%n", f.callId(), f.exitStatus() == 0 ? "ok" : "failed",
                            f.elapsedMillis() / 1000.0, text(f.result()));
                }
                case TrajectoryRecord.RunEnd e -> out.println("[end] " + e.reason() + " at " + Instant.ofEpochMilli(e.endedAtMillis()));
            }
        }
        t.droppedTail().ifPresent(d -> out.println("[log] " + d));
        out.printf("%d model turns (%d prompt + %d completion tokens), %d tool results (%d failed)%n", steps, prompt,
                completion, calls, failed);
        for (Trajectory.Call c : t.unfinishedCalls())
            out.println("unfinished: " + c.started().callId() + " (" + c.started().tool() + ") started without a result"
                    + (c.started().idempotent() ? "; idempotent, so a resume runs it again"
                    : "; a resume stops there unless --tell-model-unfinished"));
        boolean answered = t.end().isPresent() && AgentLoop.ANSWERED.equals(t.end().get().reason());
        out.println(answered ? "the run is finished (answered)"
                : "the run can be continued: ds4j agent resume " + runDir);
        return 0;
    }

    private String text(String s) {
        return full ? s : AgentLiveView.excerpt(s, 200);
    }
}
