package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import dev.ds4j.chat.PyJson;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The official openai-java SDK against the real server and engine (tiny random model). Where a test
 * needs particular output from a random model it forces it with the {@code ds4j_forced_output} request
 * field: the model still runs every step, and the text goes through the real parser.
 */
class OpenAiJavaClientTest {
    static TinyServer tiny;
    static OpenAIClient client;
    static final String EOS = "<｜end▁of▁sentence｜>";

    @BeforeAll
    static void start() throws Exception {
        tiny = new TinyServer("test-key");
        client = OpenAIOkHttpClient.builder().baseUrl(tiny.baseUrl()).apiKey("test-key").maxRetries(0).build();
    }

    @AfterAll
    static void stop() throws Exception { tiny.close(); }

    static ChatCompletionCreateParams.Builder request() {
        return ChatCompletionCreateParams.builder().model(TinyServer.MODEL).maxCompletionTokens(64);
    }

    @Test
    void plainChatSampledAndForced() {
        ChatCompletion sampled = client.chat().completions().create(request().addUserMessage("Hello").maxCompletionTokens(4).seed(1)
                .putAdditionalBodyProperty("thinking", JsonValue.from(Map.of("type", "disabled"))).build());
        assertThat(sampled.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.LENGTH);
        assertThat(sampled.usage().get().completionTokens()).isEqualTo(4);
        assertThat(sampled.usage().get().promptTokens()).isEqualTo(5); // BOS <｜User｜> Hello <｜Assistant｜> </think>

        ChatCompletion forced = client.chat().completions().create(request().addUserMessage("Hello")
                .putAdditionalBodyProperty("thinking", JsonValue.from(Map.of("type", "disabled")))
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from("Hello! How can I help?" + EOS)).build());
        assertThat(forced.choices().get(0).message().content()).contains("Hello! How can I help?");
        assertThat(forced.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
    }

    @Test
    void streamingCarriesReasoningAndContentDeltas() {
        StringBuilder content = new StringBuilder(), reasoning = new StringBuilder();
        int chunks = 0;
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(request().addUserMessage("2+2?")
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from("Add two and two.</think>It is 4." + EOS)).build())) {
            for (ChatCompletionChunk c : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                chunks++;
                if (c.choices().isEmpty()) continue;
                ChatCompletionChunk.Choice.Delta d = c.choices().get(0).delta();
                d.content().ifPresent(content::append);
                JsonValue r = d._additionalProperties().get("reasoning_content");
                if (r != null) reasoning.append(r.asStringOrThrow());
            }
        }
        assertThat(reasoning.toString()).isEqualTo("Add two and two.");
        assertThat(content.toString()).isEqualTo("It is 4.");
        assertThat(chunks).isGreaterThan(4);
    }

    @Test
    void toolCallRoundTrip() throws Exception {
        ChatCompletionFunctionTool weather = ChatCompletionFunctionTool.builder().function(FunctionDefinition.builder()
                .name("get_weather").description("Weather in a city")
                .parameters(FunctionParameters.builder().putAdditionalProperty("type", JsonValue.from("object"))
                        .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string")))).build())
                .build()).build();
        String dsml = "The user wants the weather.</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
                + "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS;
        ChatCompletionCreateParams first = request().addUserMessage("Weather in Paris?").addTool(weather)
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from(dsml)).build();
        ChatCompletion c1 = client.chat().completions().create(first);
        assertThat(c1.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        var message = c1.choices().get(0).message();
        assertThat(message._additionalProperties().get("reasoning_content").asStringOrThrow()).isEqualTo("The user wants the weather.");
        ChatCompletionMessageFunctionToolCall call = message.toolCalls().get().get(0).asFunction();
        assertThat(call.id()).startsWith("call_");
        assertThat(call.function().name()).isEqualTo("get_weather");
        JsonNode args = PyJson.loads(call.function().arguments());
        assertThat(args.get("city").asText()).isEqualTo("Paris");

        ChatCompletion c2 = client.chat().completions().create(request().addUserMessage("Weather in Paris?").addTool(weather)
                .addMessage(message)
                .addMessage(ChatCompletionToolMessageParam.builder().toolCallId(call.id()).content("rainy, 12C").build())
                .putAdditionalBodyProperty("ds4j_forced_output", JsonValue.from("It rains.</think>Take an umbrella: rainy, 12C." + EOS)).build());
        assertThat(c2.choices().get(0).message().content()).contains("Take an umbrella: rainy, 12C.");
        assertThat(c2.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        // The second prompt holds the first turn's reasoning, the call and the result (tools present: interleaved thinking).
        assertThat(c2.usage().get().promptTokens()).isGreaterThan(c1.usage().get().promptTokens() + 30);
    }
}
