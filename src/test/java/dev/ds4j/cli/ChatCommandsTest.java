package dev.ds4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.TestData;
import dev.ds4j.chat.PyJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ds4j render} and {@code ds4j parse} on the golden cases, exactly as a user runs them. */
class ChatCommandsTest {
    @TempDir
    Path dir;

    JsonNode golden() throws Exception {
        return PyJson.MAPPER.readTree(Files.readString(TestData.shared().resolve("spec/chat-golden.json")));
    }

    @Test
    void renderPrintsExactlyTheGoldenPrompt() throws Exception {
        int n = 0;
        for (JsonNode c : golden()) {
            if (!c.get("kind").asText().equals("encode")) continue;
            // The file format: mode fields at top level, tools at request level.
            var req = PyJson.MAPPER.createObjectNode();
            req.set("messages", c.get("messages"));
            if (c.has("tools")) req.set("tools", c.get("tools"));
            c.get("mode").fields().forEachRemaining(e -> req.set(e.getKey(), e.getValue()));
            Path f = dir.resolve(c.get("name").asText() + ".json");
            Files.writeString(f, PyJson.MAPPER.writeValueAsString(req));
            CliRunner.Result r = CliRunner.run("render", f.toString(), "--revision", c.get("encoder_revision").asText());
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.out()).as(c.get("name").asText()).isEqualTo(c.get("expected_prompt").textValue());
            n++;
        }
        assertThat(n).isEqualTo(20);
    }

    @Test
    void renderIdsPrintsTheGoldenTokenIds() throws Exception {
        int n = 0;
        for (JsonNode c : golden()) {
            if (!c.has("expected_token_ids")) continue;
            Path f = dir.resolve(c.get("name").asText() + ".json");
            Files.writeString(f, PyJson.MAPPER.writeValueAsString(c));
            CliRunner.Result r = CliRunner.run("render", f.toString(), "--ids");
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(PyJson.loads(r.out())).isEqualTo(c.get("expected_token_ids"));
            n++;
        }
        assertThat(n).isEqualTo(3);
        CliRunner.Result r = CliRunner.run("render", dir.resolve("plain_chat_nonthink.json").toString(), "--ids", "--tokenizer", dir.resolve("nope.json").toString());
        assertOneLineError(r, "nope.json: no tokenizer.json there");
    }

    @Test
    void parsePrintsTheGoldenMessageOrAnError() throws Exception {
        int n = 0;
        for (JsonNode c : golden()) {
            if (!c.get("kind").asText().equals("parse")) continue;
            Path f = dir.resolve(c.get("name").asText() + ".txt");
            Files.writeString(f, c.get("output").textValue());
            CliRunner.Result r = CliRunner.run("parse", f.toString(), "--thinking-mode", c.get("mode").get("thinking_mode").asText());
            JsonNode expected = c.get("expected_parsed");
            if (expected.has("error")) {
                assertThat(r.exit()).isEqualTo(2);
                assertThat(r.err()).startsWith("ds4j: error: completion at character ");
                assertThat(r.out()).isEmpty();
            } else {
                assertThat(r.exit()).as(r.err()).isZero();
                JsonNode got = PyJson.loads(r.out());
                assertThat(got.get("reasoning_content")).isEqualTo(expected.get("reasoning_content"));
                assertThat(got.get("content")).isEqualTo(expected.get("content"));
                assertThat(got.get("tool_calls")).isEqualTo(expected.get("tool_calls"));
                assertThat(r.err().contains("not valid JSON")).isEqualTo(expected.path("arguments_not_valid_json").asBoolean(false));
            }
            n++;
        }
        assertThat(n).isEqualTo(11);
    }

    @Test
    void badInputIsOneLineAndExitCodeTwo() throws Exception {
        Path notJson = Files.writeString(dir.resolve("bad.json"), "{\"messages\": [");
        assertOneLineError(CliRunner.run("render", notJson.toString()), "bad.json: not valid JSON");
        Path badRole = Files.writeString(dir.resolve("role.json"), "{\"thinking_mode\":\"chat\",\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}");
        assertOneLineError(CliRunner.run("render", badRole.toString()), "messages[0].role: unknown role 'bot'");
        assertOneLineError(CliRunner.run("render", dir.resolve("missing.json").toString()), "missing.json: no such file");
        Path latin1 = Files.write(dir.resolve("latin1.txt"), new byte[]{'c', 'a', 'f', (byte) 0xE9});
        assertOneLineError(CliRunner.run("parse", latin1.toString(), "--thinking-mode", "chat"), "latin1.txt: not valid UTF-8");
        assertOneLineError(CliRunner.run("parse", latin1.toString(), "--thinking-mode", "fast"), "--thinking-mode: must be \"chat\" or \"thinking\"");
        assertOneLineError(CliRunner.run("render", badRole.toString(), "--revision", "0801"), "--revision: must be \"original\" or \"0731\"");
    }

    private static void assertOneLineError(CliRunner.Result r, String expected) {
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains(expected);
        assertThat(r.err().strip().lines().count()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
    }
}
