package dev.ds4j.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.RenderOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Streams our server never sends, from a loopback stub that writes canned server-sent events: tool-call arguments cut
 * mid-JSON and two calls interleaved by index, the {@code reasoning} alias, keep-alive comments, CRLF line endings, an
 * error event, a stream cut before {@code [DONE]}, a malformed chunk; and Ctrl-C while the server is silent
 * mid-stream. Reassembly from our real server is checked in {@link OpenAiModelClientTest}.
 */
class OpenAiStreamEdgeCasesTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<Message> Q = List.of(Message.user("hi"));

    HttpServer stub;
    final List<String> requests = Collections.synchronizedList(new ArrayList<>());

    interface Writer { void write(OutputStream out) throws IOException, InterruptedException; }

    /** A stub answering every chat request with a 200 event stream that {@code body} writes. */
    String serve(Writer body) throws IOException {
        stub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        stub.createContext("/v1/chat/completions", ex -> {
            requests.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            ex.getResponseHeaders().set("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, 0); // chunked: written as it comes
            try (OutputStream out = ex.getResponseBody()) {
                body.write(out);
            } catch (IOException | InterruptedException ignored) {
                // the client left
            }
        });
        stub.start();
        return "http://127.0.0.1:" + stub.getAddress().getPort() + "/v1";
    }

    /** A stub writing exactly {@code text}. */
    String serve(String text) throws IOException {
        return serve(out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    @AfterEach
    void stop() { if (stub != null) stub.stop(0); }

    static OpenAiModelClient.Builder client(String url) {
        return OpenAiModelClient.builder(url).model("m").retries(2).retryBackoff(Duration.ofMillis(5));
    }

    /** One SSE event per chunk, LF-framed, ending with [DONE]. */
    static String events(String... chunks) {
        StringBuilder b = new StringBuilder();
        for (String c : chunks) b.append("data: ").append(c).append("\n\n");
        return b.append("data: [DONE]\n\n").toString();
    }

    static String delta(String deltaJson) {
        return "{\"choices\": [{\"index\": 0, \"delta\": " + deltaJson + ", \"finish_reason\": null}]}";
    }

    static String finish(String reason) {
        return "{\"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"" + reason + "\"}]}";
    }

    static final String USAGE = "{\"choices\": [], \"usage\": {\"prompt_tokens\": 21, \"completion_tokens\": 9, \"total_tokens\": 30}}";

    @Test
    void toolCallsCutMidJsonAndInterleavedByIndexAreReassembled() throws Exception {
        // Call 0's arguments are {"command": "ls -l"} and call 1's {"path": "a b.txt"}, cut inside keys and
        // strings, and the two calls' pieces alternate (as a server generating calls in parallel sends them).
        String sse = events(
                delta("{\"role\": \"assistant\", \"content\": \"\"}"),
                delta("{\"content\": \"Checking.\"}"),
                delta("{\"tool_calls\": [{\"index\": 0, \"id\": \"c0\", \"type\": \"function\", \"function\": {\"name\": \"shell\", \"arguments\": \"\"}}]}"),
                delta("{\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \"{\\\"comm\"}}]}"),
                delta("{\"tool_calls\": [{\"index\": 1, \"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"read_file\", \"arguments\": \"{\\\"pa\"}}]}"),
                delta("{\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \"and\\\": \\\"ls \"}}, {\"index\": 1, \"function\": {\"arguments\": \"th\\\": \\\"a b\"}}]}"),
                delta("{\"tool_calls\": [{\"index\": 1, \"function\": {\"arguments\": \".txt\\\"}\"}}]}"),
                delta("{\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \"-l\\\"}\"}}]}"),
                finish("tool_calls"), USAGE);
        String url = serve(sse);
        List<String> text = new ArrayList<>();
        ModelClient.Completion c = client(url).onText(text::add).build().complete(Q, List.of(), RenderOptions.chat());
        assertThat(c.parsed()).isEqualTo(new ParsedCompletion(null, "Checking.", List.of(
                new ParsedCompletion.ToolCall("shell", "{\"command\": \"ls -l\"}"),
                new ParsedCompletion.ToolCall("read_file", "{\"path\": \"a b.txt\"}"))));
        assertThat(c.promptTokens()).isEqualTo(21);
        assertThat(c.completionTokens()).isEqualTo(9);
        assertThat(c.truncated()).isFalse();
        assertThat(text).containsExactly("Checking.");
        // No DSML from such a server: the raw text is the message the chunks add up to.
        assertThat(JSON.readTree(c.rawText())).isEqualTo(JSON.readTree("{\"role\": \"assistant\", \"content\": \"Checking.\", \"tool_calls\": ["
                + "{\"id\": \"c0\", \"type\": \"function\", \"function\": {\"name\": \"shell\", \"arguments\": \"{\\\"command\\\": \\\"ls -l\\\"}\"}},"
                + "{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"read_file\", \"arguments\": \"{\\\"path\\\": \\\"a b.txt\\\"}\"}}]}"));
        // The request asked for a stream with usage.
        var sent = JSON.readTree(requests.getFirst());
        assertThat(sent.path("stream").asBoolean(false)).isTrue();
        assertThat(sent.path("stream_options").path("include_usage").asBoolean(false)).isTrue();
    }

    @Test
    void reasoningAliasKeepAlivesAndCrlfFramingAreRead() throws Exception {
        // vLLM's "reasoning" field, comments between events, an event: line, "data:" without its space,
        // and every line ended by CRLF; the same events LF-framed must give the same completion.
        String lf = ": keep-alive\n\n"
                + "event: message\ndata: " + delta("{\"reasoning\": \"Think \"}") + "\n\n"
                + ": ping\n"
                + "data:" + delta("{\"reasoning\": \"hard.\"}") + "\n\n"
                + "data: " + delta("{\"content\": \"Done\"}") + "\n\n"
                + ": keep-alive\n\n"
                + "data: " + delta("{\"content\": \".\"}") + "\n\n"
                + "data: " + finish("stop") + "\n\n"
                + "data: " + USAGE + "\n\n"
                + "data: [DONE]\n\n";
        String crlf = lf.replace("\n", "\r\n");
        List<String> text = new ArrayList<>();
        ModelClient.Completion a = client(serve(crlf)).onText(text::add).build().complete(Q, List.of(), RenderOptions.thinking(null));
        stop();
        ModelClient.Completion b = client(serve(lf)).build().complete(Q, List.of(), RenderOptions.thinking(null));
        assertThat(a.parsed()).isEqualTo(new ParsedCompletion("Think hard.", "Done.", List.of()));
        assertThat(a.promptTokens()).isEqualTo(21);
        assertThat(text).containsExactly("Think ", "hard.", "Done", ".");
        assertThat(b).isEqualTo(a);
    }

    @Test
    void aCutOffStreamRunsNoToolCall() throws Exception {
        String url = serve(events(
                delta("{\"content\": \"Let me\"}"),
                delta("{\"tool_calls\": [{\"index\": 0, \"id\": \"c0\", \"function\": {\"name\": \"shell\", \"arguments\": \"{\\\"command\\\": \\\"rm -r\"}}]}"),
                finish("length"), USAGE));
        ModelClient.Completion c = client(url).build().complete(Q, List.of(), RenderOptions.chat());
        assertThat(c.truncated()).isTrue();
        assertThat(c.parsed().toolCalls()).isEmpty();
        assertThat(c.parsed().content()).isEqualTo("Let me");
    }

    @Test
    void anErrorEventIsNamedAndNotRetried() throws Exception {
        String url = serve("data: " + delta("{\"content\": \"Hel\"}") + "\n\n"
                + "data: {\"error\": {\"message\": \"CUDA out of memory\", \"type\": \"server_error\", \"code\": 500}}\n\n");
        assertThatThrownBy(() -> client(url).build().complete(Q, List.of(), RenderOptions.chat()))
                .isInstanceOf(ModelClientException.class)
                .hasMessage("POST " + url + "/chat/completions: the server reported an error in the stream after 1 chunks: CUDA out of memory");
        assertThat(requests).hasSize(1);
    }

    @Test
    void aStreamCutBeforeDoneIsAnErrorSayingHowFarItGot() throws Exception {
        String url = serve("data: " + delta("{\"content\": \"Hel\"}") + "\n\n"
                + "data: " + delta("{\"tool_calls\": [{\"index\": 0, \"id\": \"c0\", \"function\": {\"name\": \"shell\", \"arguments\": \"{\"}}]}") + "\n\n");
        OpenAiModelClient c = client(url).forcedScript(List.of("scripted")).build();
        assertThatThrownBy(() -> c.complete(Q, List.of(), RenderOptions.chat()))
                .isInstanceOfSatisfying(ModelClientException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("POST " + url + "/chat/completions: the stream ended early after 2 chunks, without [DONE] "
                            + "(0 chars of reasoning, 3 of content, 1 tool call); not retried, since the server may have done the work");
                    assertThat(e.attempts()).isEqualTo(1);
                });
        assertThat(requests).hasSize(1);
        assertThat(c.scriptLeft()).isEqualTo(1); // the turn produced nothing: its forced completion is kept

        stop();
        String noFinish = serve(events(delta("{\"content\": \"Hi\"}")));
        assertThatThrownBy(() -> client(noFinish).build().complete(Q, List.of(), RenderOptions.chat()))
                .isInstanceOf(ModelClientException.class)
                .hasMessageContaining("the stream ended without a finish_reason after 1 chunks (0 chars of reasoning, 2 of content, 0 tool calls)");
    }

    @Test
    void aMalformedChunkIsNamed() throws Exception {
        String url = serve(events(delta("{\"content\": \"Hi\"}"), "{\"choices\": [{\"delta\": {\"content\": \"x\"", finish("stop")));
        assertThatThrownBy(() -> client(url).build().complete(Q, List.of(), RenderOptions.chat()))
                .isInstanceOf(ModelClientException.class)
                .hasMessage("POST " + url + "/chat/completions: the stream is not a chat completion stream: chunk 2 is not JSON "
                        + "({\"choices\": [{\"delta\": {\"content\": \"x\")");
        stop();
        String url2 = serve(events(delta("{\"content\": 7}"), finish("stop")));
        assertThatThrownBy(() -> client(url2).build().complete(Q, List.of(), RenderOptions.chat()))
                .isInstanceOf(ModelClientException.class)
                .hasMessageEndingWith("chunk 1: 'delta.content' is not a string but number");
    }

    @Test
    void cancellingMidStreamReturnsPromptlyAndClosesTheConnection() throws Exception {
        // The stub sends one chunk, then says nothing for a second (a blocking read would hang there), then
        // writes keep-alives until a write fails: the moment it notices the client has gone.
        CountDownLatch noticed = new CountDownLatch(1);
        AtomicLong noticedAt = new AtomicLong();
        String url = serve(out -> {
            out.write(("data: " + delta("{\"content\": \"Thinking about it\"}") + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            Thread.sleep(1000);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            try {
                while (System.nanoTime() < end) {
                    out.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    Thread.sleep(20);
                }
            } catch (IOException e) {
                noticedAt.set(System.nanoTime());
                noticed.countDown();
                throw e;
            }
        });
        AtomicBoolean cancel = new AtomicBoolean();
        AtomicLong cancelledAt = new AtomicLong();
        // Ctrl-C 200 ms after the first text, when the reader is waiting on a silent connection.
        OpenAiModelClient c = client(url).onText(t -> Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException ignored) {
                return;
            }
            cancelledAt.set(System.nanoTime());
            cancel.set(true);
        })).build();
        assertThatThrownBy(() -> c.complete(Q, List.of(), RenderOptions.chat(), cancel::get))
                .isInstanceOf(CancellationException.class);
        long returnedMs = (System.nanoTime() - cancelledAt.get()) / 1_000_000;
        assertThat(returnedMs).as("ms from Ctrl-C to return, while the server is silent").isLessThan(500);
        assertThat(noticed.await(5, TimeUnit.SECONDS)).as("the server sees the connection closed").isTrue();
        assertThat(noticedAt.get()).isGreaterThan(cancelledAt.get());
    }
}
