package dev.ds4j.agent;

import dev.ds4j.agent.ReplayDecision.Refuse;
import dev.ds4j.agent.ReplayDecision.Run;
import dev.ds4j.agent.ReplayDecision.UseRecorded;
import dev.ds4j.agent.TrajectoryRecord.RunStart;
import dev.ds4j.agent.TrajectoryRecord.ToolFinished;
import dev.ds4j.agent.TrajectoryRecord.ToolStarted;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The resume decision table, always on a log read back from disk (what a resumed process sees). */
class TrajectoryDecisionTest {
    @TempDir Path run;
    private Trajectory t;

    private static final String WRITE_ARGS = "{\"path\":\"a.txt\",\"text\":\"hi\"}";

    @BeforeEach
    void logAnInterruptedRun() {
        try (TrajectoryLog log = TrajectoryLog.create(run, new RunStart("task", "m", Map.of(), 0))) {
            log.append(new ToolStarted(0, "done", "write_file", WRITE_ARGS, false, 1));
            log.append(new ToolFinished("done", "wrote 2 bytes", 0, 2, 1));
            log.append(new ToolStarted(1, "half-shell", "shell", "{\"cmd\":\"rm x\"}", false, 3));
            log.append(new ToolStarted(1, "half-read", "read_file", "{\"path\":\"a.txt\"}", true, 3));
        }
        t = Trajectory.read(run);
    }

    @Test
    void finishedCallAnswersWithItsRecordedResult() {
        ReplayDecision d = t.decide("done", "write_file", WRITE_ARGS, false);
        assertThat(d).isInstanceOf(UseRecorded.class);
        assertThat(((UseRecorded) d).result()).isEqualTo(new ToolFinished("done", "wrote 2 bytes", 0, 2, 1));
    }

    @Test
    void argumentsCompareAsJsonNotAsText() {
        assertThat(t.decide("done", "write_file", "{ \"text\": \"hi\", \"path\": \"a.txt\" }", false))
                .isInstanceOf(UseRecorded.class);
    }

    @Test
    void startedIdempotentCallRunsAgain() {
        ReplayDecision d = t.decide("half-read", "read_file", "{\"path\":\"a.txt\"}", true);
        assertThat(d).isInstanceOf(Run.class);
        assertThat(((Run) d).why()).contains("half-read").contains("idempotent, so it runs again");
    }

    @Test
    void startedNonIdempotentCallIsRefusedWithTheReason() {
        ReplayDecision d = t.decide("half-shell", "shell", "{\"cmd\":\"rm x\"}", false);
        assertThat(d).isInstanceOf(Refuse.class);
        assertThat(((Refuse) d).reason()).contains("half-shell").contains("rm x").contains("no result")
                .contains("must not run again");
    }

    @Test
    void idempotenceMustBeDeclaredBothInTheLogAndNow() {
        // Logged as non-idempotent: a tool redeclared idempotent later does not make that run safe to repeat.
        assertThat(t.decide("half-shell", "shell", "{\"cmd\":\"rm x\"}", true)).isInstanceOf(Refuse.class);
        // Logged idempotent, declared non-idempotent now: the caller knows better.
        assertThat(t.decide("half-read", "read_file", "{\"path\":\"a.txt\"}", false)).isInstanceOf(Refuse.class);
    }

    @Test
    void unknownCallRuns() {
        ReplayDecision d = t.decide("new", "shell", "{\"cmd\":\"ls\"}", false);
        assertThat(d).isInstanceOf(Run.class);
        assertThat(((Run) d).why()).contains("never started");
    }

    @Test
    void loggedIdAskedWithOtherArgumentsIsRefusedAsDivergence() {
        ReplayDecision d = t.decide("done", "write_file", "{\"path\":\"b.txt\",\"text\":\"hi\"}", false);
        assertThat(d).isInstanceOf(Refuse.class);
        assertThat(((Refuse) d).reason()).contains("diverged").contains("a.txt").contains("b.txt");
        assertThat(t.decide("done", "shell", WRITE_ARGS, false)).isInstanceOf(Refuse.class);
    }

    @Test
    void newIdForALoggedStepToolAndArgumentsIsMatchedByContent() {
        assertThat(t.decide(0, "renamed", "write_file", WRITE_ARGS, false)).isInstanceOf(UseRecorded.class);
        assertThat(t.decide(1, "renamed2", "shell", "{\"cmd\":\"rm x\"}", false)).isInstanceOf(Refuse.class);
        // Same tool and arguments at another step is another call.
        assertThat(t.decide(5, "renamed3", "write_file", WRITE_ARGS, false)).isInstanceOf(Run.class);
        // Matching by id alone does not look at content.
        assertThat(t.decide("renamed", "write_file", WRITE_ARGS, false)).isInstanceOf(Run.class);
    }

    @Test
    void reRunIdempotentCallThatFinishesIsThenAnsweredFromTheLog() {
        try (TrajectoryLog log = TrajectoryLog.open(run)) {
            assertThat(log.trajectory().unfinishedCalls()).extracting(c -> c.started().callId())
                    .containsExactly("half-shell", "half-read");
            log.append(new ToolStarted(1, "half-read", "read_file", "{\"path\":\"a.txt\"}", true, 9));
            log.append(new ToolFinished("half-read", "hi", 0, 10, 1));
        }
        Trajectory again = Trajectory.read(run);
        assertThat(again.decide("half-read", "read_file", "{\"path\":\"a.txt\"}", true)).isInstanceOf(UseRecorded.class);
        assertThat(again.call("half-read").orElseThrow().startedSeq()).isEqualTo(5);
    }
}
