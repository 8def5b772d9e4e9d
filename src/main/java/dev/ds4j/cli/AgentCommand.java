package dev.ds4j.cli;

import dev.ds4j.agent.AgentLoop;
import dev.ds4j.agent.Trajectory;
import dev.ds4j.agent.TrajectoryLog;
import dev.ds4j.agent.TrajectoryRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code ds4j agent}: a coding agent on the local model or any OpenAI-compatible endpoint, its tools run in a
 * sandbox, every step in a trajectory log; {@code agent resume} continues a run after a crash or Ctrl-C.
 *
 * <p>A run's settings are written into its log's first record, so {@code resume} needs only the run directory:
 * the log is the single source of truth (an API key is never written there; give it again or by environment).
 */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = {"Runs a coding agent on TASK: the model (--model DIR, or --endpoint URL of any OpenAI-compatible server), "
                + "the standard tools (shell, read/write/edit/list/search files, run tests) in a sandbox whose workspace is kept.",
                "A live view of each step goes to stderr, the final answer to stdout. Exit 0: answered; 1: a limit or a refusal "
                        + "ended the run; 130: interrupted (Ctrl-C; a second Ctrl-C quits at once); 2: bad input.",
                "Every step is in RUN_DIR/trajectory.jsonl; 'ds4j agent resume RUN_DIR' continues a run that was cut short, "
                        + "answering finished tool calls from the log instead of running them again."},
        subcommands = {AgentCommand.Resume.class, AgentShowCommand.class})
