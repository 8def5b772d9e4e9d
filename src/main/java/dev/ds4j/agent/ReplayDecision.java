package dev.ds4j.agent;

import java.util.Objects;

/**
 * What a resumed agent loop does with a tool call the model asks for, given the log of the interrupted run.
 * The loop must act on every case: there is no default that runs a tool whose earlier run is in doubt.
 */
public sealed interface ReplayDecision {

    /** The call finished before the interruption: answer it with the logged result, do not run the tool. */
    record UseRecorded(TrajectoryRecord.ToolFinished result) implements ReplayDecision {
        public UseRecorded { Objects.requireNonNull(result, "result"); }
    }

    /** Run the tool: the call never started, or it started without a result and its tool is idempotent. */
    record Run(String why) implements ReplayDecision {
        public Run { Objects.requireNonNull(why, "why"); }
    }

    /**
     * Do not run the tool: it may already have taken effect (started, no result, not idempotent), or the resumed
     * run asks something else under a logged call id. The caller surfaces the reason instead of guessing.
     * {@code unfinished}: the first case (the call as logged started and has no result), not a divergence.
     */
    record Refuse(String reason, boolean unfinished) implements ReplayDecision {
        public Refuse { Objects.requireNonNull(reason, "reason"); }
    }
}
