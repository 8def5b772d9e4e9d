package dev.ds4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.RenderOptions;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.Set;

/**
 * The agent's model behind any OpenAI-compatible chat-completions endpoint: vLLM, SGLang, DeepSeek's API, or
 * {@code ds4j serve}. One {@code POST {base}/chat/completions} per turn, streamed by default.
 *
 * <pre>{@code
 * OpenAiModelClient c = OpenAiModelClient.builder("http://127.0.0.1:8080")   // or …/v1
 *         .model("deepseek-v4")                  // optional: else the first of GET {base}/models
 *         .apiKey(System.getenv("DS4J_API_KEY")) // optional (null or empty: none), sent as Bearer
 *         .maxTokens(4096).temperature(1.0)      // optional: else the server's defaults
 *         .onText(System.err::print)             // optional: reasoning and content as they stream in
 *         .build();
 * }</pre>
 *
 * <ul>
 * <li><b>Base URL.</b> http or https only. The server root ({@code http://h:8080} or {@code …/}) means
 *     {@code http://h:8080/v1}; any other path is used as given (minus a trailing slash), so {@code …/v1},
 *     {@code https://host/api/v1} and prefixes without {@code /v1} all work.</li>
 * <li><b>Model.</b> Without {@link Builder#model}, {@link Builder#build} asks {@code GET {base}/models} and takes the
 *     first; it fails if the list is empty. This is the only request {@code build()} makes.</li>
 * <li><b>Thinking.</b> {@link RenderOptions#thinkingMode()} goes as {@code chat_template_kwargs: {thinking: bool}}
 *     (read by vLLM's and SGLang's DeepSeek templates and by our server), the effort, when set, as {@code reasoning_effort}
 *     ("high" or "max": DeepSeek's values; a server that knows only low/medium/high may refuse "max").
 *     DeepSeek's own API takes {@code thinking: {type: enabled|disabled}} instead: add it with {@link Builder#extraBody}.
 *     The endpoint's template decides whether earlier reasoning is dropped (DeepSeek's keeps it when tools are
 *     declared, which the agent always does); the 0731 encoder revision cannot be requested and is refused.</li>
 * <li><b>Extra body.</b> {@link Builder#extraBody} is merged into every request last (objects key by key, other
 *     values replace), like the Python client's {@code extra_body}.</li>
 * <li><b>Forced script.</b> {@link Builder#forcedScript}: turn i sends {@code "ds4j_forced_output": script[i]}, our
 *     server's hook that dictates the emitted tokens while the model runs every step (tests use it to make a
 *     random model write real DSML). Other servers ignore unknown fields (vLLM, SGLang) or reject the request
 *     (OpenAI); use it only against {@code ds4j serve}. Likewise {@link Builder#returnRaw} asks our server for
 *     the raw completion text ({@code ds4j_return_raw}).</li>
 * <li><b>Raw text.</b> An endpoint returns parsed channels, not DSML. The Completion's raw text is therefore the
 *     server's raw output when it sent one ({@code returnRaw} against our server, with the EOS that ended it, as
 *     {@link LocalModelClient} logs it), else the JSON of the returned message: what was received, and never
 *     mistakable for DSML (it starts with '{').</li>
 * <li><b>Streaming.</b> By default ({@link Builder#stream}) the request asks for {@code "stream": true} with
 *     {@code stream_options.include_usage}, and {@link OpenAiStream} puts the chunks back together into the
 *     Completion the non-streamed request gives (same channels, tool calls, usage, and with {@code returnRaw} the
 *     same raw text, which our server sends on the last chunk); reasoning and content go to {@link #onText} as they
 *     arrive. A server that answers a streamed request with a whole JSON completion is read as such. The body is
 *     read on the calling thread from a queue filled by the HTTP client, polled with the cancellation, so Ctrl-C
 *     stops a turn within about 100 ms and closes the connection (the server sees the client go away).</li>
 * <li><b>Errors.</b> Failures throw {@link ModelClientException} naming the URL, the status and the server's error
 *     message. Connection failures, 429, 502, 503 and 504 are retried ({@link Builder#retries}, default 3, with
 *     doubling backoff from {@link Builder#retryBackoff}, or the server's Retry-After if longer, at most 30 s); a
 *     request that times out is not retried (the server is busy with it). Giving up says how many attempts were made.
 *     Once a stream has begun nothing is retried (the server may have done the work): an {@code error} event, a
 *     stream that breaks or ends without {@code [DONE]} or a finish reason, and a malformed chunk are errors naming
 *     how many chunks came, and the request timeout bounds the whole stream.</li>
 * </ul>
 */
