package dev.ds4j.chat;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.ds4j.chat.RenderOptions.ThinkingMode.CHAT;
import static dev.ds4j.chat.RenderOptions.ThinkingMode.THINKING;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Corners of the strict official grammar (CHAT_FORMAT §4.2), with expectations worked out by hand from
 * its read-until steps and Python regex semantics.
 */
class ParserEdgeCasesTest {
    static final String EOS = "<｜end▁of▁sentence｜>";
    static final String OPEN = "\n\n<｜DSML｜tool_calls>\n", CLOSE = "</｜DSML｜tool_calls>";

    static String invoke(String name, String params) {
        return "<｜DSML｜invoke name=\"" + name + "\">\n" + params + "</｜DSML｜invoke>\n";
    }

    static String param(String key, boolean string, String value) {
        return "<｜DSML｜parameter name=\"" + key + "\" string=\"" + string + "\">" + value + "</｜DSML｜parameter>\n";
    }

    static ParsedCompletion parse(String text, RenderOptions.ThinkingMode mode) {
        ParsedCompletion whole = CompletionParser.parse(text, mode);
        assertThat(StreamingEquivalence.feedInChunks(text, mode, 0)).isEqualTo(whole); // one character at a time
        return whole;
    }

    @Test
    void pythonDollarAllowsANewlineBetweenTheValuesLessThanAndTheClosingTag() {
        // The regex "(.*?)<$" also matches before a final "\n", so "v<\n/｜DSML｜parameter" gives the value "v".
        String text = OPEN + "<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"k\" string=\"true\">v<\n/｜DSML｜parameter>\n</｜DSML｜invoke>\n" + CLOSE + EOS;
        assertThat(parse(text, CHAT).toolCalls().get(0).arguments()).isEqualTo("{\"k\": \"v\"}");
    }

    @Test
    void zeroArgumentInvokeInBothTheModelAndTheHistoryForm() {
        assertThat(parse(OPEN + "<｜DSML｜invoke name=\"ping\">\n</｜DSML｜invoke>\n" + CLOSE + EOS, CHAT).toolCalls().get(0).arguments()).isEqualTo("{}");
        assertThat(parse(OPEN + "<｜DSML｜invoke name=\"ping\">\n\n</｜DSML｜invoke>\n" + CLOSE + EOS, CHAT).toolCalls().get(0).name()).isEqualTo("ping");
    }

    @Test
    void emptyBlockAndMissingEosAfterAClosedBlockAreAcceptedAsTheOfficialParserDoes() {
        ParsedCompletion empty = parse("Hi" + OPEN + CLOSE + EOS, CHAT);
        assertThat(empty.content()).isEqualTo("Hi");
        assertThat(empty.toolCalls()).isEmpty();
        assertThat(parse(OPEN + invoke("f", "") + CLOSE, CHAT).toolCalls()).hasSize(1);
    }

    @Test
    void invokeHeadMayStartWithWhitespaceAndKeyEndsAtTheFirstStringAttribute() {
        String text = OPEN + "<｜DSML｜invoke \t name=\"f\">\n"
                + "<｜DSML｜parameter name=\"a\" string=\"true\">b\" string=\"false\">c</｜DSML｜parameter>\n</｜DSML｜invoke>\n" + CLOSE + EOS;
        assertThat(parse(text, CHAT).toolCalls().get(0).arguments()).isEqualTo("{\"a\": \"b\\\" string=\\\"false\\\">c\"}");
    }

    @Test
    void stringValuesAreRawAndMayContainOtherTags() {
        String text = OPEN + invoke("w", param("s", true, "</｜DSML｜invoke>\n<think>\"q\"") + param("n", false, "[1, {\"x\": null}]")) + CLOSE + EOS;
        assertThat(parse(text, CHAT).toolCalls().get(0).arguments())
                .isEqualTo("{\"s\": \"</｜DSML｜invoke>\\n<think>\\\"q\\\"\", \"n\": [1, {\"x\": null}]}");
    }

    @Test
    void reasoningThenContentThenParallelCalls() {
        ParsedCompletion p = parse("plan\n</think>answer" + OPEN + invoke("a", param("x", false, "1")) + invoke("b", "") + CLOSE + EOS, THINKING);
        assertThat(p.reasoningContent()).isEqualTo("plan\n");
        assertThat(p.content()).isEqualTo("answer");
        assertThat(p.toolCalls()).extracting(ParsedCompletion.ToolCall::name).containsExactly("a", "b");
        assertThat(p.toolCalls()).extracting(ParsedCompletion.ToolCall::arguments).containsExactly("{\"x\": 1}", "{}");
    }

