package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Properties of the renderer and the parser over generated inputs: garbage is rejected with a
 * {@link ChatFormatException} and never crashes; streaming and whole parsing agree on every input; and
 * whatever tool calls the renderer writes, the parser reads back as the same arguments.
 */
class ChatPropertyTest {
    private static final String[] FRAGMENTS = {
            "</think>", "<think>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "｜DSML｜", "\n\n<｜DSML｜tool_calls>\n",
            "<｜DSML｜tool_calls>", "</｜DSML｜tool_calls>", "<｜DSML｜invoke name=\"", "</｜DSML｜invoke>", "\">\n",
            "<｜DSML｜parameter name=\"", "\" string=\"true\">", "\" string=\"false\">", "</｜DSML｜parameter>", "<", ">", "\n",
            "\n\n", "\"", "hello", "世界", "😀", " ", "{\"a\": 1}", "true", "5", "<｜", "｜", "/｜DSML｜parameter", "<\n", "\t", "\\",
    };

    private static String garbage(Random r) {
        StringBuilder sb = new StringBuilder();
        int n = r.nextInt(30);
        for (int i = 0; i < n; i++) {
            String f = FRAGMENTS[r.nextInt(FRAGMENTS.length)];
            if (r.nextInt(8) == 0 && f.length() > 1) f = f.substring(0, 1 + r.nextInt(f.length() - 1));
            sb.append(f);
        }
        return sb.toString();
    }

    /** Whole parse and chunked parse must both fail, or both succeed with equal results. */
    private static boolean sameOutcome(String text, RenderOptions.ThinkingMode mode, long seed) {
        ParsedCompletion whole;
        try {
            whole = CompletionParser.parse(text, mode);
        } catch (ChatFormatException e) {
            try {
                StreamingEquivalence.feedInChunks(text, mode, seed);
                fail("whole parse rejected %s (%s) but the chunked parse accepted it", PyJson.quote(text), e.getMessage());
            } catch (ChatFormatException expected) {
                return false;
            }
            return false;
        } catch (RuntimeException e) {
            throw new AssertionError("parser crashed on " + PyJson.quote(text), e);
        }
        try {
            assertThat(StreamingEquivalence.feedInChunks(text, mode, seed)).isEqualTo(whole);
        } catch (ChatFormatException e) {
            fail("whole parse accepted %s but the chunked parse rejected it: %s", PyJson.quote(text), e.getMessage());
        }
        return true;
    }

    @Test
    void parserRejectsGarbageAndAgreesWithItsStreamingSelf() {
        Random r = new Random(7);
        int accepted = 0;
        for (int i = 0; i < 20_000; i++) {
            RenderOptions.ThinkingMode mode = r.nextBoolean() ? RenderOptions.ThinkingMode.CHAT : RenderOptions.ThinkingMode.THINKING;
            if (sameOutcome(garbage(r), mode, i)) accepted++;
        }
        assertThat(accepted).as("some generated texts are well-formed").isGreaterThan(0);
    }