public final class OpenAiModelClient implements ModelClient {
    private static final Set<Integer> TRANSIENT = Set.of(429, 502, 503, 504);
    private static final Duration MAX_WAIT = Duration.ofSeconds(30);

    private final URI base;
    private final String model;
    private final String apiKey;
    private final Duration timeout;
    private final Double temperature;
    private final Integer maxTokens;
    private final boolean returnRaw;
    private final ObjectNode extraBody;
    private final int retries;
    private final Duration backoff;
    private final Deque<String> script;
    private final boolean stream;
    private volatile Consumer<String> onText;
    private final HttpClient http;

    private OpenAiModelClient(Builder b) {
        this.base = normalise(b.baseUrl);
        this.apiKey = b.apiKey == null || b.apiKey.isEmpty() ? null : b.apiKey;
        this.timeout = b.timeout;
        this.temperature = b.temperature;
        this.maxTokens = b.maxTokens;
        this.returnRaw = b.returnRaw;
        this.extraBody = b.extraBody == null ? null : b.extraBody.deepCopy();
        this.retries = b.retries;
        this.backoff = b.backoff;
        this.script = new ArrayDeque<>(b.script);
        this.stream = b.stream;
        this.onText = b.onText;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(b.connectTimeout).build();
        this.model = b.model != null ? b.model : firstModel();
    }

    public static Builder builder(String baseUrl) { return new Builder(baseUrl); }

    public static final class Builder {
        private final String baseUrl;
        private String model, apiKey;
        private Duration timeout = Duration.ofMinutes(10), connectTimeout = Duration.ofSeconds(10), backoff = Duration.ofMillis(500);
        private Double temperature;
        private Integer maxTokens;
        private boolean returnRaw, stream = true;
        private Consumer<String> onText;
        private ObjectNode extraBody;
        private int retries = 3;
        private List<String> script = List.of();

        private Builder(String baseUrl) { this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl"); }

        /** The served model's name; null or empty: the first one {@code GET {base}/models} lists. */
        public Builder model(String name) { this.model = name == null || name.isEmpty() ? null : name; return this; }

        /** Sent as {@code Authorization: Bearer KEY}; null or empty: none. The caller picks it (flag or environment). */
        public Builder apiKey(String key) { this.apiKey = key; return this; }

        /** How long one request may take, generation included (default 10 minutes). */
        public Builder requestTimeout(Duration d) { this.timeout = positive(d, "requestTimeout"); return this; }

        public Builder connectTimeout(Duration d) { this.connectTimeout = positive(d, "connectTimeout"); return this; }

        /** Sampling temperature; null: the server's default. */
        public Builder temperature(Double t) {
            if (t != null && !(t >= 0)) throw new IllegalArgumentException("temperature: must be >= 0, got " + t);
            this.temperature = t;
            return this;
        }

        /** max_tokens per turn; null: the server's default. */
        public Builder maxTokens(Integer n) {
            if (n != null && n < 1) throw new IllegalArgumentException("maxTokens: must be at least 1, got " + n);
            this.maxTokens = n;
            return this;
        }

        /** Completions to force, one per turn ({@code ds4j_forced_output}; {@code ds4j serve} only). */
        public Builder forcedScript(List<String> s) { this.script = s == null ? List.of() : List.copyOf(s); return this; }

        /** Ask our server for the raw completion text ({@code ds4j_return_raw}; {@code ds4j serve} only). */
        public Builder returnRaw(boolean r) { this.returnRaw = r; return this; }

        /** Stream each turn (default true); false: one whole JSON answer per turn. */
        public Builder stream(boolean s) { this.stream = s; return this; }

        /** Reasoning and content text as it arrives (a live view); null for none. See {@link OpenAiModelClient#onText}. */
        public Builder onText(Consumer<String> sink) { this.onText = sink; return this; }

        /** A JSON object merged into every request body last. */
        public Builder extraBody(JsonNode extra) {
            if (extra != null && !extra.isObject()) throw new IllegalArgumentException("extraBody: must be a JSON object, got " + extra.getNodeType());
            this.extraBody = (ObjectNode) extra;
            return this;
        }

        /** Retries of a transient failure (default 3; 0: none). */
        public Builder retries(int n) {
            if (n < 0 || n > 10) throw new IllegalArgumentException("retries: must be 0..10, got " + n);
            this.retries = n;
            return this;
        }

        /** The wait before the first retry, doubling after each (default 500 ms). */
        public Builder retryBackoff(Duration d) { this.backoff = Objects.requireNonNull(d, "retryBackoff"); return this; }

        /** Builds the client; without a model name this asks the server for its models, and throws if it cannot. */
        public OpenAiModelClient build() { return new OpenAiModelClient(this); }

        private static Duration positive(Duration d, String what) {
            if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(what + ": must be a positive duration, got " + d);
            return d;
        }
    }

