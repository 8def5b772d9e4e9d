package dev.ds4j.agent;

import dev.ds4j.agent.TrajectoryRecord.ToolFinished;
import dev.ds4j.agent.TrajectoryRecord.ToolStarted;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Kills a real agent run (a child JVM) with SIGKILL three times mid-run, then resumes it to the end, and checks
 * from an independent execution counter that no completed tool call ever ran twice.
 */
class TrajectoryCrashTest {
    private static final int KILLS = 3;
    private static final int CALLS_BETWEEN_KILLS = 25;

    @TempDir Path dir;
    private Map<String, Long> executedAtPreviousKill = Map.of();

    @Test
    void killedRunsResumeWithoutReExecutingCompletedCalls() throws Exception {
        Path runDir = dir.resolve("run");
        Path counter = dir.resolve("executions.txt");
        List<TrajectoryRecord> before = List.of();
        Set<String> killedMidTool = new TreeSet<>();
        for (int kill = 1; kill <= KILLS; kill++) {
            int target = lines(counter).size() + CALLS_BETWEEN_KILLS;
            Process child = startChild(runDir, counter);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (lines(counter).size() < target) {
                if (!child.isAlive()) fail("child exited with " + child.exitValue() + ": " + stderr(child));
                if (System.nanoTime() > deadline) {
                    child.destroyForcibly();
                    fail("child made fewer than " + target + " tool calls in 10 s: " + stderr(child));
                }
                Thread.sleep(5);
            }
            child.destroyForcibly().waitFor();  // SIGKILL on Linux: no shutdown hooks, no finally blocks

            Trajectory t = Trajectory.read(runDir);
            checkLogIntact(runDir, t, before);
            checkExecutions(t, counter, before);
            System.out.printf("kill %d: %d records, %d calls executed, unfinished %s, torn tail: %s%n", kill,
                    t.records().size(), lines(counter).size(),
                    t.unfinishedCalls().stream().map(c -> c.started().callId()).toList(),
                    t.droppedTail().orElse("none"));
            before = t.records();
            t.unfinishedCalls().forEach(c -> killedMidTool.add(c.started().callId()));
        }
        // The child is killed just after a tool's counter write, inside its 20 ms run, so the started-without-result
        // case is really exercised (the decision test covers it deterministically).
        assertThat(killedMidTool).as("kills that landed inside a tool call").isNotEmpty();

        Trajectory atKill = Trajectory.read(runDir);
        Map<String, Long> executedBefore = counts(lines(counter));
        int calls = atKill.steps().size() + 5;
        TrajectoryCrashChild.Outcome out = TrajectoryCrashChild.run(runDir, counter, calls);

        Map<String, Long> executedAfter = counts(lines(counter));
        Set<String> completedAtKill = finishedIds(atKill);
        List<String> reExecuted = completedAtKill.stream()
                .filter(id -> executedAfter.get(id) != executedBefore.get(id).longValue()).toList();
        System.out.printf("resume: %d reused, %d executed, refused %s%n", out.reused(), out.executed(), out.refused());
        assertThat(reExecuted).as("completed calls executed again by the resumed run").isEmpty();
        assertThat(out.reused()).isEqualTo(completedAtKill.size());

        // Every unfinished call of a non-idempotent tool is refused with its reason; idempotent ones run again.
        List<Trajectory.Call> unfinished = atKill.unfinishedCalls();
        for (Trajectory.Call c : unfinished) {
            String id = c.started().callId();
            if (c.started().idempotent()) {
                assertThat(executedAfter.get(id)).as(id).isEqualTo(executedBefore.getOrDefault(id, 0L) + 1);
            } else {
                assertThat(out.refused()).anySatisfy(r -> assertThat(r).contains(id).contains("must not run again"));
                assertThat(executedAfter.getOrDefault(id, 0L)).as(id).isEqualTo(executedBefore.getOrDefault(id, 0L));
            }
        }
        Trajectory done = Trajectory.read(runDir);
        assertThat(done.end()).isPresent();
        assertThat(done.unfinishedCalls()).allSatisfy(c -> assertThat(c.started().idempotent()).isFalse());
        assertThat(finishedIds(done).size() + done.unfinishedCalls().size()).isEqualTo(calls);
    }

