package dev.ds4j.agent;

import dev.ds4j.agent.TrajectoryRecord.ModelStep;
import dev.ds4j.agent.TrajectoryRecord.RunEnd;
import dev.ds4j.agent.TrajectoryRecord.RunStart;
import dev.ds4j.agent.TrajectoryRecord.ToolCall;
import dev.ds4j.agent.TrajectoryRecord.ToolFinished;
import dev.ds4j.agent.TrajectoryRecord.ToolStarted;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Map;

/**
 * A scripted agent run for the crash test: step i makes tool call "call-i". Its "tool" appends the call id to a
 * counter file (fsync'd), so the test can count real executions independently of the log. Even calls use a
 * non-idempotent tool, odd calls an idempotent one. Run as a child JVM, it is killed mid-run; run again, it
 * resumes through {@link Trajectory#decide}.
 */
public final class TrajectoryCrashChild {

    /** Outcome of one (possibly resumed) run. */
    record Outcome(int executed, int reused, List<String> refused) {}

    public static void main(String[] args) throws IOException {
        run(Path.of(args[0]), Path.of(args[1]), Integer.parseInt(args[2]));
    }

    static Outcome run(Path runDir, Path counter, int calls) throws IOException {
        int executed = 0, reused = 0;
        List<String> refused = new java.util.ArrayList<>();
        boolean resume = Files.exists(runDir.resolve(TrajectoryLog.FILE_NAME));
        try (TrajectoryLog log = resume ? TrajectoryLog.open(runDir)
                : TrajectoryLog.create(runDir, new RunStart("count to " + calls, "scripted", Map.of("calls", "" + calls),
                        System.currentTimeMillis()))) {
            Trajectory t = log.trajectory();
            for (int i = 0; i < calls; i++) {
                String callId = "call-" + i;
                boolean idempotent = i % 2 == 1;
                String tool = idempotent ? "read_counter" : "append_line";
                String argsJson = "{\"i\":" + i + ",\"text\":\"line \\\"" + i + "\\\" ünï\"}";
                // Model steps are replayed from the log too, as a resumed agent would instead of sampling again.
                if (t.steps().size() <= i) {
                    log.append(new ModelStep(i, "raw output " + i, "think " + i, "",
                            List.of(new ToolCall(callId, tool, argsJson)), 100 + i, 10, System.currentTimeMillis(), 1));
                }
                switch (t.decide(i, callId, tool, argsJson, idempotent)) {
                    case ReplayDecision.UseRecorded u -> reused++;
                    case ReplayDecision.Refuse r -> refused.add(r.reason());
                    case ReplayDecision.Run r -> {
                        long t0 = System.currentTimeMillis();
                        log.append(new ToolStarted(i, callId, tool, argsJson, idempotent, t0));
                        executeTool(counter, callId);
                        executed++;
                        log.append(new ToolFinished(callId, "ran " + callId, 0, System.currentTimeMillis(),
                                System.currentTimeMillis() - t0));
                    }
                }
            }
            log.append(new RunEnd("done", System.currentTimeMillis()));
        }
        return new Outcome(executed, reused, refused);
    }

    private static void executeTool(Path counter, String callId) throws IOException {
        try (FileChannel ch = FileChannel.open(counter, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap((callId + "\n").getBytes(StandardCharsets.UTF_8)));
            ch.force(false);
        }
        // A tool takes time: widens the window in which a kill finds a call started but not finished.
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