    @Test
    void mutatedValidCompletionsAgreeStreamingAndWhole() {
        Random r = new Random(11);
        int accepted = 0, rejected = 0;
        for (int i = 0; i < 3000; i++) {
            String valid = renderedCompletion(r);
            StringBuilder sb = new StringBuilder(valid);
            int edits = 1 + r.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int at = r.nextInt(sb.length() + 1);
                switch (r.nextInt(3)) {
                    case 0 -> sb.insert(at, FRAGMENTS[r.nextInt(FRAGMENTS.length)]);
                    case 1 -> sb.delete(at, Math.min(sb.length(), at + 1 + r.nextInt(12)));
                    default -> sb.replace(at, Math.min(sb.length(), at + 1), String.valueOf((char) (' ' + r.nextInt(95))));
                }
            }
            if (sameOutcome(sb.toString(), RenderOptions.ThinkingMode.CHAT, i)) accepted++; else rejected++;
        }
        assertThat(accepted).isGreaterThan(0);
        assertThat(rejected).isGreaterThan(0);
    }

    @Test
    void renderedToolCallsParseBackToTheSameArguments() {
        Random r = new Random(3);
        for (int i = 0; i < 3000; i++) {
            List<Message.ToolCall> calls = randomCalls(r);
            String content = r.nextBoolean() ? "" : randomText(r, 20);
            String completion = completionOf(content, calls);
            ParsedCompletion p = CompletionParser.parse(completion, RenderOptions.ThinkingMode.CHAT);
            assertThat(p.content()).isEqualTo(content);
            assertThat(p.toolCalls()).hasSize(calls.size());
            for (int k = 0; k < calls.size(); k++) {
                assertThat(p.toolCalls().get(k).name()).isEqualTo(calls.get(k).name());
                try {
                    assertThat(PyJson.loads(p.toolCalls().get(k).arguments())).as(completion).isEqualTo(calls.get(k).arguments());
                } catch (Exception e) {
                    throw new AssertionError("arguments not JSON for " + PyJson.quote(completion), e);
                }
            }
            assertThat(StreamingEquivalence.feedInChunks(completion, RenderOptions.ThinkingMode.CHAT, i)).isEqualTo(p);
        }
    }

    @Test
    void rendererRejectsGarbageRequestsWithoutCrashing() {
        Random r = new Random(5);
        int ok = 0;
        for (int i = 0; i < 20_000; i++) {
            JsonNode req = randomRequest(r);
            try {
                RenderRequest.fromJson(req, null).render();
                ok++;
            } catch (ChatFormatException expected) {
                assertThat(expected.getMessage()).isNotBlank();
            } catch (RuntimeException e) {
                throw new AssertionError("renderer crashed on " + req, e);
            }
        }
        assertThat(ok).as("some generated requests are valid").isGreaterThan(0);
    }

    /** The completion a model would emit for this turn: what the renderer writes for it, after the prompt. */
    static String completionOf(String content, List<Message.ToolCall> calls) {
        List<Message> ms = List.of(Message.user("q"), Message.assistant(null, content, calls));
        String prompt = PromptRenderer.render(ms, RenderOptions.chat()).text();
        String marker = "<｜Assistant｜></think>";
        return prompt.substring(prompt.indexOf(marker) + marker.length());
    }

    private static String renderedCompletion(Random r) {
        List<Message.ToolCall> calls = r.nextInt(3) == 0 ? List.of() : randomCalls(r);
        return completionOf(randomText(r, 10), calls);
    }

    private static List<Message.ToolCall> randomCalls(Random r) {
        List<Message.ToolCall> calls = new ArrayList<>();
        int n = 1 + r.nextInt(3);
        for (int c = 0; c < n; c++) {
            ObjectNode args = JsonNodeFactory.instance.objectNode();
            int params = r.nextInt(4);
            for (int p = 0; p < params; p++) args.set(randomText(r, 6) + p, randomValue(r, 2));
            calls.add(new Message.ToolCall("c" + c, "tool_" + randomText(r, 4), args));
        }
        return calls;
    }

    /** Text that may hold quotes, newlines, angle brackets and non-ASCII, but no control literal. */
    private static String randomText(Random r, int max) {
        String[] bits = {"a", "Z", "\"", "'", "<", ">", "\n", "\t", "\\", "é", "中", "😀", " ", "{", "}", "/", "&", "0", "\u0001", "\u2028"};
        StringBuilder sb = new StringBuilder();
        int n = r.nextInt(max + 1);
        for (int i = 0; i < n; i++) sb.append(bits[r.nextInt(bits.length)]);
        return sb.toString();
    }

    private static JsonNode randomValue(Random r, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (r.nextInt(depth > 0 ? 8 : 6)) {
            case 0 -> f.textNode(randomText(r, 12));
            case 1 -> f.numberNode(java.math.BigInteger.valueOf(r.nextLong()).multiply(java.math.BigInteger.valueOf(r.nextInt(3) == 0 ? 1_000_003 : 1)));
            case 2 -> f.numberNode(r.nextInt(4) == 0 ? r.nextGaussian() * Math.pow(10, r.nextInt(40) - 20) : r.nextInt(100) / 8.0);
            case 3 -> f.booleanNode(r.nextBoolean());
            case 4 -> f.nullNode();
            case 5 -> f.textNode("");
            case 6 -> {
                ArrayNode a = f.arrayNode();
                for (int i = r.nextInt(3); i > 0; i--) a.add(randomValue(r, depth - 1));
                yield a;
            }
            default -> {
                ObjectNode o = f.objectNode();
                for (int i = r.nextInt(3); i > 0; i--) o.set(randomText(r, 4), randomValue(r, depth - 1));
                yield o;
            }
        };
    }

    private static final String[] KEYS = {"role", "content", "tool_calls", "tool_call_id", "reasoning_content", "tools", "task",
            "wo_eos", "response_format", "function", "name", "arguments", "id", "type", "text", "parameters"};
    private static final String[] WORDS = {"system", "user", "assistant", "tool", "developer", "latest_reminder", "function",
            "text", "action", "title", "x", "", "{}", "{\"a\": 1}", "[1]", "c1", "<｜User｜>", "</｜DSML｜parameter>"};

    private static JsonNode randomRequest(Random r) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode req = f.objectNode();
        req.put("thinking_mode", r.nextInt(10) == 0 ? "other" : r.nextBoolean() ? "chat" : "thinking");
        if (r.nextInt(4) == 0) req.put("reasoning_effort", new String[]{"high", "max", "low", "none"}[r.nextInt(4)]);
        if (r.nextInt(4) == 0) req.put("drop_thinking", r.nextBoolean());
        ArrayNode ms = req.putArray("messages");
        for (int i = r.nextInt(6); i >= 0; i--) ms.add(randomMessage(r, 3));
        if (r.nextInt(5) == 0) req.set("tools", randomMessage(r, 3));
        return req;
    }

    private static JsonNode randomMessage(Random r, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (depth == 0 || r.nextInt(6) == 0) {
            return switch (r.nextInt(4)) {
                case 0 -> f.textNode(WORDS[r.nextInt(WORDS.length)]);
                case 1 -> f.numberNode(r.nextInt(3));
                case 2 -> f.nullNode();
                default -> f.booleanNode(r.nextBoolean());
            };
        }
        if (r.nextInt(5) == 0) {
            ArrayNode a = f.arrayNode();
            for (int i = r.nextInt(3); i >= 0; i--) a.add(randomMessage(r, depth - 1));
            return a;
        }
        ObjectNode o = f.objectNode();
        o.put("role", WORDS[r.nextInt(6)]);
        for (int i = r.nextInt(4); i > 0; i--) o.set(KEYS[r.nextInt(KEYS.length)], randomMessage(r, depth - 1));
        return o;
    }
}