    /** The base URL every request is relative to, normalised (always ends without a slash). */
    public URI baseUrl() { return base; }

    @Override public String modelName() { return model; }

    /** How many scripted completions are still to be forced. */
    public synchronized int scriptLeft() { return script.size(); }

    /**
     * Reasoning and content text of each turn as it arrives (a live view), in order, reasoning first; null for none.
     * Unlike {@link LocalModelClient#onText} this is the parsed text, not DSML: the endpoint parses. Called on the
     * thread that called {@code complete}. Without streaming the whole text comes at once when the turn ends.
     */
    public void onText(Consumer<String> sink) { this.onText = sink; }

    /** The running turn's cancellation (Ctrl-C, the run's wall time); polled while waiting for the answer. */
    private volatile BooleanSupplier cancelled;

    @Override
    public synchronized Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options,
                                            BooleanSupplier cancelled) {
        this.cancelled = cancelled;
        try {
            return complete(messages, tools, options);
        } finally {
            this.cancelled = null;
        }
    }

    @Override
    public synchronized Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options) {
        String forced = script.poll();
        try {
            return post(requestBody(messages, tools, options, forced));
        } catch (RuntimeException e) {
            // The turn produced nothing: its scripted completion stays first, so a retried turn gets it.
            if (forced != null) script.addFirst(forced);
            throw e;
        }
    }

    private Completion post(ObjectNode body) {
        String url = base + "/chat/completions";
        String text;
        try {
            text = OpenAiWire.JSON.writeValueAsString(body);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise the request", e);
        }
        HttpRequest.Builder req = request(url).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(text, StandardCharsets.UTF_8));
        if (stream) req.setHeader("Accept", "text/event-stream");
        Answer a = send(req.build(), "POST " + url, url, stream);
        if (a.feed() != null) return read(a, url);
        Completion c = OpenAiWire.completion(a.body(), url);
        Consumer<String> sink = onText;
        if (sink != null) {
            // A server that ignored "stream": the whole text at once, still in the live view.
            String r = c.parsed().reasoningContent();
            if (r != null && !r.isEmpty()) sink.accept(r);
            if (!c.parsed().content().isEmpty()) sink.accept(c.parsed().content());
        }
        return c;
    }

    /**
     * Reads a started event stream on this thread. The HTTP client's thread only queues lines, so polling the queue
     * lets cancellation and the timeout act between lines, and also while the server is silent; the connection is
     * closed whenever this returns before the body's end.
     */
    private Completion read(Answer a, String url) {
        OpenAiStream s = new OpenAiStream(url, onText);
        BooleanSupplier c = cancelled;
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                Object item = a.feed().next(100);
                if (c != null && c.getAsBoolean()) throw new CancellationException("the request was cancelled");
                if (item instanceof String line) {
                    if (s.line(line)) return s.end();
                } else if (item == LineFeed.END) {
                    return s.end();
                } else if (item instanceof Throwable t) {
                    throw new ModelClientException("POST " + url + ": the stream broke after " + s.chunks() + " chunks ("
                            + describe(t) + "); not retried, since the server may have done the work", url, 200, 1, t);
                } else if (System.nanoTime() - deadline > 0) {
                    throw new ModelClientException("POST " + url + ": the stream did not end within " + timeout.toSeconds()
                            + " s (the request timeout) after " + s.chunks() + " chunks; not retried", url, 200, 1, null);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelClientException("POST " + url + ": interrupted while reading the stream", url, 200, 1, e);
        } finally {
            a.feed().cancel();
            a.exchange().cancel(true);
        }
    }

    /** A 2xx answer: its whole body, or, for an event stream, its lines as they arrive and the exchange to cancel. */
    private record Answer(String body, LineFeed feed, CompletableFuture<?> exchange) {}

    /** The lines of an event stream, handed from the HTTP client's thread to the reader through a queue. */
    private static final class LineFeed implements Flow.Subscriber<String> {
        static final Object END = new Object();
        final CompletableFuture<Void> started = new CompletableFuture<>();
        private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        private Flow.Subscription subscription;
        private boolean cancelled;

        @Override public synchronized void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (cancelled) s.cancel(); else s.request(Long.MAX_VALUE); // SSE chunks are small; the queue holds them
        }
        @Override public void onNext(String line) { queue.add(line); }
        @Override public void onError(Throwable t) { queue.add(t); }
        @Override public void onComplete() { queue.add(END); }

        /** The next line, END, or a Throwable; null if nothing came within {@code millis}. */
        Object next(long millis) throws InterruptedException { return queue.poll(millis, TimeUnit.MILLISECONDS); }

        /** Stops the body: the HTTP client closes the connection. */
        synchronized void cancel() {
            cancelled = true;
            if (subscription != null) subscription.cancel();
        }
    }

    /** Streamed 2xx answers with an event stream go to {@code feed}; anything else is read whole as text. */
    private static HttpResponse.BodyHandler<String> handler(LineFeed feed) {
        return info -> {
            boolean sse = info.headers().firstValue("Content-Type")
                    .map(v -> v.strip().toLowerCase().startsWith("text/event-stream")).orElse(false);
            if (feed != null && info.statusCode() / 100 == 2 && sse) {
                feed.started.complete(null);
                return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.fromLineSubscriber(feed), v -> null);
            }
            return HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8);
        };
    }

    /** The JSON body {@link #complete} would send for this turn (with {@code forced} as the forced output, or none). */
    ObjectNode requestBody(List<Message> messages, List<JsonNode> tools, RenderOptions options, String forced) {
        return OpenAiWire.requestBody(model, messages, tools, options, temperature, maxTokens, stream, forced, returnRaw, extraBody);
    }

    private String firstModel() {
        String url = base + "/models";
        String body = send(request(url).GET().build(), "GET " + url, url, false).body();
        JsonNode data;
        try {
            data = OpenAiWire.JSON.readTree(body).path("data");
        } catch (IOException e) {
            throw new ModelClientException("GET " + url + ": the response is not JSON (" + OpenAiWire.snippet(body) + ")", url, 200, 1, e);
        }
        if (!data.isArray()) throw new ModelClientException("GET " + url + ": the response has no 'data' list of models", url, 200, 1, null);
        if (data.isEmpty() || !data.get(0).path("id").isTextual())
            throw new ModelClientException("GET " + url + ": the server lists no models; name one with the model option", url, 200, 1, null);
        return data.get(0).get("id").textValue();
    }

    private HttpRequest.Builder request(String url) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(timeout).header("Accept", "application/json");
        if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
        return b;
    }

    /**
     * Waits for an answer, polling the turn's cancellation: a generation can run for minutes, and Ctrl-C must not
     * wait for it. A cancelled request is abandoned (the connection is closed; the server sees the client go away).
     * Returns null once an event stream has started on {@code feed} (its body is read by {@link #read}).
     */
    private HttpResponse<String> await(CompletableFuture<HttpResponse<String>> f, LineFeed feed) throws IOException, InterruptedException {
        BooleanSupplier c = cancelled;
        CompletableFuture<?> first = feed == null ? f : CompletableFuture.anyOf(f, feed.started);
        while (true) {
            try {
                first.get(100, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (c != null && c.getAsBoolean()) {
                    f.cancel(true);
                    throw new CancellationException("the request was cancelled");
                }
                continue;
            } catch (ExecutionException e) {
                // f failed: reported below
            }
            if (feed != null && feed.started.isDone()) return null;
            try {
                return f.get();
            } catch (ExecutionException e) {
                Throwable t = e.getCause();
                if (t instanceof IOException io) throw io;
                if (t instanceof RuntimeException r) throw r;
                throw new IOException(t);
            }
        }
    }

    /**
     * Sends with bounded retries of transient failures; returns a 2xx answer: its body, or with {@code sse} an event
     * stream that has started (retries end there: what follows is the server's work).
     */
    private Answer send(HttpRequest req, String what, String url, boolean sse) {
        Duration wait = backoff;
        for (int attempt = 1; ; attempt++) {
            String failure;
            int status = 0;
            Duration retryAfter = null;
            Throwable cause = null;
            try {
                LineFeed feed = sse ? new LineFeed() : null;
                CompletableFuture<HttpResponse<String>> f = http.sendAsync(req, handler(feed));
                HttpResponse<String> res = await(f, feed);
                if (res == null) return new Answer(null, feed, f);
                status = res.statusCode();
                if (status / 100 == 2) return new Answer(res.body(), null, null);
                failure = what + ": HTTP " + status + ": " + OpenAiWire.errorMessage(res.body());
                if (!TRANSIENT.contains(status)) throw new ModelClientException(failure, url, status, attempt, null);
                retryAfter = res.headers().firstValue("Retry-After").map(OpenAiModelClient::seconds).orElse(null);
            } catch (HttpConnectTimeoutException | ConnectException e) {
                failure = what + ": cannot connect (" + describe(e) + "); is the server running at " + base + "?";
                cause = e;
            } catch (HttpTimeoutException e) {
                throw new ModelClientException(what + ": no response within " + timeout.toSeconds()
                        + " s (the request timeout); not retried, since the server may still be working on it", url, 0, attempt, e);
            } catch (IOException e) {
                // The connection broke (reset, closed before an answer): transient like a refused connection.
                failure = what + ": the connection failed (" + describe(e) + ")";
                cause = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ModelClientException(what + ": interrupted", url, 0, attempt, e);
            }
            if (attempt > retries) {
                String msg = retries == 0 ? failure : failure + " (gave up after " + attempt + " attempts)";
                throw new ModelClientException(msg, url, status, attempt, cause);
            }
            Duration sleep = retryAfter != null && retryAfter.compareTo(wait) > 0 ? retryAfter : wait;
            if (sleep.compareTo(MAX_WAIT) > 0) sleep = MAX_WAIT;
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ModelClientException(failure + " (interrupted while waiting to retry)", url, status, attempt, e);
            }
            wait = wait.multipliedBy(2);
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        if (e instanceof ConnectException && (m == null || m.isBlank())) return "connection refused";
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    private static Duration seconds(String header) {
        try {
            long s = Long.parseLong(header.strip());
            return s >= 0 ? Duration.ofSeconds(s) : null;
        } catch (NumberFormatException e) {
            return null; // an HTTP date: fall back to our own backoff
        }
    }

    /** http(s)://host[:port][/path] → the API base; the bare server root means {@code /v1}. */
    static URI normalise(String url) {
        URI u;
        try {
            u = new URI(url.strip());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("endpoint URL '" + url + "' is not a valid URL: " + e.getMessage());
        }
        String scheme = u.getScheme();
        if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https")))
            throw new IllegalArgumentException("endpoint URL '" + url + "' must start with http:// or https:// (e.g. http://127.0.0.1:8080/v1)");
        if (u.getHost() == null || u.getHost().isEmpty())
            throw new IllegalArgumentException("endpoint URL '" + url + "' has no host");
        if (u.getRawQuery() != null || u.getRawFragment() != null)
            throw new IllegalArgumentException("endpoint URL '" + url + "' must not have a query or fragment: give the API base, e.g. http://127.0.0.1:8080/v1");
        String path = u.getRawPath() == null ? "" : u.getRawPath().replaceAll("/+$", "");
        if (path.isEmpty()) path = "/v1";
        return URI.create(scheme.toLowerCase() + "://" + u.getRawAuthority() + path);
    }
}
