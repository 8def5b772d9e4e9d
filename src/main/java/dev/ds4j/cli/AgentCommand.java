package dev.ds4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.agent.AgentLoop;
import dev.ds4j.agent.LocalModelClient;
import dev.ds4j.agent.ModelClient;
import dev.ds4j.agent.Trajectory;
import dev.ds4j.agent.TrajectoryLog;
import dev.ds4j.agent.TrajectoryRecord;
import dev.ds4j.agent.tools.ToolRegistry;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.SamplingParams;
import dev.ds4j.model.Model;
import dev.ds4j.sandbox.Sandbox;
import dev.ds4j.sandbox.SandboxSpec;
import dev.ds4j.sandbox.Substrate;
import dev.ds4j.sandbox.SubstrateUnavailableException;
import dev.ds4j.sandbox.Substrates;
import dev.ds4j.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ds4j agent}: runs the agent loop with the local model and the process sandbox; {@code agent resume} continues a run. */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = {"Runs a coding agent on TASK: the local model, the standard tools, a process sandbox whose workspace is kept.",
                "A live view of each step goes to stderr; the final answer to stdout. The run's log is in --run-dir (resume it with 'agent resume RUN_DIR')."},
        subcommands = {AgentCommand.Resume.class})
final class AgentCommand implements Callable<Integer> {
    static final String SYSTEM = "You are a coding agent. Work in /workspace with the tools you have; when done, answer briefly.";

    @Option(names = "--model", paramLabel = "DIR", description = "checkpoint directory (with tokenizer.json)")
    Path model;

    @Option(names = "--workspace", paramLabel = "DIR", description = "directory the agent works in (default RUN_DIR/workspace)")
    Path workspace;

    @Option(names = "--run-dir", paramLabel = "DIR", description = "where the trajectory log is written (default: a new directory under ./runs)")
    Path runDir;

    @Option(names = "--max-steps", defaultValue = "32", paramLabel = "N", description = "most model turns (default 32)")
    int maxSteps;

    @Option(names = "--forced-file", paramLabel = "FILE", description = "forced completions, one per turn, separated by a line holding only ---")
    Path forcedFile;

    @Parameters(paramLabel = "TASK", arity = "0..1", description = "what the agent should do")
    String task;

    @Override
    public Integer call() throws IOException {
        if (task == null || task.isBlank()) throw new IllegalArgumentException("TASK: missing (give the task as the last argument)");
        if (model == null) throw new IllegalArgumentException("--model: missing (a checkpoint directory)");
        if (maxSteps < 1) throw new IllegalArgumentException("--max-steps: must be at least 1, got " + maxSteps);
        requireModel(model);
        List<String> forced = forcedFile == null ? List.of() : readForced(forcedFile);
        Path run = runDir != null ? runDir : Path.of("runs", "agent-" + System.currentTimeMillis());
        if (Files.exists(run.resolve(TrajectoryLog.FILE_NAME)))
            throw new IllegalArgumentException("--run-dir: " + run + " already holds a run; use 'agent resume " + run + "'");
        Path ws = workspace != null ? workspace : run.resolve("workspace");
        Files.createDirectories(ws);
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("model_dir", model.toAbsolutePath().toString());
        settings.put("workspace", ws.toAbsolutePath().toString());
        settings.put("max_steps", Integer.toString(maxSteps));
        if (forcedFile != null) settings.put("forced_file", forcedFile.toAbsolutePath().toString());
        return execute(model, ws, run, maxSteps, forced, task, settings, false);
    }

    static void requireModel(Path model) {
        if (!Files.isRegularFile(model.resolve("config.json")))
            throw new IllegalArgumentException("--model: " + model + " has no config.json");
        if (!Files.isRegularFile(model.resolve("tokenizer.json")))
            throw new IllegalArgumentException("--model: " + model + " has no tokenizer.json");
    }

