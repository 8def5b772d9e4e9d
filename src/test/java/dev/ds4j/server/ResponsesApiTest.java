package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import dev.ds4j.chat.PyJson;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** POST /v1/responses driven by the official openai-java SDK against the real server and tiny model. */
class ResponsesApiTest {
    static TinyServer tiny;
    static OpenAIClient client;
    static final String EOS = "<｜end▁of▁sentence｜>";

    @BeforeAll
    static void start() throws Exception {
        tiny = new TinyServer(null);
        client = OpenAIOkHttpClient.builder().baseUrl(tiny.baseUrl()).apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() throws Exception { tiny.close(); }

    static ResponseCreateParams.Builder request() {
        return ResponseCreateParams.builder().model(TinyServer.MODEL).maxOutputTokens(64);
    }

    @Test
    void plainAnswerWithoutThinking() {
        Response r = client.responses().create(request().input("Hello").instructions("Be brief.")
                .putAdditionalBodyProperty("thinking", JsonValue.from(Map.of("type", "disabled")))
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from("Hi there." + EOS)).build());
        assertThat(r.status()).contains(ResponseStatus.COMPLETED);
        assertThat(r.output()).hasSize(1);
        assertThat(r.output().get(0).asMessage().content().get(0).asOutputText().text()).isEqualTo("Hi there.");
        // BOS, "Be brief." (2 tokens), <｜User｜>, "Hello", <｜Assistant｜>, </think>
        assertThat(r.usage().get().inputTokens()).isEqualTo(tokenCount("Be brief.") + tokenCount("Hello") + 4);
        assertThat(r.usage().get().outputTokens()).isEqualTo(tiny.engine.tokenizer().encodeWithAddedTokens("Hi there." + EOS).length);

        Response cut = client.responses().create(request().input("Hello").maxOutputTokens(3).build());
        assertThat(cut.status()).contains(ResponseStatus.INCOMPLETE);
        assertThat(cut.incompleteDetails().get().reason()).isPresent();
    }

