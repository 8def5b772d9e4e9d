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
}