    /** The forced completions in {@code file}: blocks separated by lines holding only {@code ---}. */
    static List<String> readForced(Path file) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("--forced-file: " + file + " is not a file");
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("--forced-file: " + file + ": " + e.getMessage());
        }
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            if (line.strip().equals("---")) {
                out.add(trimBlock(cur));
                cur.setLength(0);
            } else {
                if (!cur.isEmpty()) cur.append('\n');
                cur.append(line);
            }
        }
        if (!cur.toString().isBlank()) out.add(trimBlock(cur));
        return out;
    }

    private static String trimBlock(StringBuilder b) {
        String s = b.toString();
        while (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
        return s;
    }

    static int execute(Path modelDir, Path ws, Path run, int maxSteps, List<String> forced, String task,
                       Map<String, String> settings, boolean resume) {
        Substrate sub;
        try {
            sub = Substrates.standard().require("process");
        } catch (SubstrateUnavailableException e) {
            System.err.println("ds4j: error: " + e.getMessage());
            return 2;
        }
        Tokenizer tok = TokenizerSupport.load(modelDir.resolve("tokenizer.json"));
        PrintStream err = System.err;
        try (Model m = Model.load(modelDir);
             Sandbox sb = sub.create(SandboxSpec.defaults().withWorkspace(ws.toAbsolutePath()))) {
            LocalModelClient local = new LocalModelClient(m, tok, modelDir.getFileName().toString(),
                    SamplingParams.DEFAULTS.withMaxTokens(2048), forced);
            LiveView view = new LiveView(local, err);
            AgentLoop loop = new AgentLoop(view, ToolRegistry.standard("sh run_tests.sh"), sb, RenderOptions.chat(),
                    new AgentLoop.Limits(maxSteps, 200_000, Duration.ofMinutes(30)));
            AgentLoop.Outcome out;
            try (TrajectoryLog log = resume ? TrajectoryLog.open(run)
                    : TrajectoryLog.create(run, AgentLoop.runStart(task, local, settings))) {
                log.recovery().ifPresent(r -> err.println("[log] " + r));
                out = loop.run(SYSTEM, task, log);
            }
            view.results(out.conversation());
            err.printf("[end] %s after %d tool calls run, %d answered from the log; log: %s%n", out.endReason(),
                    out.toolsExecuted(), out.toolsReplayed(), run.resolve(TrajectoryLog.FILE_NAME));
            Message last = out.conversation().getLast();
            if (last.role() == Message.Role.ASSISTANT && last.content() != null) System.out.println(last.content());
            System.out.flush();
            return AgentLoop.ANSWERED.equals(out.endReason()) ? 0 : 1;
        }
    }

    static String excerpt(String s, int max) {
        if (s == null) return "";
        String one = s.strip().replace("\n", "\\n");
        return one.length() <= max ? one : one.substring(0, max) + "…";
    }

    /** Wraps the model: prints each step (reasoning, tool calls) and the tool results the next turn sees. */
    static final class LiveView implements ModelClient {
        private final ModelClient inner;
        private final PrintStream err;
        private int step, seenMessages;

        LiveView(ModelClient inner, PrintStream err) {
            this.inner = inner;
            this.err = err;
        }

        @Override public String modelName() { return inner.modelName(); }

        void results(List<Message> conversation) {
            for (int i = seenMessages; i < conversation.size(); i++) {
                Message msg = conversation.get(i);
                if (msg.role() == Message.Role.TOOL)
                    err.println("  [result " + msg.toolCallId() + "] " + excerpt(msg.content(), 300));
            }
            seenMessages = conversation.size();
        }

        @Override
        public Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options) {
            results(messages);
            Completion c = inner.complete(messages, tools, options);
            ParsedCompletion p = c.parsed();
            err.printf("[step %d] %d prompt + %d completion tokens%n", step++, c.promptTokens(), c.completionTokens());
            if (p.reasoningContent() != null && !p.reasoningContent().isBlank())
                err.println("  [reasoning] " + excerpt(p.reasoningContent(), 300));
            if (p.content() != null && !p.content().isBlank()) err.println("  [text] " + excerpt(p.content(), 300));
            for (ParsedCompletion.ToolCall tc : p.toolCalls())
                err.println("  [call] " + tc.name() + " " + excerpt(tc.arguments(), 300));
            seenMessages = messages.size() + 1;
            return c;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = "Continues an interrupted agent run from its log: finished tool calls are answered from the log, not re-run.")
    static final class Resume implements Callable<Integer> {
        @Parameters(paramLabel = "RUN_DIR", description = "the run's directory (holding trajectory.jsonl)")
        Path runDir;

        @Option(names = "--forced-file", paramLabel = "FILE", description = "forced completions for the resumed run (default: the run's own, if it had one)")
        Path forcedFile;

        @Option(names = "--max-steps", paramLabel = "N", description = "most model turns, counted from the start of the run (default: the run's own)")
        Integer maxSteps;

        @Override
        public Integer call() {
            if (!Files.isRegularFile(runDir.resolve(TrajectoryLog.FILE_NAME)))
                throw new IllegalArgumentException("RUN_DIR: " + runDir + " has no " + TrajectoryLog.FILE_NAME);
            Trajectory t = Trajectory.read(runDir);
            TrajectoryRecord.RunStart start = t.start().orElseThrow(
                    () -> new IllegalArgumentException("RUN_DIR: " + runDir + ": the log has no run_start record"));
            if (t.end().isPresent() && AgentLoop.ANSWERED.equals(t.end().get().reason()))
                throw new IllegalArgumentException("RUN_DIR: " + runDir + ": the run already ended (answered); nothing to resume");
            Map<String, String> s = start.settings();
            String modelDir = s.get("model_dir"), ws = s.get("workspace");
            if (modelDir == null || ws == null)
                throw new IllegalArgumentException("RUN_DIR: " + runDir + ": the run was not started by 'ds4j agent' (no model_dir/workspace settings)");
            Path model = Path.of(modelDir);
            requireModel(model);
            Path forced = forcedFile != null ? forcedFile : s.containsKey("forced_file") ? Path.of(s.get("forced_file")) : null;
            int steps = maxSteps != null ? maxSteps : Integer.parseInt(s.getOrDefault("max_steps", "32"));
            if (steps < 1) throw new IllegalArgumentException("--max-steps: must be at least 1, got " + steps);
            return execute(model, Path.of(ws), runDir, steps, forced == null ? List.of() : readForced(forced),
                    start.task(), s, true);
        }
    }
}
