package dev.ds4j.generate;

import dev.ds4j.TestData;
import dev.ds4j.chat.CompletionParser;
import dev.ds4j.chat.ControlToken;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.PromptRenderer;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.model.CheckpointLayout;
import dev.ds4j.model.Model;
import dev.ds4j.model.Presets;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The decode loop on the real engine with the `init --preset tiny` model (random weights, real vocabulary). */
class GeneratorTest {
    @TempDir
    static Path dir;
    static Model model;
    static Tokenizer tok;
    static int[] prompt;

    @BeforeAll
    static void setUp() throws Exception {
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        model = Model.load(dir);
        tok = Tokenizer.load(TestData.shared().resolve("data/deepseek-v4/tokenizer.json"));
        prompt = PromptRenderer.render(List.of(Message.user("What is the weather in Paris?")), RenderOptions.thinking(null)).tokenIds(tok);
    }

    @AfterAll
    static void tearDown() { model.close(); }

    static Session session() { return new Session(model, Session.Options.defaults()); }

    @Test
    void forcedOutputMakesTheRandomModelEmitARealToolCall() {
        String completion = "The user wants weather.</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
                + "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>";
        int[] forced = tok.encodeWithAddedTokens(completion);
        Generator gen = new Generator(tok);
        StringBuilder streamed = new StringBuilder();
        Session s = session();
        Generator.Result r = gen.generate(s, prompt, SamplingParams.DEFAULTS.withMaxTokens(200), forced, streamed::append);
        assertThat(r.tokens()).isEqualTo(forced);
        assertThat(r.eos()).isTrue();
        assertThat(r.finish()).isEqualTo(Generator.Finish.STOP);
        assertThat(streamed.toString()).isEqualTo(r.text());
        assertThat(r.text() + ControlToken.EOS.literal).isEqualTo(completion);
        ParsedCompletion p = CompletionParser.parse(r.text() + ControlToken.EOS.literal, RenderOptions.ThinkingMode.THINKING);
        assertThat(p.reasoningContent()).isEqualTo("The user wants weather.");
        assertThat(p.toolCalls()).singleElement().satisfies(c -> {
            assertThat(c.name()).isEqualTo("get_weather");
            assertThat(c.arguments()).isEqualTo("{\"city\": \"Paris\"}");
        });
        assertThat(s.position()).isEqualTo(prompt.length + forced.length - 1);
    }

    @Test
    void aSeedReproducesTheSampledTokensAndMaxTokensEndsWithLength() {
        SamplingParams p = SamplingParams.DEFAULTS.withSeed(5L).withMaxTokens(6);
        Generator gen = new Generator(tok);
        Generator.Result a = gen.generate(session(), prompt, p, null, null);
        Generator.Result b = gen.generate(session(), prompt, p, null, null);
        assertThat(a.tokens()).hasSize(6).isEqualTo(b.tokens());
        assertThat(a.finish()).isEqualTo(Generator.Finish.LENGTH);
        assertThat(a.text()).isEqualTo(tok.decode(a.tokens()));
    }

    @Test
    void greedyEqualsTheArgmaxOfTheEnginesLogits() {
        Generator.Result r = new Generator(tok).generate(session(), prompt, SamplingParams.DEFAULTS.withTemperature(0).withMaxTokens(3), null, null);
        Session s = session();
        float[][] rows = s.prefill(prompt, false);
        float[] logits = rows[rows.length - 1];
        for (int i = 0; i < 3; i++) {
            int best = 0;
            for (int v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
            assertThat(r.tokens()[i]).isEqualTo(best);
            if (i < 2) logits = s.decode(best);
        }
    }

    @Test
    void stopStringsCutTheTextAndNothingOfThemIsStreamed() {
        int[] forced = tok.encodeText("alpha beta STOP gamma delta");
        List<String> pieces = new ArrayList<>();
        Generator.Result r = new Generator(tok).generate(session(), prompt,
                SamplingParams.DEFAULTS.withStop(List.of("STOP", "zzz")).withMaxTokens(50), forced, pieces::add);
        assertThat(r.text()).isEqualTo("alpha beta ");
        assertThat(String.join("", pieces)).isEqualTo("alpha beta ");
        assertThat(r.finish()).isEqualTo(Generator.Finish.STOP);
        assertThat(r.eos()).isFalse();
    }

    @Test
    void promptsBeyondTheContextAreRejected() {
        Generator gen = new Generator(tok);
        assertThatThrownBy(() -> gen.generate(session(), prompt, SamplingParams.DEFAULTS.withMaxTokens(2_000_000), null, null))
                .hasMessageContaining("exceeds the model's 1048576 positions");
        assertThatThrownBy(() -> gen.generate(session(), new int[]{0, 200_000}, SamplingParams.DEFAULTS, null, null))
                .hasMessageContaining("token id 200000 outside");
    }
}
