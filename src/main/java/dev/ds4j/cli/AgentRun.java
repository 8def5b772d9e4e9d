package dev.ds4j.cli;

import dev.ds4j.agent.AgentLoop;
import dev.ds4j.agent.LocalModelClient;
import dev.ds4j.agent.ModelClient;
import dev.ds4j.agent.ModelClientException;
import dev.ds4j.agent.OpenAiModelClient;
import dev.ds4j.agent.TrajectoryLog;
import dev.ds4j.agent.tools.ToolRegistry;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.SamplingParams;
import dev.ds4j.model.Model;
import dev.ds4j.sandbox.Sandbox;
import dev.ds4j.sandbox.SandboxException;
import dev.ds4j.sandbox.SandboxSpec;
import dev.ds4j.sandbox.Substrate;
import dev.ds4j.sandbox.SubstrateUnavailableException;
import dev.ds4j.sandbox.Substrates;
import dev.ds4j.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One execution of an agent run, fresh or resumed: opens the model (local or endpoint), the sandbox and the log,
 * runs {@link AgentLoop} with the live view and Ctrl-C routed to it, and reports how it ended.
 */
final class AgentRun {
    static final String SYSTEM = "You are a coding agent. Work in /workspace with the tools you have; when done, answer briefly.";

    // Keys of the settings stored in the run_start record.
    static final String MODEL_DIR = "model_dir", ENDPOINT = "endpoint", SERVED_MODEL = "served_model", SUBSTRATE = "substrate",
            WORKSPACE = "workspace", REASONING = "reasoning", MAX_STEPS = "max_steps", MAX_TOKENS = "max_tokens",
            MAX_TOTAL_TOKENS = "max_total_tokens", MAX_MINUTES = "max_minutes", TEST_COMMAND = "test_command",
            TEMPERATURE = "temperature", FORCED_FILE = "forced_file", IMAGE = "image", NETWORK = "network",
            MEMORY_MB = "memory_mb", TOOL_TIMEOUT = "tool_timeout_s", STREAM = "stream";

    /**
     * A run's settings, checked: each bad value is an error naming its option. {@code values} are the settings as
     * given (option values, paths made absolute), which a fresh run writes into its log for {@code resume}.
     */
    record Settings(Map<String, String> values, Path modelDir, String endpoint, String servedModel, String substrate,
                    SandboxSpec sandbox, Path workspace, RenderOptions render, int maxSteps, int maxTokens,
                    long maxTotalTokens, Duration wallTime, String testCommand, Double temperature, Path forcedFile,
                    boolean stream) {

        static Settings parse(Map<String, String> s) {
            String reasoning = s.getOrDefault(REASONING, "chat");
            RenderOptions render = switch (reasoning) {
                case "chat" -> RenderOptions.chat();
                case "high" -> RenderOptions.thinking("high");
                case "max" -> RenderOptions.thinking("max");
                default -> throw new IllegalArgumentException("--reasoning: must be chat, high or max, got " + reasoning);
            };
            int steps = intAtLeast(s, MAX_STEPS, "32", "--max-steps");
            int tokens = intAtLeast(s, MAX_TOKENS, "4096", "--max-tokens");
            long total = longAtLeast(s, MAX_TOTAL_TOKENS, "200000", "--max-total-tokens");
            double minutes = number(s, MAX_MINUTES, "30", "--max-minutes");
            if (!(minutes > 0) || Double.isInfinite(minutes))
                throw new IllegalArgumentException("--max-minutes: must be a positive number, got " + s.get(MAX_MINUTES));
            Double temp = s.containsKey(TEMPERATURE) ? number(s, TEMPERATURE, null, "--temperature") : null;
            if (temp != null && (temp < 0 || temp > 2)) throw new IllegalArgumentException("--temperature: must be in [0, 2], got " + temp);
            String sub = s.getOrDefault(SUBSTRATE, "process");
            try {
                Substrates.standard().get(sub);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--substrate: " + e.getMessage());
            }
            if (sub.equals("function"))
                throw new IllegalArgumentException("--substrate: function runs in-process Java tools only; the agent's tools run"
                        + " commands, so use process, gvisor or vm");
            String endpoint = s.get(ENDPOINT);
            if (endpoint != null && !(endpoint.startsWith("http://") || endpoint.startsWith("https://")))
                throw new IllegalArgumentException("--endpoint: must be an http:// or https:// URL, got " + endpoint);
            long memory = SandboxCommand.Run.memoryMb(longAtLeast(s, MEMORY_MB, "512", "--memory-mb"));
            Duration toolTimeout = SandboxCommand.Run.seconds("--tool-timeout", number(s, TOOL_TIMEOUT, "60", "--tool-timeout"));
            SandboxSpec sandbox = SandboxSpec.defaults().withNetwork(Boolean.parseBoolean(s.getOrDefault(NETWORK, "false")))
                    .withMemoryMb(memory).withTimeout(toolTimeout);
            if (s.containsKey(IMAGE))
                sandbox = sandbox.withImage(SandboxCommand.Run.image(Arrays.stream(s.get(IMAGE).split(",")).map(Path::of).toList()));
            // Absent in logs of runs started before the option: those streamed.
            String streamText = s.getOrDefault(STREAM, "true");
            if (!streamText.equals("true") && !streamText.equals("false"))
                throw new IllegalArgumentException("--no-stream: the setting 'stream' must be true or false, got " + streamText);
            boolean stream = Boolean.parseBoolean(streamText);
            if (!stream && endpoint == null)
                throw new IllegalArgumentException("--no-stream: only for --endpoint (a local model's text is always shown as it is generated)");
            String test = s.getOrDefault(TEST_COMMAND, "sh run_tests.sh");
            if (test.isBlank()) throw new IllegalArgumentException("--test-command: must not be empty");
            return new Settings(java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(s)), path(s, MODEL_DIR), endpoint, s.get(SERVED_MODEL), sub, sandbox,
                    path(s, WORKSPACE), render, steps, tokens, total, Duration.ofMillis(Math.round(minutes * 60_000)), test,
                    temp, path(s, FORCED_FILE), stream);
        }