    /** Control: the counter does see re-execution, so the check above could fail. A run without its log re-runs everything. */
    @Test
    void counterDetectsReExecutionWhenTheLogIsIgnored() throws Exception {
        Path counter = dir.resolve("executions.txt");
        TrajectoryCrashChild.run(dir.resolve("first"), counter, 6);
        TrajectoryCrashChild.Outcome again = TrajectoryCrashChild.run(dir.resolve("fresh"), counter, 6);
        assertThat(again.executed()).isEqualTo(6);
        assertThat(counts(lines(counter)).values()).containsOnly(2L);
    }

    private static void checkLogIntact(Path runDir, Trajectory t, List<TrajectoryRecord> before) throws IOException {
        byte[] bytes = Files.readAllBytes(runDir.resolve(TrajectoryLog.FILE_NAME));
        int newlines = 0, lastNewline = -1;
        for (int i = 0; i < bytes.length; i++) if (bytes[i] == '\n') { newlines++; lastNewline = i; }
        // Every complete line is a record; only the bytes after the last newline may be a torn write.
        assertThat(t.records()).hasSize(newlines);
        assertThat(t.droppedTail().isPresent()).isEqualTo(lastNewline != bytes.length - 1);
        // Append-only across kills and resumptions: what was there before is unchanged.
        assertThat(t.records().subList(0, before.size())).isEqualTo(before);
    }

    /**
     * A call completed before the previous kill ran exactly as often as it had then (a resumed child must answer it
     * from the log); a non-idempotent call never ran twice. An idempotent call found unfinished may have run again.
     */
    private void checkExecutions(Trajectory t, Path counter, List<TrajectoryRecord> before) throws IOException {
        Map<String, Long> executed = counts(lines(counter));
        Set<String> completedBefore = finishedIds(before);
        for (String id : completedBefore) {
            assertThat(executed.get(id)).as("executions of " + id + ", completed before the previous kill")
                    .isEqualTo(executedAtPreviousKill.get(id));
        }
        for (String id : finishedIds(t.records())) assertThat(executed).as("finished " + id).containsKey(id);
        for (TrajectoryRecord r : t.records()) {
            if (r instanceof ToolStarted s && !s.idempotent()) {
                assertThat(executed.getOrDefault(s.callId(), 0L)).as("executions of non-idempotent " + s.callId())
                        .isLessThanOrEqualTo(1);
            }
        }
        executedAtPreviousKill = executed;
        Set<String> started = t.records().stream().filter(r -> r instanceof ToolStarted)
                .map(r -> ((ToolStarted) r).callId()).collect(Collectors.toSet());
        assertThat(started).as("no tool ran before its start marker was logged").containsAll(executed.keySet());
    }

    private static Set<String> finishedIds(Trajectory t) { return finishedIds(t.records()); }

    private static Set<String> finishedIds(List<TrajectoryRecord> records) {
        return records.stream().filter(r -> r instanceof ToolFinished).map(r -> ((ToolFinished) r).callId())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private Process startChild(Path runDir, Path counter) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx64m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), TrajectoryCrashChild.class.getName(),
                runDir.toString(), counter.toString(), "1000000")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(dir.resolve("child-stderr.txt").toFile())
                .start();
    }

    private String stderr(Process p) throws IOException {
        Path f = dir.resolve("child-stderr.txt");
        return Files.exists(f) ? Files.readString(f) : "(no stderr)";
    }

    private static List<String> lines(Path counter) throws IOException {
        if (!Files.exists(counter)) return List.of();
        String s = Files.readString(counter, StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>(List.of(s.split("\n")));
        // A line being written when we look (or when the child dies) has no newline yet: not counted.
        if (!s.endsWith("\n") && !out.isEmpty()) out.removeLast();
        out.removeIf(String::isEmpty);
        return out;
    }

    private static Map<String, Long> counts(List<String> ids) {
        return ids.stream().collect(Collectors.groupingBy(x -> x, TreeMap::new, Collectors.counting()));
    }
}
