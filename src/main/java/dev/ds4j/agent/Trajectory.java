package dev.ds4j.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.agent.TrajectoryRecord.ModelStep;
import dev.ds4j.agent.TrajectoryRecord.RunEnd;
import dev.ds4j.agent.TrajectoryRecord.RunStart;
import dev.ds4j.agent.TrajectoryRecord.ToolFinished;
import dev.ds4j.agent.TrajectoryRecord.ToolStarted;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The state of a run replayed from its log: the ordered records and steps, and for every tool call whether it
 * finished, started without a result, or never started. {@link #decide} turns that into what a resumed run does.
 */
public final class Trajectory {

    /** A logged tool call; {@code finished} is null while it has no result. */
    public record Call(long startedSeq, ToolStarted started, ToolFinished finished) {
        public boolean isFinished() { return finished != null; }
    }

    private record Key(int step, String tool, Object args) {}

    private final List<TrajectoryRecord> records = new ArrayList<>();
    private final List<ModelStep> steps = new ArrayList<>();
    private final Map<String, Call> callsById = new HashMap<>();
    private final Map<Key, Call> callsByKey = new HashMap<>();
    private RunStart start;
    private RunEnd end;
    private String droppedTail;

    Trajectory() {}

    void droppedTail(String report) { droppedTail = report; }

    int size() { return records.size(); }

    /** Reads a run directory's log without changing it; a torn last line is left out and reported by {@link #droppedTail()}. */
    public static Trajectory read(Path runDir) {
        return TrajectoryReader.read(runDir.resolve(TrajectoryLog.FILE_NAME)).trajectory();
    }

    public List<TrajectoryRecord> records() { return List.copyOf(records); }
    public List<ModelStep> steps() { return List.copyOf(steps); }
    public Optional<RunStart> start() { return Optional.ofNullable(start); }
    public Optional<RunEnd> end() { return Optional.ofNullable(end); }
    /** What was cut off the end of the log when it was read (a write interrupted by a crash), if anything. */
    public Optional<String> droppedTail() { return Optional.ofNullable(droppedTail); }

    public Optional<Call> call(String callId) { return Optional.ofNullable(callsById.get(callId)); }

    /** Looks a call up by what it does rather than its id, so a resumed run whose ids changed is still matched. */
    public Optional<Call> call(int step, String tool, String argumentsJson) {
        return Optional.ofNullable(callsByKey.get(new Key(step, tool, argsKey(argumentsJson))));
    }

    /** Calls that started and have no result: after a crash, at most the one that was running. */
    public List<Call> unfinishedCalls() {
        return callsById.values().stream().filter(c -> !c.isFinished())
                .sorted((a, b) -> Long.compare(a.startedSeq(), b.startedSeq())).toList();
    }

    /** {@link #decide(int, String, String, String, boolean)} matching by call id only. */
    public ReplayDecision decide(String callId, String tool, String argumentsJson, boolean idempotent) {
        return decide(callsById.get(callId), callId, tool, argumentsJson, idempotent);
    }

    /**
     * What a resumed run does with a tool call: matched by id, else by (step, tool, arguments). A recorded result
     * is reused; a call with no result is run again only if both the log and the caller say its tool is idempotent.
     */
    public ReplayDecision decide(int step, String callId, String tool, String argumentsJson, boolean idempotent) {
        Call c = callsById.get(callId);
        if (c == null) c = callsByKey.get(new Key(step, tool, argsKey(argumentsJson)));
        return decide(c, callId, tool, argumentsJson, idempotent);
    }

    private static ReplayDecision decide(Call c, String callId, String tool, String argumentsJson, boolean idempotent) {
        if (c == null) return new ReplayDecision.Run("call " + callId + " (" + tool + ") is not in the log: it never started");
        ToolStarted s = c.started();
        if (!s.tool().equals(tool) || !argsKey(s.argumentsJson()).equals(argsKey(argumentsJson))) {
            return new ReplayDecision.Refuse("call " + callId + " is logged as " + s.tool() + " " + s.argumentsJson()
                    + " (step " + s.step() + ") but is now asked as " + tool + " " + argumentsJson
                    + ": the resumed run diverged from the log", false);
        }
        if (c.isFinished()) return new ReplayDecision.UseRecorded(c.finished());
        if (idempotent && s.idempotent()) {
            return new ReplayDecision.Run("call " + s.callId() + " (" + tool + ") started (seq " + c.startedSeq()
                    + ") without a result; " + tool + " is idempotent, so it runs again");
        }
        return new ReplayDecision.Refuse("call " + s.callId() + " (" + tool + " " + s.argumentsJson() + ", step "
                + s.step() + ") started (seq " + c.startedSeq() + ") but has no result: it may already have taken effect, and "
                + tool + " is not " + (s.idempotent() ? "declared idempotent now" : "idempotent")
                + ", so it must not run again", true);
    }

    /**
     * Adds the next record, or returns what is wrong with it (the log refuses such an append; a reader reports
     * the line). Nothing is changed when a problem is returned.
     */
    String problem(TrajectoryRecord rec) {
        return switch (rec) {
            case RunStart s -> start != null ? "a second run_start" : !records.isEmpty() ? "run_start is not the first record" : null;
            case ToolStarted s -> {
                Call prev = callsById.get(s.callId());
                if (prev != null && prev.isFinished()) yield "tool_started for call " + s.callId() + ", which already finished";
                yield null;
            }
            case ToolFinished f -> {
                Call prev = callsById.get(f.callId());
                if (prev == null) yield "tool_finished for call " + f.callId() + ", which never started";
                if (prev.isFinished()) yield "a second tool_finished for call " + f.callId();
                yield null;
            }
            case ModelStep m -> null;
            case RunEnd e -> null;
        };
    }

    /** Appends a record; the caller has checked {@link #problem}. */
    void add(TrajectoryRecord rec) {
        long seq = records.size();
        records.add(rec);
        switch (rec) {
            case RunStart s -> start = s;
            case ModelStep m -> steps.add(m);
            case ToolStarted s -> index(new Call(seq, s, null));
            case ToolFinished f -> {
                Call prev = callsById.get(f.callId());
                index(new Call(prev.startedSeq(), prev.started(), f));
            }
            case RunEnd e -> end = e;
        }
    }

    private void index(Call c) {
        ToolStarted s = c.started();
        callsById.put(s.callId(), c);
        callsByKey.put(new Key(s.step(), s.tool(), argsKey(s.argumentsJson())), c);
    }

    /** Arguments compare as JSON values (member order and spacing do not matter), or as text if they are not JSON. */
    private static Object argsKey(String json) {
        try {
            JsonNode n = TrajectoryCodec.JSON.readTree(json);
            return n == null ? json : n;
        } catch (JsonProcessingException e) {
            return json;
        }
    }
}