final class AgentCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR", description = "local checkpoint directory (with tokenizer.json)")
    Path model;

    @Option(names = "--endpoint", paramLabel = "URL", description = "an OpenAI-compatible server instead of a local model, e.g. http://host:8000/v1")
    String endpoint;

    @Option(names = "--served-model", paramLabel = "NAME", description = "model name to ask the endpoint for (default: the first it lists)")
    String servedModel;

    @Option(names = "--api-key", paramLabel = "KEY", description = "the endpoint's API key (default: $DS4J_API_KEY, else $OPENAI_API_KEY); never logged")
    String apiKey;

    @Option(names = "--substrate", defaultValue = "process", paramLabel = "NAME", description = "sandbox substrate for the tools (default process; see 'ds4j sandbox substrates')")
    String substrate;

    @Option(names = "--image", paramLabel = "LAYER", split = ",", description = "process or gvisor substrate: run the tools on a layered image (EROFS layer files, top first) instead of the host's /usr")
    List<Path> image;

    @Option(names = "--network", description = "let tool commands use the host's network (default: loopback only)")
    boolean network;

    @Option(names = "--memory-mb", defaultValue = "512", paramLabel = "N", description = "memory limit of the sandbox in MB (default 512)")
    long memoryMb;

    @Option(names = "--tool-timeout", defaultValue = "60", paramLabel = "S", description = "wall-clock limit of one tool command in seconds (default 60)")
    double toolTimeout;

    @Option(names = "--workspace", paramLabel = "DIR", description = "directory the agent works in, mounted at /workspace (default RUN_DIR/workspace)")
    Path workspace;

    @Option(names = "--run-dir", paramLabel = "DIR", description = "where the trajectory log is written (default: a new directory under ./runs)")
    Path runDir;

    @Option(names = "--reasoning", defaultValue = "chat", paramLabel = "chat|high|max", description = "reasoning mode: chat (no thinking, default), high or max (thinking, with that effort)")
    String reasoning;

    @Option(names = "--max-steps", defaultValue = "32", paramLabel = "N", description = "most model turns (default 32)")
    int maxSteps;

    @Option(names = "--max-tokens", defaultValue = "4096", paramLabel = "N", description = "most tokens per model turn (default 4096)")
    int maxTokens;

    @Option(names = "--max-total-tokens", defaultValue = "200000", paramLabel = "N", description = "most completion tokens over the run (default 200000)")
    long maxTotalTokens;

    @Option(names = "--max-minutes", defaultValue = "30", paramLabel = "M", description = "wall-clock limit of the run in minutes, counted per process (default 30)")
    double maxMinutes;

    @Option(names = "--test-command", defaultValue = "sh run_tests.sh", paramLabel = "CMD", description = "what the run_tests tool runs in /workspace (default: sh run_tests.sh)")
    String testCommand;

    @Option(names = "--temperature", paramLabel = "T", description = "sampling temperature (default: the model's or server's)")
    Double temperature;

    @Option(names = "--no-stream", description = "--endpoint: ask for whole answers instead of a stream (the live view then shows each turn when it ends)")
    boolean noStream;

    @Option(names = "--forced-file", paramLabel = "FILE", description = "testing hook: completions to force, one per turn, separated by lines holding only ---")
    Path forcedFile;

    @Parameters(paramLabel = "TASK", arity = "0..1", description = "what the agent should do")
    String task;

    @Override
    public Integer call() throws IOException {
        if (task == null || task.isBlank()) throw new IllegalArgumentException("TASK: missing (give the task as the last argument)");
        if ((model == null) == (endpoint == null))
            throw new IllegalArgumentException(model == null ? "--model: missing (a checkpoint directory), or give --endpoint URL"
                    : "--model and --endpoint: give one, not both");
        Map<String, String> s = new LinkedHashMap<>();
        if (model != null) {
            AgentRun.requireModel(model);
            s.put(AgentRun.MODEL_DIR, model.toAbsolutePath().toString());
        } else {
            s.put(AgentRun.ENDPOINT, endpoint);
            if (servedModel != null) s.put(AgentRun.SERVED_MODEL, servedModel);
        }
        if (forcedFile != null) {
            readForced(forcedFile); // checked now, read again on resume
            s.put(AgentRun.FORCED_FILE, forcedFile.toAbsolutePath().toString());
        }
        s.put(AgentRun.SUBSTRATE, substrate);
        if (image != null && !image.isEmpty())
            s.put(AgentRun.IMAGE, String.join(",", image.stream().map(p -> p.toAbsolutePath().toString()).toList()));
        s.put(AgentRun.REASONING, reasoning);
        s.put(AgentRun.NETWORK, Boolean.toString(network));
        s.put(AgentRun.MEMORY_MB, Long.toString(memoryMb));
        s.put(AgentRun.TOOL_TIMEOUT, Double.toString(toolTimeout));
        s.put(AgentRun.MAX_STEPS, Integer.toString(maxSteps));
        s.put(AgentRun.MAX_TOKENS, Integer.toString(maxTokens));
        s.put(AgentRun.MAX_TOTAL_TOKENS, Long.toString(maxTotalTokens));
        s.put(AgentRun.MAX_MINUTES, Double.toString(maxMinutes));
        s.put(AgentRun.TEST_COMMAND, testCommand);
        if (temperature != null) s.put(AgentRun.TEMPERATURE, Double.toString(temperature));
        s.put(AgentRun.STREAM, Boolean.toString(!noStream));
        Path run = runDir != null ? runDir : Path.of("runs", "agent-" + System.currentTimeMillis());
        if (Files.exists(run.resolve(TrajectoryLog.FILE_NAME)))
            throw new IllegalArgumentException("--run-dir: " + run + " already holds a run; use 'ds4j agent resume " + run + "'");
        Path ws = workspace != null ? workspace : run.resolve("workspace");
        if (Files.exists(ws) && !Files.isDirectory(ws)) throw new IllegalArgumentException("--workspace: " + ws + " is not a directory");
        s.put(AgentRun.WORKSPACE, ws.toAbsolutePath().toString());
        AgentRun.Settings settings = AgentRun.Settings.parse(s); // every value checked before anything is created
        Files.createDirectories(ws);
        return new AgentRun(settings, run, apiKey, false, false).execute(task);
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

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = {"Continues an agent run that was cut short (killed, Ctrl-C, a limit) from its log: the model is asked again "
                    + "and tool calls the log shows finished are answered from it, not run again.",
                    "A call that was running when the runtime died ends the resumed run (it may have taken effect), unless "
                            + "--tell-model-unfinished hands that doubt to the model as the call's result."})
    static final class Resume implements Callable<Integer> {
        @Parameters(paramLabel = "RUN_DIR", description = "the run's directory (holding trajectory.jsonl)")
        Path runDir;

        @Option(names = "--max-steps", paramLabel = "N", description = "most model turns, counted from the start of the run (default: the run's own)")
        Integer maxSteps;

        @Option(names = "--api-key", paramLabel = "KEY", description = "the endpoint's API key (default: $DS4J_API_KEY, else $OPENAI_API_KEY)")
        String apiKey;

        @Option(names = "--tell-model-unfinished", description = "answer a call left running by the crash with a note that its effect is unknown, and go on")
        boolean tellModelUnfinished;

        @Override
        public Integer call() {
            AgentRun.requireRunDir(runDir);
            Trajectory t = Trajectory.read(runDir);
            TrajectoryRecord.RunStart start = t.start().orElseThrow(
                    () -> new IllegalArgumentException("RUN_DIR: " + runDir + ": the log has no run_start record"));
            if (t.end().isPresent() && AgentLoop.ANSWERED.equals(t.end().get().reason()))
                throw new IllegalArgumentException("RUN_DIR: " + runDir + ": the run already ended (answered); nothing to resume");
            Map<String, String> s = new LinkedHashMap<>(start.settings());
            if (!s.containsKey(AgentRun.WORKSPACE) || !(s.containsKey(AgentRun.MODEL_DIR) || s.containsKey(AgentRun.ENDPOINT)))
                throw new IllegalArgumentException("RUN_DIR: " + runDir + ": the run was not started by 'ds4j agent' (no model or workspace in its settings)");
            if (maxSteps != null) s.put(AgentRun.MAX_STEPS, Integer.toString(maxSteps));
            AgentRun.Settings settings = AgentRun.Settings.parse(s);
            if (settings.modelDir() != null) AgentRun.requireModel(settings.modelDir());
            return new AgentRun(settings, runDir, apiKey, true, tellModelUnfinished).execute(start.task());
        }
    }
}
