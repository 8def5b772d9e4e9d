package dev.ds4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.TestData;
import dev.ds4j.agent.tools.ToolRegistry;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.MessageReader;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.PromptRenderer;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.Engine;
import dev.ds4j.generate.SamplingParams;
import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import dev.ds4j.sandbox.ProcessSubstrate;
import dev.ds4j.sandbox.Sandbox;
import dev.ds4j.sandbox.SandboxSpec;
import dev.ds4j.server.OpenAiServer;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.ds4j.agent.AgentLoopTest.EOS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link OpenAiModelClient} against our real server ({@link OpenAiServer} on a loopback port, the tiny random model
 * in an {@link Engine}): the agent loop end to end through HTTP with tools in the process sandbox, the mapping of
 * thinking and effort (checked by the prompt length the server reports against our renderer), a full conversation
 * accepted as sent, and the errors a caller sees.
 */
class OpenAiModelClientTest {
    static final String MODEL = "ds4j-tiny";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir static Path modelDir;
    static Model model;
    static Tokenizer tok;
    static Engine engine;
    static OpenAiServer server, keyed;

    @BeforeAll
    static void start() throws Exception {
        CheckpointLayout.write(modelDir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        model = Model.load(modelDir);
        tok = Tokenizer.load(TestData.shared().resolve("data/deepseek-v4/tokenizer.json"));
        engine = new Engine(model, tok, Session.Options.defaults(), 2);
        server = new OpenAiServer(engine, MODEL, null).start("127.0.0.1", 0);
        keyed = new OpenAiServer(engine, MODEL, "k-123").start("127.0.0.1", 0);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (keyed != null) keyed.close();
        if (engine != null) engine.close();
        if (model != null) model.close();
    }

    static String root(OpenAiServer s) { return "http://127.0.0.1:" + s.port(); }

    static OpenAiModelClient.Builder client() {
        return OpenAiModelClient.builder(root(server) + "/v1").model(MODEL).maxTokens(512).temperature(1.0);
    }

    /** The tool declarations as CHAT_FORMAT §2.1 renders them: the value of each OpenAI tool's "function" key. */
    static List<JsonNode> functions(List<JsonNode> declarations) {
        return declarations.stream().map(d -> d.get("function")).toList();
    }

    static int promptLength(List<Message> conversation, List<JsonNode> declarations, RenderOptions options) {
        return PromptRenderer.render(conversation, functions(declarations), null, options).tokenIds(tok).length;
    }

    static Sandbox sandbox() {
        ProcessSubstrate sub = new ProcessSubstrate();
        var a = sub.availability();
        assumeTrue(a.available(), () -> "process substrate unavailable here: " + a.reason());
        return sub.create(SandboxSpec.defaults().withTimeout(Duration.ofSeconds(5)).withMemoryMb(256).withPids(64));
    }

    @Test
    void agentLoopThroughTheServerWritesRunsAndAnswers(@TempDir Path runDir) throws Exception {
        // Server root without /v1 and no model name: the client normalises the URL and asks GET /v1/models.
        List<String> streamed = new ArrayList<>();
        OpenAiModelClient c = OpenAiModelClient.builder(root(server)).maxTokens(512).stream(true).onText(streamed::add)
                .forcedScript(AgentLoopTest.SCRIPT).returnRaw(true).build();
        assertThat(c.modelName()).isEqualTo(MODEL);
        // Only the two tools the script calls: a shorter prompt, so the random model's prefill takes less of the test.
        ToolRegistry std = ToolRegistry.standard(null);
        ToolRegistry registry = new ToolRegistry(List.of(std.get("write_file").orElseThrow(), std.get("shell").orElseThrow()));
        AgentLoop.Outcome out;
        try (Sandbox sb = sandbox();
             TrajectoryLog log = TrajectoryLog.create(runDir, AgentLoop.runStart("write and run a script", c, Map.of()))) {
            out = new AgentLoop(c, registry, sb, RenderOptions.chat(), new AgentLoop.Limits(8, 10_000, Duration.ofMinutes(1)))
                    .run("You are a coding agent.", "write and run a script", log);
            assertThat(Files.readString(sb.workspace().resolve("run.sh"))).isEqualTo("echo ran >> runs.txt\necho sum=$((6*7))\n");
            assertThat(Files.readString(sb.workspace().resolve("runs.txt"))).isEqualTo("ran\n");
        }
        assertThat(out.endReason()).isEqualTo(AgentLoop.ANSWERED);
        assertThat(c.scriptLeft()).isZero();
        assertThat(out.toolsExecuted()).isEqualTo(2);
        List<Message> toolMsgs = out.conversation().stream().filter(m -> m.role() == Message.Role.TOOL).toList();
        assertThat(toolMsgs).hasSize(2);
        assertThat(toolMsgs.get(1).content()).contains("sum=42"); // sh did the arithmetic
        assertThat(out.conversation().getLast().content()).isEqualTo("The script printed sum=42.");
        // The live view got each turn's text as it streamed: the three contents, in order.
        assertThat(String.join("", streamed)).isEqualTo("I will write the script.Now I run it.The script printed sum=42.");

        Trajectory t = Trajectory.read(runDir);
        assertThat(t.steps()).hasSize(3);
        assertThat(t.steps().get(0).toolCalls()).extracting(TrajectoryRecord.ToolCall::name).containsExactly("write_file");
        assertThat(t.steps().get(1).toolCalls()).extracting(TrajectoryRecord.ToolCall::name).containsExactly("shell");
        assertThat(t.call("call_1_0")).hasValueSatisfying(call -> assertThat(call.finished().result()).contains("sum=42"));
        assertThat(t.end()).hasValueSatisfying(e -> assertThat(e.reason()).isEqualTo("answered"));
        // The raw text the server generated is exactly what was forced (the EOS it stopped on added back).
        for (int i = 0; i < 3; i++) assertThat(t.steps().get(i).rawOutput()).isEqualTo(AgentLoopTest.SCRIPT.get(i));
        // The server rendered the same prompt our renderer gives for this conversation in chat mode, tools included.
        List<Message> firstTurn = out.conversation().subList(0, 2);
        assertThat(t.steps().get(0).promptTokens()).isEqualTo(promptLength(firstTurn, registry.declarationList(), RenderOptions.chat()));
        assertThat(t.steps().get(0).completionTokens()).isPositive();
    }

    @Test
    void thinkingModeAndEffortReachTheServer() throws Exception {
        String forced = "Let me think.</think>Forty-two." + EOS;
        List<Message> q = List.of(Message.user("What is six times seven?"));
        OpenAiModelClient c = client().forcedScript(List.of(forced, forced, forced)).build();

        ModelClient.Completion thinking = c.complete(q, List.of(), RenderOptions.thinking(null));
        assertThat(thinking.parsed().reasoningContent()).isEqualTo("Let me think.");
        assertThat(thinking.parsed().content()).isEqualTo("Forty-two.");
        assertThat(thinking.promptTokens()).isEqualTo(promptLength(q, List.of(), RenderOptions.thinking(null)));

        // Effort max adds the "Reasoning Effort: Absolute maximum…" prefix to the prompt.
        ModelClient.Completion max = c.complete(q, List.of(), RenderOptions.thinking("max"));
        assertThat(max.promptTokens()).isEqualTo(promptLength(q, List.of(), RenderOptions.thinking("max")))
                .isGreaterThan(thinking.promptTokens());

        ModelClient.Completion chat = c.complete(q, List.of(), RenderOptions.chat());
        assertThat(chat.parsed().reasoningContent()).isNull();
        assertThat(chat.promptTokens()).isEqualTo(promptLength(q, List.of(), RenderOptions.chat()));
        // Without returnRaw the raw text is the JSON of the message the server returned.
        assertThat(chat.rawText()).startsWith("{");
        assertThat(JSON.readTree(chat.rawText()).path("role").asText()).isEqualTo("assistant");
    }

    /** Streams {@code forced} and asks for it whole: the two Completions must be equal; returns the streamed one. */
    static ModelClient.Completion sameStreamedAsWhole(String forced, List<Message> conv, List<JsonNode> tools, RenderOptions opts,
                                                      boolean raw, List<String> pieces) {
        ModelClient.Completion whole = client().stream(false).returnRaw(raw).forcedScript(List.of(forced)).build().complete(conv, tools, opts);
        ModelClient.Completion streamed = client().returnRaw(raw).onText(pieces::add).forcedScript(List.of(forced)).build()
                .complete(conv, tools, opts);
        // The second request may hit the server's prefix cache, so only the cached count may differ.
        assertThat(streamed).usingRecursiveComparison().ignoringFields("cachedPromptTokens").isEqualTo(whole);
        assertThat(pieces).as("text pieces as they arrived").hasSizeGreaterThan(1);
        return streamed;
    }

    @Test
    void streamedAndWholeAnswersAreTheSameCompletion() throws Exception {
        ToolRegistry std = ToolRegistry.standard(null);
        List<JsonNode> tools = new ToolRegistry(List.of(std.get("shell").orElseThrow())).declarationList();
        List<Message> conv = List.of(Message.system("You are a coding agent."), Message.user("What is in the notes?"));
        // Thinking mode, reasoning, text, then two tool calls: tool-call deltas, argument fragments and the raw text.
        String forced = "I should look first.</think>Looking." + AgentLoopTest.OPEN
                + AgentLoopTest.call("shell", Map.of("command", "ls -la")) + AgentLoopTest.call("shell", Map.of("command", "cat notes.txt"))
                + AgentLoopTest.CLOSE + EOS;
        List<String> pieces = new ArrayList<>();
        ModelClient.Completion c = sameStreamedAsWhole(forced, conv, tools, RenderOptions.thinking(null), true, pieces);
        assertThat(c.parsed().reasoningContent()).isEqualTo("I should look first.");
        assertThat(c.parsed().content()).isEqualTo("Looking.");
        assertThat(c.parsed().toolCalls()).extracting(ParsedCompletion.ToolCall::name).containsExactly("shell", "shell");
        assertThat(JSON.readTree(c.parsed().toolCalls().get(0).arguments())).isEqualTo(JSON.createObjectNode().put("command", "ls -la"));
        assertThat(JSON.readTree(c.parsed().toolCalls().get(1).arguments())).isEqualTo(JSON.createObjectNode().put("command", "cat notes.txt"));
        assertThat(c.rawText()).isEqualTo(forced); // the server's raw output arrives on the last chunk
        assertThat(c.promptTokens()).isEqualTo(promptLength(conv, tools, RenderOptions.thinking(null)));
        assertThat(c.completionTokens()).isEqualTo(tok.encodeWithAddedTokens(forced).length);
        assertThat(String.join("", pieces)).isEqualTo("I should look first.Looking.");

        // A plain answer in chat mode, without raw output: the raw text is then the message JSON, and the
        // one the chunks add up to equals the one the server returned whole.
        List<String> plain = new ArrayList<>();
        ModelClient.Completion p = sameStreamedAsWhole("Six times seven is forty-two." + EOS, List.of(Message.user("6*7?")), List.of(),
                RenderOptions.chat(), false, plain);
        assertThat(p.parsed()).isEqualTo(new ParsedCompletion(null, "Six times seven is forty-two.", List.of()));
        assertThat(JSON.readTree(p.rawText())).isEqualTo(JSON.readTree("{\"role\": \"assistant\", \"content\": \"Six times seven is forty-two.\"}"));
        assertThat(String.join("", plain)).isEqualTo("Six times seven is forty-two.");
    }

    /** A conversation with reasoning, two tool calls and their results, ending where the model must go on. */
    static List<Message> conversation() {
        ObjectNode writeArgs = JSON.createObjectNode().put("path", "a.txt").put("content", "x = \"1\"\n");
        ObjectNode shellArgs = JSON.createObjectNode().put("command", "cat a.txt").put("timeout", 5);
        return List.of(
                Message.system("You are a coding agent."),
                Message.user("Write a.txt, then show it."),
                Message.assistant("I need to write the file first.", "Writing it.", List.of(
                        new Message.ToolCall("call_0_0", "write_file", writeArgs),
                        new Message.ToolCall("call_0_1", "shell", shellArgs))),
                Message.tool("call_0_0", "wrote 8 bytes to a.txt"),
                Message.tool("call_0_1", "x = \"1\"\n"));
    }

    @Test
    void conversationRoundTripsIntoWhatTheServerAccepts() throws Exception {
        List<Message> conv = conversation();
        List<JsonNode> tools = ToolRegistry.standard(null).declarationList();
        RenderOptions opts = RenderOptions.thinking(null);
        OpenAiModelClient c = client().forcedScript(List.of("Shown.</think>It holds x = \"1\"." + EOS))
                .extraBody(JSON.readTree("{\"chat_template_kwargs\": {\"enable_thinking\": true}, \"top_p\": 0.9}")).build();
        ObjectNode body = c.requestBody(conv, tools, opts, null);

        assertThat(body.path("model").asText()).isEqualTo(MODEL);
        assertThat(body.path("stream").asBoolean(false)).isTrue(); // streamed by default, with the usage chunk
        assertThat(body.path("stream_options").path("include_usage").asBoolean(false)).isTrue();
        ObjectNode whole = client().stream(false).build().requestBody(conv, tools, opts, null);
        assertThat(whole.path("stream").asBoolean(true)).isFalse();
        assertThat(whole.has("stream_options")).isFalse();
        assertThat(body.path("tool_choice").asText()).isEqualTo("auto");
        assertThat(body.path("max_tokens").asInt()).isEqualTo(512);
        // extraBody merges into chat_template_kwargs instead of replacing the thinking switch.
        assertThat(body.path("chat_template_kwargs").path("thinking").asBoolean(false)).isTrue();
        assertThat(body.path("chat_template_kwargs").path("enable_thinking").asBoolean(false)).isTrue();
        assertThat(body.path("top_p").asDouble()).isEqualTo(0.9);
        assertThat(body.has("reasoning_effort")).isFalse();
        assertThat(body.path("tools")).hasSize(7);
        assertThat(body.path("tools").get(0).path("type").asText()).isEqualTo("function");
        assertThat(body.path("tools").get(0).path("function").path("name").asText()).isEqualTo("shell");
        JsonNode a = body.path("messages").get(2);
        assertThat(a.path("role").asText()).isEqualTo("assistant");
        assertThat(a.path("reasoning_content").asText()).isEqualTo("I need to write the file first.");
        assertThat(a.path("content").asText()).isEqualTo("Writing it.");
        JsonNode call1 = a.path("tool_calls").get(1);
        assertThat(call1.path("id").asText()).isEqualTo("call_0_1");
        assertThat(call1.path("type").asText()).isEqualTo("function");
        assertThat(call1.path("function").path("name").asText()).isEqualTo("shell");
        assertThat(call1.path("function").path("arguments").isTextual()).isTrue(); // JSON text, as OpenAI sends it
        assertThat(JSON.readTree(call1.path("function").path("arguments").textValue()))
                .isEqualTo(JSON.createObjectNode().put("command", "cat a.txt").put("timeout", 5));
        JsonNode t1 = body.path("messages").get(4);
        assertThat(t1.path("role").asText()).isEqualTo("tool");
        assertThat(t1.path("tool_call_id").asText()).isEqualTo("call_0_1");
        assertThat(t1.path("content").asText()).isEqualTo("x = \"1\"\n");
        assertThat(t1.has("reasoning_content")).isFalse();

        // The server's own reader gets the same messages back.
        // (Compared as text: the reader parses integers as Python does, to a wider node type than IntNode.)
        List<Message> back = MessageReader.messages(body.get("messages"), "messages");
        assertThat(back).hasToString(conv.toString());
        assertThat(MessageReader.tools(body.get("tools"), "tools")).isEqualTo(functions(tools));

        // And the server accepts it, rendering exactly the prompt of this conversation (reasoning kept: tools are declared).
        ModelClient.Completion res = c.complete(conv, tools, opts);
        assertThat(res.parsed().reasoningContent()).isEqualTo("Shown.");
        assertThat(res.parsed().content()).isEqualTo("It holds x = \"1\".");
        assertThat(res.promptTokens()).isEqualTo(promptLength(conv, tools, opts));
    }

    @Test
    void theLocalClientAndTheEndpointSeeTheSamePrompt() {
        ToolRegistry std = ToolRegistry.standard(null);
        List<JsonNode> tools = new ToolRegistry(List.of(std.get("shell").orElseThrow())).declarationList();
        List<Message> conv = List.of(Message.system("You are a coding agent."), Message.user("List the files."));
        String forced = "Listing.</think>" + AgentLoopTest.OPEN + AgentLoopTest.call("shell", Map.of("command", "ls")) + AgentLoopTest.CLOSE + EOS;
        RenderOptions opts = RenderOptions.thinking(null);
        ModelClient.Completion local = new LocalModelClient(model, tok, MODEL, SamplingParams.DEFAULTS.withMaxTokens(512), List.of(forced))
                .complete(conv, tools, opts);
        ModelClient.Completion remote = client().forcedScript(List.of(forced)).returnRaw(true).build().complete(conv, tools, opts);
        assertThat(remote.promptTokens()).isEqualTo(local.promptTokens()).isEqualTo(promptLength(conv, tools, opts));
        assertThat(remote.parsed()).isEqualTo(local.parsed());
        assertThat(remote.rawText()).isEqualTo(local.rawText()).isEqualTo(forced);
        assertThat(remote.parsed().toolCalls()).hasSize(1);
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) { return s.getLocalPort(); }
    }

