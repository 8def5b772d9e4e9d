package dev.ds4j.agent;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One line of a run's trajectory log. The log assigns the sequence number and the checksum; these records are
 * only the content. Tool arguments are kept as the JSON text the model produced, so a resumed run can be
 * checked against exactly what ran.
 */
public sealed interface TrajectoryRecord {

    /** The {@code kind} field written to the log. */
    String kind();

    /** What the run was asked to do and with which model and settings. */
    record RunStart(String task, String model, Map<String, String> settings, long startedAtMillis)
            implements TrajectoryRecord {
        public RunStart {
            Objects.requireNonNull(task, "task");
            Objects.requireNonNull(model, "model");
            settings = Map.copyOf(settings);
        }
        @Override public String kind() { return "run_start"; }
    }

    /** A tool call as the parser read it from the model's output. */
    record ToolCall(String id, String name, String argumentsJson) {
        public ToolCall {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(argumentsJson, "argumentsJson");
        }
    }

    /** One generation: the raw text is kept besides the parse, so a parser change can be replayed against it. */
    record ModelStep(int step, String rawOutput, String reasoning, String content, List<ToolCall> toolCalls,
                     int promptTokens, int completionTokens, long startedAtMillis, long elapsedMillis)
            implements TrajectoryRecord {
        public ModelStep {
            Objects.requireNonNull(rawOutput, "rawOutput");
            toolCalls = List.copyOf(toolCalls);
        }
        @Override public String kind() { return "model_step"; }
    }

    /** Written and fsync'd before the tool runs: the pre-execute marker of the two-phase protocol. */
    record ToolStarted(int step, String callId, String tool, String argumentsJson, boolean idempotent,
                       long startedAtMillis) implements TrajectoryRecord {
        public ToolStarted {
            Objects.requireNonNull(callId, "callId");
            Objects.requireNonNull(tool, "tool");
            Objects.requireNonNull(argumentsJson, "argumentsJson");
        }
        @Override public String kind() { return "tool_started"; }
    }

    /** The tool's outcome; its presence is what lets a resumed run answer the call without running it. */
    record ToolFinished(String callId, String result, int exitStatus, long finishedAtMillis, long elapsedMillis)
            implements TrajectoryRecord {
        public ToolFinished {
            Objects.requireNonNull(callId, "callId");
            Objects.requireNonNull(result, "result");
        }
        @Override public String kind() { return "tool_finished"; }
    }

    /** Why the run stopped (answer given, step limit, error ...). */
    record RunEnd(String reason, long endedAtMillis) implements TrajectoryRecord {
        public RunEnd { Objects.requireNonNull(reason, "reason"); }
        @Override public String kind() { return "run_end"; }
    }
}
