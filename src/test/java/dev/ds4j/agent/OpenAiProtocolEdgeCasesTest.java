package dev.ds4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.RenderOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.IntFunction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Answers our server never gives, from a loopback stub that replays canned HTTP responses: rate limiting and
 * overload (retry, then give up), other servers' field names ({@code reasoning}, arguments as an object, no usage),
 * a cut-off tool call, and bodies that are not chat completions. The engine path is covered by
 * {@link OpenAiModelClientTest} against the real server.
 */
class OpenAiProtocolEdgeCasesTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<Message> Q = List.of(Message.user("hi"));

    record Canned(int status, String body, String retryAfter) {
        static Canned ok(String body) { return new Canned(200, body, null); }
    }

    HttpServer stub;
    final List<String> requests = Collections.synchronizedList(new ArrayList<>());

    /** A stub whose n-th answer (0-based) is {@code answers.apply(n)}; request bodies are kept in {@link #requests}. */
    String serve(IntFunction<Canned> answers) throws IOException {
        stub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        stub.createContext("/v1/chat/completions", ex -> {
            int n;
            synchronized (requests) {
                n = requests.size();
                requests.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            }
            Canned c = answers.apply(n);
            byte[] b = c.body().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            if (c.retryAfter() != null) ex.getResponseHeaders().set("Retry-After", c.retryAfter());
            ex.sendResponseHeaders(c.status(), b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        stub.start();
        return "http://127.0.0.1:" + stub.getAddress().getPort() + "/v1";
    }

    @AfterEach
    void stop() { if (stub != null) stub.stop(0); }

    static OpenAiModelClient client(String url) {
        return OpenAiModelClient.builder(url).model("m").retries(2).retryBackoff(Duration.ofMillis(5)).build();
    }

    static String message(String messageJson, String finish) {
        return "{\"choices\": [{\"index\": 0, \"message\": " + messageJson + ", \"finish_reason\": \"" + finish + "\"}]}";
    }

    @Test
    void retriesA429ThenSucceeds() throws Exception {
        String url = serve(n -> n == 0 ? new Canned(429, "{\"error\": {\"message\": \"slow down\"}}", "0")
                : Canned.ok(message("{\"role\": \"assistant\", \"content\": \"ok\"}", "stop")));
        ModelClient.Completion c = client(url).complete(Q, List.of(), RenderOptions.chat());
        assertThat(c.parsed().content()).isEqualTo("ok");
        assertThat(requests).hasSize(2);
        assertThat(requests.get(1)).isEqualTo(requests.get(0)); // the same request sent again
    }

    @Test
    void givesUpOnPersistentOverloadNamingTheAttempts() throws Exception {
        String url = serve(n -> new Canned(503, "{\"error\": {\"message\": \"engine overloaded\", \"type\": \"server_error\"}}", null));
        assertThatThrownBy(() -> client(url).complete(Q, List.of(), RenderOptions.chat()))
                .isInstanceOfSatisfying(ModelClientException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("POST " + url + "/chat/completions: HTTP 503: engine overloaded (gave up after 3 attempts)");
                    assertThat(e.status()).isEqualTo(503);
                    assertThat(e.attempts()).isEqualTo(3);
                });
        assertThat(requests).hasSize(3);
    }

    @Test
    void acceptsOtherServersFieldNames() throws Exception {
        String msg = "{\"role\": \"assistant\", \"content\": null, \"reasoning\": \"Check the file.\", \"tool_calls\": ["
                + "{\"id\": \"x1\", \"type\": \"function\", \"function\": {\"name\": \"read_file\", \"arguments\": {\"path\": \"a.txt\", \"limit\": 3}}}]}";
        String url = serve(n -> Canned.ok(message(msg, "tool_calls")));
        ModelClient.Completion c = client(url).complete(Q, List.of(), RenderOptions.thinking(null));
        // Asked for a stream (the default) and answered with one JSON body: read as a whole answer.
        assertThat(JSON.readTree(requests.getFirst()).path("stream").asBoolean(false)).isTrue();
        assertThat(c.parsed().reasoningContent()).isEqualTo("Check the file.");
        assertThat(c.parsed().content()).isEmpty();
        assertThat(c.parsed().toolCalls()).hasSize(1);
        assertThat(c.parsed().toolCalls().getFirst().name()).isEqualTo("read_file");
        assertThat(JSON.readTree(c.parsed().toolCalls().getFirst().arguments()))
                .isEqualTo(JSON.readTree("{\"path\": \"a.txt\", \"limit\": 3}"));
        assertThat(c.promptTokens()).isZero(); // no usage in the answer
        assertThat(c.truncated()).isFalse();
        // No raw DSML from such a server: the raw text is the message as received.
        assertThat(JSON.readTree(c.rawText())).isEqualTo(JSON.readTree(msg));
    }

    @Test
    void aCutOffAnswerRunsNoToolCall() throws Exception {
        String msg = "{\"role\": \"assistant\", \"content\": \"Let me\", \"tool_calls\": ["
                + "{\"id\": \"x1\", \"type\": \"function\", \"function\": {\"name\": \"shell\", \"arguments\": \"{\\\"command\\\": \\\"rm -r\"}}]}";
        String body = "{\"choices\": [{\"index\": 0, \"message\": " + msg + ", \"finish_reason\": \"length\"}],"
                + " \"usage\": {\"prompt_tokens\": 11, \"completion_tokens\": 7, \"total_tokens\": 18}}";
        String url = serve(n -> Canned.ok(body));
        ModelClient.Completion c = client(url).complete(Q, List.of(), RenderOptions.chat());
        assertThat(c.truncated()).isTrue();
        assertThat(c.parsed().toolCalls()).isEmpty();
        assertThat(c.parsed().content()).isEqualTo("Let me");
        assertThat(c.promptTokens()).isEqualTo(11);
        assertThat(c.completionTokens()).isEqualTo(7);
    }

    @Test
    void bodiesThatAreNotChatCompletionsAreNamed() throws Exception {
        List<String> bodies = List.of(
                "<html>Bad gateway</html>",
                "{\"object\": \"list\", \"data\": []}",
                "{\"choices\": [{\"index\": 0}]}",
                message("{\"role\": \"assistant\", \"content\": [\"a\"]}", "stop"),
                message("{\"role\": \"assistant\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"arguments\": \"{}\"}}]}", "tool_calls"));
        List<String> expected = List.of(
                "the body is not JSON (<html>Bad gateway</html>)",
                "'choices' is missing or empty",
                "'choices[0].message' is missing or not an object",
                "'choices[0].message.content' is not a string but array",
                "'choices[0].message.tool_calls[0].function.name' is missing");
        String url = serve(n -> Canned.ok(bodies.get(n)));
        OpenAiModelClient c = client(url);
        for (int i = 0; i < bodies.size(); i++) {
            int k = i;
            assertThatThrownBy(() -> c.complete(Q, List.of(), RenderOptions.chat()))
                    .isInstanceOf(ModelClientException.class)
                    .hasMessageStartingWith("POST " + url + "/chat/completions: the response is not a chat completion: ")
                    .hasMessageContaining(expected.get(k));
        }
        // A 200 is not transient: each malformed answer was asked for once.
        assertThat(requests).hasSize(bodies.size());
        for (String r : requests) assertThat(JSON.readTree(r).path("model").asText()).isEqualTo("m");
    }

    @Test
    void anErrorBodyThatIsNotJsonIsQuoted() throws Exception {
        String url = serve(n -> new Canned(400, "bad things\nhappened", null));
        assertThatThrownBy(() -> client(url).complete(Q, List.of(), RenderOptions.chat()))
                .isInstanceOf(ModelClientException.class)
                .hasMessage("POST " + url + "/chat/completions: HTTP 400: bad things happened");
        JsonNode sent = JSON.readTree(requests.getFirst());
        assertThat(sent.path("chat_template_kwargs").path("thinking").isBoolean()).isTrue();
        assertThat(sent.has("ds4j_forced_output")).isFalse(); // no script: nothing ds4j-specific is sent
        assertThat(sent.has("ds4j_return_raw")).isFalse();
    }
}
