package dev.ds4j.server;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** LangChain4j's OpenAI integration against the real server: a tool-call round trip with thinking returned. */
class LangChain4jClientTest {
    static TinyServer tiny;
    static final String EOS = "<｜end▁of▁sentence｜>";

    @BeforeAll
    static void start() throws Exception { tiny = new TinyServer(null); }

    @AfterAll
    static void stop() throws Exception { tiny.close(); }

    static OpenAiChatModel model(String forced) {
        return OpenAiChatModel.builder().baseUrl(tiny.baseUrl()).apiKey("unused").modelName(TinyServer.MODEL)
                .maxCompletionTokens(80).returnThinking(true).customParameters(Map.of("ds4j_forced_output", forced)).build();
    }

    @Test
    void toolCallRoundTripWithThinking() {
        ToolSpecification weather = ToolSpecification.builder().name("get_weather").description("Weather in a city")
                .parameters(JsonObjectSchema.builder().addStringProperty("city").required("city").build()).build();
        String dsml = "Need the tool.</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
                + "<｜DSML｜parameter name=\"city\" string=\"true\">Oslo</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + EOS;
        UserMessage q = UserMessage.from("Weather in Oslo?");
        ChatResponse r1 = model(dsml).chat(ChatRequest.builder().messages(q).toolSpecifications(weather).build());
        AiMessage ai = r1.aiMessage();
        assertThat(ai.thinking()).isEqualTo("Need the tool.");
        assertThat(ai.toolExecutionRequests()).hasSize(1);
        ToolExecutionRequest call = ai.toolExecutionRequests().get(0);
        assertThat(call.name()).isEqualTo("get_weather");
        assertThat(call.arguments()).isEqualTo("{\"city\": \"Oslo\"}");

        ChatResponse r2 = model("Snow.</think>It is snowing in Oslo." + EOS).chat(ChatRequest.builder()
                .messages(List.of(q, ai, ToolExecutionResultMessage.from(call, "snow, -3C"))).toolSpecifications(weather).build());
        assertThat(r2.aiMessage().text()).isEqualTo("It is snowing in Oslo.");
        assertThat(r2.aiMessage().thinking()).isEqualTo("Snow.");
        assertThat(r2.aiMessage().hasToolExecutionRequests()).isFalse();
    }
}
