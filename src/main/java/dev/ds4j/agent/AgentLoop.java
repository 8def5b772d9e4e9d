package dev.ds4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.agent.tools.ToolRegistry;
import dev.ds4j.agent.tools.ToolResult;
import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.sandbox.Sandbox;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The agent runtime's core loop: render, generate, parse DSML, run each tool call in the sandbox (or answer it
 * from the trajectory log of an interrupted run), feed the results back as tool messages, until the model
 * answers without tool calls or a limit is hit. Every step is written to the log before the loop acts on it.
 *
 * <p>Reasoning is kept on every assistant message; whether it is rendered back is the renderer's rule (with
 * tools declared it never drops it, CHAT_FORMAT §3.3), so the loop does not decide that itself.
 */
public final class AgentLoop {
    /** End reasons written to the run_end record. */
    public static final String ANSWERED = "answered", MAX_STEPS = "max_steps", MAX_TOKENS = "max_tokens",
            WALL_TIME = "wall_time", INTERRUPTED = "interrupted";

    public record Limits(int maxSteps, long maxCompletionTokens, Duration wallTime) {
        public Limits {
            if (maxSteps < 1) throw new IllegalArgumentException("maxSteps: must be at least 1, got " + maxSteps);
            if (maxCompletionTokens < 1) throw new IllegalArgumentException("maxCompletionTokens: must be at least 1, got " + maxCompletionTokens);
            Objects.requireNonNull(wallTime, "wallTime");
        }
        public static Limits defaults() { return new Limits(32, 200_000, Duration.ofMinutes(30)); }
    }

    /** How a run ended: the reason logged, the whole conversation, and the number of tools really executed. */
    public record Outcome(String endReason, List<Message> conversation, int toolsExecuted, int toolsReplayed) {}

    /** What a live view sees of a run, in order. Called on the loop's thread; the defaults do nothing. */
    public interface Listener {
        /** A model turn starts (before generation). */
        default void stepStarted(int step) {}
        /** The model's turn, parsed, and the time it took. */
        default void stepFinished(int step, ModelClient.Completion completion, long millis) {}
        /** A tool call is about to run ({@code fromLog}: it will be answered from the trajectory log instead). */
        default void toolStarted(TrajectoryRecord.ToolCall call, boolean fromLog) {}
        /** Its result, as the model will read it. */
        default void toolFinished(TrajectoryRecord.ToolCall call, String result, boolean ok, boolean fromLog, long millis) {}
        Listener NONE = new Listener() {};
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ModelClient model;
    private final ToolRegistry tools;
    private final Sandbox sandbox;
    private final RenderOptions options;
    private final Limits limits;
    private Listener listener = Listener.NONE;
    private boolean tellModelUnfinished;

    /** Text given to the model for a call that was running when the runtime died (see {@link #tellModelUnfinished}). */
    public static final String UNFINISHED_RESULT = "[not run again] The runtime stopped while this call was running, "
            + "so it may or may not have taken effect. Check its effects before repeating it.";

    /**
     * On resume, a non-idempotent call that started without a result ends the run by default (it may have taken
     * effect; only someone who looks can tell). With this set, the model is told so instead, as that call's result
     * ({@link #UNFINISHED_RESULT}, logged as a failed result), and the run goes on: the model can check and decide.
     */
    public AgentLoop tellModelUnfinished(boolean on) {
        this.tellModelUnfinished = on;
        return this;
    }

    /** Sets who is told of each step as it happens (a live view); returns this loop. */
    public AgentLoop listener(Listener l) {
        this.listener = Objects.requireNonNull(l, "listener");
        return this;
    }