    @Test
    void malformedInputIsReportedWithTheReason() {
        assertRejected(OPEN + "<｜DSML｜invoke name=\"f\">\n" + param("k", true, "v"), CHAT, "unclosed tool-call block");
        assertRejected(OPEN + invoke("f", param("k", true, "1") + param("k", true, "2")) + CLOSE + EOS, CHAT, "duplicate parameter name: 'k'");
        assertRejected("done" + EOS + "more", CHAT, "after the end-of-sentence token");
        assertRejected("reason" + OPEN + invoke("f", "") + CLOSE + EOS, THINKING, "missing </think>");
        assertRejected(OPEN + "<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter  name=\"k\" string=\"true\">v</｜DSML｜parameter>\n</｜DSML｜invoke>\n" + CLOSE + EOS,
                CHAT, "expected ' name=\"'");
        assertRejected(OPEN + "<｜DSML｜invoke name='f'>\n</｜DSML｜invoke>\n" + CLOSE + EOS, CHAT, "tool name format error");
        assertRejected(OPEN + "<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"k\" string=\"yes\">v</｜DSML｜parameter>\n</｜DSML｜invoke>\n" + CLOSE + EOS,
                CHAT, "no ' string=\"true|false\">'");
        assertRejected(OPEN + "<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"k\" string=\"true\">v/｜DSML｜parameter>\n</｜DSML｜invoke>\n" + CLOSE + EOS,
                CHAT, "must end with '<'");
        assertRejected(OPEN + invoke("f", "") + "\n" + CLOSE + EOS, CHAT, "expected '>\\n' between tags");
        assertRejected("a <think> b" + EOS, CHAT, "unexpected special token '<think>' in content");
        assertRejected("r<｜begin▁of▁sentence｜></think>x" + EOS, THINKING, "in reasoning");
    }

    @Test
    void noDeltaEverCarriesAPieceOfATag() {
        String text = "thinking about <b> tags\n</think>Sure.\n" + OPEN + invoke("f", param("p", true, "a<b")) + CLOSE + EOS;
        CompletionParser p = new CompletionParser(THINKING);
        List<CompletionParser.Delta> all = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) all.addAll(p.feed(text.substring(i, i + 1)));
        p.finish();
        for (CompletionParser.Delta d : all) {
            String s = switch (d) {
                case CompletionParser.ReasoningDelta r -> r.text();
                case CompletionParser.ContentDelta c -> c.text();
                case CompletionParser.ToolCallStart st -> st.name();
                case CompletionParser.ToolCallArguments a -> a.fragment();
            };
            assertThat(s).doesNotContain("｜").doesNotContain("</");
        }
        assertThat(all).contains(new CompletionParser.ToolCallStart(0, "f"));
    }

    @Test
    void aCompletionCutShortReleasesWhatWasHeldBackInTheCurrentChannel() {
        // "\n\n<｜DS" may begin a tool block and "</th" may begin </think>: both are held until the text ends.
        CompletionParser c = new CompletionParser(CHAT);
        assertThat(c.feed("answer\n\n<｜DS")).containsExactly(new CompletionParser.ContentDelta("answer"));
        assertThat(c.held()).isEqualTo("\n\n<｜DS".length());
        assertThat(c.releaseHeld()).containsExactly(new CompletionParser.ContentDelta("\n\n<｜DS"));
        assertThat(c.held()).isZero();

        CompletionParser r = new CompletionParser(THINKING);
        assertThat(r.feed("hmm </th")).containsExactly(new CompletionParser.ReasoningDelta("hmm "));
        assertThat(r.releaseHeld()).containsExactly(new CompletionParser.ReasoningDelta("</th"));

        // Inside an unfinished tool block nothing is released as text.
        CompletionParser t = new CompletionParser(CHAT);
        t.feed(OPEN + "<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"k\" string=\"true\">v</｜DSML");
        assertThat(t.releaseHeld()).isEmpty();
    }

    @Test
    void afterAFailedFeedTheUnaccountedTextStartsAtFedMinusHeld() {
        CompletionParser p = new CompletionParser(CHAT);
        String before = "fine so far <｜begin";
        p.feed(before);
        int accounted = before.length() - p.held();
        assertThat(before.substring(accounted)).isEqualTo("<｜begin");
        assertThatThrownBy(() -> p.feed("▁of▁sentence｜> rest")).isInstanceOf(ChatFormatException.class);
    }

    private static void assertRejected(String text, RenderOptions.ThinkingMode mode, String reason) {
        assertThatThrownBy(() -> CompletionParser.parse(text, mode)).isInstanceOf(ChatFormatException.class).hasMessageContaining(reason);
        assertThatThrownBy(() -> StreamingEquivalence.feedInChunks(text, mode, 0)).isInstanceOf(ChatFormatException.class).hasMessageContaining(reason);
    }
}