    @Test
    void refusedConnectionNamesTheUrlAndTheRetries() throws Exception {
        int port = freePort();
        String url = "http://127.0.0.1:" + port + "/v1";
        OpenAiModelClient c = OpenAiModelClient.builder(url).model("m").retries(2).retryBackoff(Duration.ofMillis(5))
                .forcedScript(List.of("a", "b")).build();
        assertThatThrownBy(() -> c.complete(List.of(Message.user("hi")), List.of(), RenderOptions.chat()))
                .isInstanceOfSatisfying(ModelClientException.class, e -> {
                    assertThat(e.getMessage()).contains("POST " + url + "/chat/completions", "cannot connect", "gave up after 3 attempts");
                    assertThat(e.status()).isZero();
                    assertThat(e.attempts()).isEqualTo(3);
                });
        assertThat(c.scriptLeft()).isEqualTo(2); // the failed turn's forced completion is kept for a retried turn

        assertThatThrownBy(() -> OpenAiModelClient.builder(url).retries(0).build())
                .isInstanceOf(ModelClientException.class)
                .hasMessageContaining("GET " + url + "/models").hasMessageContaining("cannot connect")
                .hasMessageNotContaining("gave up");
    }

    @Test
    void httpErrorsCarryTheServersMessage() throws Exception {
        List<Message> q = List.of(Message.user("hi"));
        assertThatThrownBy(() -> client().model("no-such-model").build().complete(q, List.of(), RenderOptions.chat()))
                .isInstanceOfSatisfying(ModelClientException.class, e -> {
                    assertThat(e.getMessage()).contains(root(server) + "/v1/chat/completions", "HTTP 404",
                            "model 'no-such-model' does not exist").doesNotContain("gave up");
                    assertThat(e.status()).isEqualTo(404);
                    assertThat(e.attempts()).isEqualTo(1); // a client error is not retried
                });
        OpenAiModelClient bad = client().extraBody(JSON.readTree("{\"temperature\": \"hot\"}")).build();
        assertThatThrownBy(() -> bad.complete(q, List.of(), RenderOptions.chat()))
                .isInstanceOf(ModelClientException.class)
                .hasMessageContaining("HTTP 400").hasMessageContaining("temperature: must be a number");
    }

