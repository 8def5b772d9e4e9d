package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.TestData;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every case of ../shared/spec/chat-golden.json (checked against DeepSeek's own encoder and parser). */
class ChatGoldenTest {
    static JsonNode cases() throws IOException {
        return PyJson.MAPPER.readTree(Files.readString(TestData.shared().resolve("spec/chat-golden.json")));
    }

    @TestFactory
    List<DynamicTest> encodeCases() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : cases()) {
            if (!c.get("kind").asText().equals("encode")) continue;
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                RenderRequest req = RenderRequest.fromJson(c, RenderOptions.Revision.parse(c.get("encoder_revision").asText(), "encoder_revision"));
                assertThat(req.render().text()).isEqualTo(c.get("expected_prompt").textValue());
            }));
        }
        assertThat(tests).hasSize(20);
        return tests;
    }

    @TestFactory
    List<DynamicTest> parseCases() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : cases()) {
            if (!c.get("kind").asText().equals("parse")) continue;
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                RenderOptions.ThinkingMode mode = RenderOptions.ThinkingMode.parse(c.get("mode").get("thinking_mode").asText(), "mode");
                String output = c.get("output").textValue();
                JsonNode expected = c.get("expected_parsed");
                if (expected.has("error")) {
                    assertThatThrownBy(() -> CompletionParser.parse(output, mode)).isInstanceOf(ChatFormatException.class);
                    for (int seed = 0; seed < 20; seed++) {
                        long s = seed;
                        assertThatThrownBy(() -> StreamingEquivalence.feedInChunks(output, mode, s)).isInstanceOf(ChatFormatException.class);
                    }
                    return;
                }
                ParsedCompletion got = CompletionParser.parse(output, mode);
                assertMatches(got, expected);
                for (int seed = 0; seed < 20; seed++) assertThat(StreamingEquivalence.feedInChunks(output, mode, seed)).isEqualTo(got);
            }));
        }
        assertThat(tests).hasSize(11);
        return tests;
    }

    /** Channels equal; arguments compared as JSON when the expected string is JSON, else as strings. */
    static void assertMatches(ParsedCompletion got, JsonNode expected) throws IOException {
        assertThat(got.reasoningContent()).isEqualTo(expected.get("reasoning_content").textValue());
        assertThat(got.content()).isEqualTo(expected.get("content").textValue());
        JsonNode calls = expected.get("tool_calls");
        assertThat(got.toolCalls()).hasSize(calls.size());
        boolean anyInvalid = false;
        for (int i = 0; i < calls.size(); i++) {
            JsonNode f = calls.get(i).get("function");
            ParsedCompletion.ToolCall call = got.toolCalls().get(i);
            assertThat(call.name()).isEqualTo(f.get("name").textValue());
            String args = f.get("arguments").textValue();
            assertThat(call.arguments()).isEqualTo(args);
            if (call.argumentsValidJson()) assertThat(PyJson.loads(call.arguments())).isEqualTo(PyJson.loads(args));
            else anyInvalid = true;
        }
        assertThat(anyInvalid).isEqualTo(expected.path("arguments_not_valid_json").asBoolean(false));
    }
}