    public AgentLoop(ModelClient model, ToolRegistry tools, Sandbox sandbox, RenderOptions options, Limits limits) {
        this.model = Objects.requireNonNull(model, "model");
        this.tools = Objects.requireNonNull(tools, "tools");
        this.sandbox = Objects.requireNonNull(sandbox, "sandbox");
        this.options = Objects.requireNonNull(options, "options");
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    /**
     * Runs {@code task} with the given log. For a fresh run pass a log from {@link TrajectoryLog#create}; to resume
     * pass {@link TrajectoryLog#open} on the interrupted run's directory: the model is asked again, and calls the
     * log shows finished are answered from it instead of being re-run.
     */
    public Outcome run(String system, String task, TrajectoryLog log) {
        return run(system, task, log, () -> false);
    }

    /**
     * As above; once {@code stop} answers true (the user's Ctrl-C) the run ends as {@link #INTERRUPTED} at the next
     * point where nothing is half done: a generation in progress is abandoned (its text is not logged), a tool call
     * in progress finishes and is logged first. The wall-time limit ends a generation midway the same way.
     */
    public Outcome run(String system, String task, TrajectoryLog log, BooleanSupplier stop) {
        Objects.requireNonNull(stop, "stop");
        Trajectory previous = log.trajectory();
        List<Message> conversation = new ArrayList<>();
        if (system != null) conversation.add(Message.system(system));
        conversation.add(Message.user(task));
        List<JsonNode> declared = tools.declarationList();
        long t0 = System.nanoTime();
        long tokens = 0;
        int executed = 0, replayed = 0;
        long deadline = t0 + limits.wallTime().toNanos();
        BooleanSupplier overTime = () -> System.nanoTime() - deadline > 0;
        for (int step = 0; ; step++) {
            if (stop.getAsBoolean()) return end(log, INTERRUPTED, conversation, executed, replayed);
            if (step >= limits.maxSteps()) return end(log, MAX_STEPS, conversation, executed, replayed);
            if (overTime.getAsBoolean()) return end(log, WALL_TIME, conversation, executed, replayed);
            if (tokens >= limits.maxCompletionTokens()) return end(log, MAX_TOKENS, conversation, executed, replayed);

            long started = System.currentTimeMillis();
            listener.stepStarted(step);
            ModelClient.Completion c;
            try {
                c = model.complete(conversation, declared, options, () -> stop.getAsBoolean() || overTime.getAsBoolean());
            } catch (CancellationException e) {
                return end(log, overTime.getAsBoolean() ? WALL_TIME : INTERRUPTED, conversation, executed, replayed);
            } catch (ChatFormatException e) {
                // The model's output broke the DSML grammar: there is no parse to act on, so the run stops and says why.
                return end(log, "parse_error: " + e.getMessage(), conversation, executed, replayed);
            } catch (ModelClientException e) {
                // No answer (endpoint down, HTTP error after retries): the log says why; a later run can resume it.
                return end(log, "model_error: " + e.getMessage(), conversation, executed, replayed);
            }
            tokens += c.completionTokens();
            ParsedCompletion p = c.parsed();
            List<TrajectoryRecord.ToolCall> logged = new ArrayList<>();
            List<Message.ToolCall> calls = new ArrayList<>();
            for (int i = 0; i < p.toolCalls().size(); i++) {
                ParsedCompletion.ToolCall tc = p.toolCalls().get(i);
                // Deterministic ids: a resumed run that asks the same calls gets the same ids, so decide() matches them.
                String id = "call_" + step + "_" + i;
                logged.add(new TrajectoryRecord.ToolCall(id, tc.name(), tc.arguments()));
                calls.add(new Message.ToolCall(id, tc.name(), argumentsObject(tc.arguments())));
            }
            long took = System.currentTimeMillis() - started;
            log.append(new TrajectoryRecord.ModelStep(step, c.rawText(), p.reasoningContent(), p.content(), logged,
                    c.promptTokens(), c.completionTokens(), started, took));
            listener.stepFinished(step, c, took);
            conversation.add(Message.assistant(p.reasoningContent(), p.content(), calls.isEmpty() ? null : calls));
            if (calls.isEmpty()) {
                return end(log, c.truncated() ? MAX_TOKENS : ANSWERED, conversation, executed, replayed);
            }
            for (TrajectoryRecord.ToolCall call : logged) {
                // Between calls nothing is half done: a resumed run asks this step again and runs what is left.
                if (stop.getAsBoolean()) return end(log, INTERRUPTED, conversation, executed, replayed);
                boolean idempotent = tools.idempotent(call.name());
                ReplayDecision d = previous.decide(step, call.id(), call.name(), call.argumentsJson(), idempotent);
                String resultText;
                switch (d) {
                    case ReplayDecision.UseRecorded u -> {
                        listener.toolStarted(call, true);
                        resultText = u.result().result();
                        replayed++;
                        listener.toolFinished(call, resultText, u.result().exitStatus() == 0, true, 0);
                    }
                    case ReplayDecision.Run r -> {
                        listener.toolStarted(call, false);
                        long ts = System.currentTimeMillis();
                        log.append(new TrajectoryRecord.ToolStarted(step, call.id(), call.name(), call.argumentsJson(), idempotent, ts));
                        ToolResult res = tools.dispatch(sandbox, call.name(), call.argumentsJson());
                        long tf = System.currentTimeMillis();
                        resultText = res.text();
                        log.append(new TrajectoryRecord.ToolFinished(call.id(), resultText, res.ok() ? 0 : 1, tf, tf - ts));
                        executed++;
                        listener.toolFinished(call, resultText, res.ok(), false, tf - ts);
                    }
                    case ReplayDecision.Refuse f -> {
                        // Answered in the model's place only under the id it was logged with (not a match by position).
                        if (!tellModelUnfinished || !f.unfinished() || previous.call(call.id()).isEmpty()) {
                            // The tool may already have taken effect; running it again could do harm twice, so stop.
                            return end(log, "refused: " + f.reason(), conversation, executed, replayed);
                        }
                        listener.toolStarted(call, true);
                        resultText = UNFINISHED_RESULT;
                        long tf = System.currentTimeMillis();
                        log.append(new TrajectoryRecord.ToolFinished(call.id(), resultText, 1, tf, 0));
                        replayed++;
                        listener.toolFinished(call, resultText, false, true, 0);
                    }
                }
                conversation.add(Message.tool(call.id(), resultText));
            }
        }
    }

    private static Outcome end(TrajectoryLog log, String reason, List<Message> conversation, int executed, int replayed) {
        log.append(new TrajectoryRecord.RunEnd(reason, System.currentTimeMillis()));
        return new Outcome(reason, List.copyOf(conversation), executed, replayed);
    }

    /** The call's arguments as an object for the history; text that is not a JSON object is kept under "raw". */
    private static ObjectNode argumentsObject(String json) {
        try {
            JsonNode n = JSON.readTree(json);
            if (n instanceof ObjectNode o) return o;
        } catch (Exception ignored) {
            // fall through: the tool itself reports the malformed arguments as its result
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("raw", json);
        return o;
    }

    /** A run_start record for {@code task}. */
    public static TrajectoryRecord.RunStart runStart(String task, ModelClient model, Map<String, String> settings) {
        return new TrajectoryRecord.RunStart(task, model.modelName(), settings, System.currentTimeMillis());
    }
}