    @Test
    void apiKeyIsSentAsBearer() {
        assertThatThrownBy(() -> OpenAiModelClient.builder(root(keyed)).build())
                .isInstanceOf(ModelClientException.class).hasMessageContaining("HTTP 401").hasMessageContaining("API key");
        OpenAiModelClient c = OpenAiModelClient.builder(root(keyed)).apiKey("k-123").maxTokens(64)
                .forcedScript(List.of("Hello." + EOS)).build();
        assertThat(c.modelName()).isEqualTo(MODEL);
        assertThat(c.complete(List.of(Message.user("hi")), List.of(), RenderOptions.chat()).parsed().content()).isEqualTo("Hello.");
    }

    @Test
    void anUnreachableModelEndsTheRunWithModelErrorInTheLog(@TempDir Path runDir) throws Exception {
        String url = "http://127.0.0.1:" + freePort() + "/v1";
        OpenAiModelClient c = OpenAiModelClient.builder(url).model("m").retries(0).build();
        AgentLoop.Outcome out;
        try (Sandbox sb = sandbox();
             TrajectoryLog log = TrajectoryLog.create(runDir, AgentLoop.runStart("task", c, Map.of()))) {
            out = new AgentLoop(c, ToolRegistry.standard(null), sb, RenderOptions.chat(), AgentLoop.Limits.defaults())
                    .run(null, "task", log);
        }
        assertThat(out.endReason()).startsWith("model_error: POST " + url + "/chat/completions: cannot connect");
        Trajectory t = Trajectory.read(runDir);
        assertThat(t.steps()).isEmpty();
        assertThat(t.end()).hasValueSatisfying(e -> assertThat(e.reason()).isEqualTo(out.endReason()));
    }