        private static Path path(Map<String, String> s, String key) {
            return s.containsKey(key) ? Path.of(s.get(key)) : null;
        }

        private static double number(Map<String, String> s, String key, String dflt, String option) {
            String v = s.getOrDefault(key, dflt);
            try {
                return Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + ": not a number: " + v);
            }
        }

        private static int intAtLeast(Map<String, String> s, String key, String dflt, String option) {
            long v = longAtLeast(s, key, dflt, option);
            if (v > Integer.MAX_VALUE) throw new IllegalArgumentException(option + ": too large: " + v);
            return (int) v;
        }

        private static long longAtLeast(Map<String, String> s, String key, String dflt, String option) {
            String v = s.getOrDefault(key, dflt);
            long n;
            try {
                n = Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + ": not a whole number: " + v);
            }
            if (n < 1) throw new IllegalArgumentException(option + ": must be at least 1, got " + n);
            return n;
        }
    }

    private final Settings settings;
    private final Path run;
    private final String apiKey;
    private final boolean resume, tellModelUnfinished;

    AgentRun(Settings settings, Path run, String apiKey, boolean resume, boolean tellModelUnfinished) {
        this.settings = settings;
        this.run = run;
        this.apiKey = apiKey;
        this.resume = resume;
        this.tellModelUnfinished = tellModelUnfinished;
    }

    /** A run directory must hold a log for {@code resume} and {@code show}. */
    static void requireRunDir(Path runDir) {
        if (!Files.isRegularFile(runDir.resolve(TrajectoryLog.FILE_NAME)))
            throw new IllegalArgumentException("RUN_DIR: " + runDir + " has no " + TrajectoryLog.FILE_NAME);
    }

    static void requireModel(Path model) {
        if (!Files.isRegularFile(model.resolve("config.json")))
            throw new IllegalArgumentException("--model: " + model + " has no config.json");
        if (!Files.isRegularFile(model.resolve("tokenizer.json")))
            throw new IllegalArgumentException("--model: " + model + " has no tokenizer.json");
    }

    int execute(String task) {
        Substrate sub;
        try {
            sub = Substrates.standard().require(settings.substrate());
        } catch (SubstrateUnavailableException e) {
            System.err.println("ds4j: error: --substrate: " + e.getMessage());
            return 2;
        }
        List<String> forced = settings.forcedFile() == null ? List.of() : AgentCommand.readForced(settings.forcedFile());
        PrintStream err = System.err;
        AgentLiveView view = new AgentLiveView(err, Ansi.enabled("auto", System.getenv("NO_COLOR"), Ansi.terminal()));
        AtomicBoolean stop = new AtomicBoolean();
        Model local = settings.modelDir() == null ? null : Model.load(settings.modelDir());
        try (Interrupts ignored = Interrupts.routeTo(stop)) {
            ModelClient client;
            try {
                client = local != null ? localClient(local, forced, view) : endpointClient(forced, view);
            } catch (ModelClientException e) {
                err.println("ds4j: error: --endpoint: " + e.getMessage());
                return 2;
            }
            Sandbox sb;
            long t0 = System.nanoTime();
            try {
                sb = sub.create(settings.sandbox().withWorkspace(settings.workspace().toAbsolutePath()));
            } catch (SandboxException e) {
                err.println("ds4j: error: --substrate " + sub.name() + ": " + e.getMessage());
                if (e.getMessage() != null && e.getMessage().contains("cannot be reached by the sandbox"))
                    err.println("ds4j: hint: give --workspace DIR under a directory every user can traverse (e.g. /tmp/…);"
                            + " the run's log can stay in --run-dir");
                return 2;
            }
            err.printf("[sandbox] %s %s ready in %.1f s; workspace %s%n", sub.name(), sb.id(), (System.nanoTime() - t0) / 1e9,
                    settings.workspace());
            AgentLoop.Outcome out;
            try (sb; TrajectoryLog log = resume ? TrajectoryLog.open(run)
                    : TrajectoryLog.create(run, AgentLoop.runStart(task, client, settings.values()))) {
                log.recovery().ifPresent(r -> err.println("[log] " + r));
                AgentLoop loop = new AgentLoop(client, ToolRegistry.standard(settings.testCommand()), sb, settings.render(),
                        new AgentLoop.Limits(settings.maxSteps(), settings.maxTotalTokens(), settings.wallTime()))
                        .listener(view).tellModelUnfinished(tellModelUnfinished);
                out = loop.run(SYSTEM, task, log, stop::get);
            }
            return report(out);
        } finally {
            if (local != null) local.close();
        }
    }

    private int report(AgentLoop.Outcome out) {
        PrintStream err = System.err;
        boolean answered = AgentLoop.ANSWERED.equals(out.endReason());
        err.printf("[end] %s after %d tool calls run, %d answered from the log; log: %s%n", out.endReason(),
                out.toolsExecuted(), out.toolsReplayed(), run.resolve(TrajectoryLog.FILE_NAME));
        if (!answered) err.println("[end] continue it with: ds4j agent resume " + run);
        Message last = out.conversation().getLast();
        if (answered && last.content() != null) System.out.println(last.content());
        System.out.flush();
        return answered ? 0 : AgentLoop.INTERRUPTED.equals(out.endReason()) ? 130 : 1;
    }

    private ModelClient localClient(Model m, List<String> forced, AgentLiveView view) {
        Tokenizer tok = TokenizerSupport.load(settings.modelDir().resolve("tokenizer.json"));
        SamplingParams p = SamplingParams.DEFAULTS.withMaxTokens(settings.maxTokens());
        if (settings.temperature() != null) p = p.withTemperature(settings.temperature());
        LocalModelClient c = new LocalModelClient(m, tok, settings.modelDir().getFileName().toString(), p, forced);
        c.onText(view::streamed);
        return c;
    }

    private ModelClient endpointClient(List<String> forced, AgentLiveView view) {
        String key = apiKey != null ? apiKey : System.getenv("DS4J_API_KEY") != null ? System.getenv("DS4J_API_KEY")
                : System.getenv("OPENAI_API_KEY");
        OpenAiModelClient.Builder b;
        try {
            b = OpenAiModelClient.builder(settings.endpoint());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--endpoint: " + e.getMessage());
        }
        return b.model(settings.servedModel()).apiKey(key).maxTokens(settings.maxTokens())
                .temperature(settings.temperature()).forcedScript(forced).returnRaw(!forced.isEmpty())
                .stream(settings.stream()).onText(view::streamed).build();
    }
}