    @Test
    void streamingSendsReasoningAndTextEvents() {
        StringBuilder reasoning = new StringBuilder(), text = new StringBuilder();
        Response completed = null;
        try (StreamResponse<ResponseStreamEvent> s = client.responses().createStreaming(request().input("2+2?")
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from("Two and two.</think>It is 4." + EOS)).build())) {
            for (ResponseStreamEvent e : (Iterable<ResponseStreamEvent>) s.stream()::iterator) {
                e.reasoningTextDelta().ifPresent(d -> reasoning.append(d.delta()));
                e.outputTextDelta().ifPresent(d -> text.append(d.delta()));
                if (e.isCompleted()) completed = e.asCompleted().response();
            }
        }
        assertThat(reasoning.toString()).isEqualTo("Two and two.");
        assertThat(text.toString()).isEqualTo("It is 4.");
        assertThat(completed).isNotNull();
        List<ResponseOutputItem> out = completed.output();
        assertThat(out).hasSize(2);
        assertThat(out.get(0).asReasoning().content().get().get(0).text()).isEqualTo("Two and two.");
        assertThat(out.get(1).asMessage().content().get(0).asOutputText().text()).isEqualTo("It is 4.");
    }

    @Test
    void toolCallRoundTripRendersLikeChatCompletions() throws Exception {
        FunctionTool weather = FunctionTool.builder().name("get_weather").strict(false)
                .parameters(FunctionTool.Parameters.builder().putAdditionalProperty("type", JsonValue.from("object"))
                        .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string")))).build()).build();
        String dsml = "Need the weather.</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
                + "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS;
        Response r1 = client.responses().create(request().input("Weather in Paris?").addTool(weather)
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from(dsml)).build());
        assertThat(r1.output()).hasSize(2);
        ResponseFunctionToolCall call = r1.output().get(1).asFunctionCall();
        assertThat(call.name()).isEqualTo("get_weather");
        assertThat(PyJson.loads(call.arguments()).get("city").asText()).isEqualTo("Paris");

        List<ResponseInputItem> input = List.of(
                ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder().role(EasyInputMessage.Role.USER).content("Weather in Paris?").build()),
                ResponseInputItem.ofReasoning(r1.output().get(0).asReasoning()),
                ResponseInputItem.ofFunctionCall(call),
                ResponseInputItem.ofFunctionCallOutput(ResponseInputItem.FunctionCallOutput.builder().callId(call.callId()).output("rainy, 12C").build()));
        Response r2 = client.responses().create(request().inputOfResponse(input).addTool(weather)
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from("It rains.</think>Take an umbrella." + EOS)).build());
        assertThat(r2.output().get(1).asMessage().content().get(0).asOutputText().text()).isEqualTo("Take an umbrella.");

        // The same conversation through /v1/chat/completions must give a prompt of the same length.
        String chat = """
                {"model": "%s", "max_tokens": 1, "tools": [{"type": "function", "function": {"name": "get_weather",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
                 "messages": [{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": null, "reasoning_content": "Need the weather.",
                   "tool_calls": [{"id": "%s", "type": "function", "function": {"name": "get_weather", "arguments": %s}}]},
                  {"role": "tool", "tool_call_id": "%s", "content": "rainy, 12C"}]}"""
                .formatted(TinyServer.MODEL, call.callId(), PyJson.MAPPER.writeValueAsString(call.arguments()), call.callId());
        JsonNode c = post("/chat/completions", chat);
        assertThat(r2.usage().get().inputTokens()).isEqualTo(c.path("usage").path("prompt_tokens").asLong());
    }

    @Test
    void rawEventStreamIsWellFormed() throws Exception {
        String body = "{\"model\": \"" + TinyServer.MODEL + "\", \"input\": \"hi\", \"stream\": true, \"max_output_tokens\": 5}";
        HttpResponse<String> res = raw("/responses", body);
        assertThat(res.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        String[] frames = res.body().split("\n\n");
        long last = -1;
        for (String f : frames) {
            String[] lines = f.split("\n");
            assertThat(lines).hasSize(2);
            assertThat(lines[0]).startsWith("event: ");
            JsonNode data = PyJson.loads(lines[1].substring("data: ".length()));
            assertThat(data.path("type").asText()).isEqualTo(lines[0].substring("event: ".length()));
            assertThat(data.path("sequence_number").asLong()).isEqualTo(last + 1);
            last = data.path("sequence_number").asLong();
        }
        assertThat(frames[0]).startsWith("event: response.created");
        assertThat(frames[frames.length - 1]).startsWith("event: response.incomplete"); // 5 tokens cannot finish
    }

    @Test
    void badInputIsA400NamingTheField() throws Exception {
        String[][] cases = {
                {"{\"model\": \"" + TinyServer.MODEL + "\"}", "input"},
                {"{\"model\": \"" + TinyServer.MODEL + "\", \"input\": [{\"type\": \"input_image\"}]}", "input[0].type"},
                {"{\"model\": \"" + TinyServer.MODEL + "\", \"input\": \"x\", \"previous_response_id\": \"resp_1\"}", "previous_response_id"},
                {"{\"model\": \"" + TinyServer.MODEL + "\", \"input\": \"x\", \"tools\": [{\"type\": \"web_search\"}]}", "tools[0].type"},
                {"{\"model\": \"" + TinyServer.MODEL + "\", \"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_file\"}]}]}", "input[0].content[0].type"},
        };
        for (String[] c : cases) {
            HttpResponse<String> res = raw("/responses", c[0]);
            assertThat(res.statusCode()).as(c[0]).isEqualTo(400);
            assertThat(PyJson.loads(res.body()).path("error").path("message").asText()).as(c[0]).startsWith(c[1] + ":");
        }
    }

    static int tokenCount(String text) { return tiny.engine.tokenizer().encodeText(text).length; }

    static JsonNode post(String path, String body) throws Exception {
        HttpResponse<String> res = raw(path, body);
        assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
        return PyJson.loads(res.body());
    }

    static HttpResponse<String> raw(String path, String body) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create(tiny.baseUrl() + path)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        }
    }
}