    @Test
    void baseUrlsAreNormalisedAndBadOnesRefused() {
        List<String> same = new ArrayList<>(List.of("http://h:8080", "http://h:8080/", "http://h:8080/v1", "http://h:8080/v1/", " HTTP://h:8080 "));
        for (String u : same) assertThat(OpenAiModelClient.normalise(u)).hasToString("http://h:8080/v1");
        assertThat(OpenAiModelClient.normalise("https://api.example.com/api/openai/")).hasToString("https://api.example.com/api/openai");
        assertThatThrownBy(() -> OpenAiModelClient.normalise("ftp://h/v1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'ftp://h/v1'").hasMessageContaining("http:// or https://");
        assertThatThrownBy(() -> OpenAiModelClient.normalise("localhost:8080")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("http:// or https://");
        assertThatThrownBy(() -> OpenAiModelClient.normalise("http://h:1/v1?key=x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("query");
        assertThatThrownBy(() -> OpenAiModelClient.normalise("http:///v1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no host");
        assertThatThrownBy(() -> client().extraBody(JSON.createArrayNode())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("extraBody");
        OpenAiModelClient c = client().build();
        RenderOptions r0731 = new RenderOptions(RenderOptions.ThinkingMode.THINKING, "low", true, RenderOptions.Revision.R0731);
        assertThatThrownBy(() -> c.requestBody(List.of(Message.user("hi")), List.of(), r0731, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("revision");
    }
}
