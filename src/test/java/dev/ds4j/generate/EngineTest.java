package dev.ds4j.generate;

import dev.ds4j.TestData;
import dev.ds4j.chat.Message;
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
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The batching engine against the solo decode loop: with the same seed, a request must produce exactly the
 * tokens that {@link Generator#generate} produces alone on a fresh session, however it was batched and
 * whatever prefix it got from the cache.
 */
class EngineTest {
    @TempDir
    static Path dir;
    static Model model;
    static Tokenizer tok;

    @BeforeAll
    static void setUp() throws Exception {
        CheckpointLayout.write(dir, Presets.tiny(), CheckpointLayout.Fill.RANDOM, 1, 0.05, false, 1);
        model = Model.load(dir);
        tok = Tokenizer.load(TestData.shared().resolve("data/deepseek-v4/tokenizer.json"));
    }

    @AfterAll
    static void tearDown() { model.close(); }

    static int[] chat(String... turns) {
        List<Message> ms = new ArrayList<>();
        for (int i = 0; i < turns.length; i++) ms.add(i % 2 == 0 ? Message.user(turns[i]) : Message.assistant(null, turns[i], null));
        return PromptRenderer.render(ms, RenderOptions.chat()).tokenIds(tok);
    }

    static SamplingParams seeded(long seed, int max) {
        return new SamplingParams(0.8, 0.95, 0, 0, seed, 1.1, 0.2, 0, max, List.of(), java.util.Map.of());
    }

    static int[] solo(int[] prompt, SamplingParams p) {
        return new Generator(tok).generate(new Session(model, Session.Options.defaults()), prompt, p, null, null).tokens();
    }

    @Test
    void batchedRequestsGiveTheTokensOfSoloRuns() throws Exception {
        int[][] prompts = {chat("Hello"), chat("Tell me about Paris and its museums, briefly."), chat("2+2?"), chat("Hi", "Hello!", "Bye")};
        Engine.Config cfg = new Engine.Config(2, 16, 5, 0); // 5-token prefill chunks: prompts interleave with decodes
        try (Engine engine = new Engine(model, tok, Session.Options.defaults(), cfg)) {
            List<Engine.Job> jobs = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) jobs.add(engine.submit(prompts[i], seeded(i, 6), Forcing.NONE, null));
            for (int i = 0; i < prompts.length; i++) {
                Generator.Result r = jobs.get(i).result().get(120, TimeUnit.SECONDS);
                assertThat(r.tokens()).as("request " + i).isEqualTo(solo(prompts[i], seeded(i, 6)));
                assertThat(r.cachedTokens()).isZero();
            }
            Engine.Stats s = engine.stats();
            assertThat((double) s.stepSequences() / s.steps()).as("sequences per step").isGreaterThan(1.5);
        }
    }

    @Test
    void aFollowUpTurnReusesTheCachedPrefixAndGivesTheSameTokens() throws Exception {
        try (Engine engine = new Engine(model, tok, Session.Options.defaults(), new Engine.Config(2, 16, 64, 64L << 20))) {
            int[] first = chat("What is the capital of France?");
            Generator.Result r1 = engine.submit(first, seeded(7, 5), Forcing.NONE, null).result().get(120, TimeUnit.SECONDS);
            assertThat(r1.cachedTokens()).isZero();
            // The next turn repeats the first prompt up to its last token (<｜Assistant｜> stays, </think> follows the reply).
            int[] second = chat("What is the capital of France?", "Paris.", "And of Italy?");
            int common = 0;
            while (common < first.length && first[common] == second[common]) common++;
            assertThat(common).isGreaterThanOrEqualTo(first.length); // chat mode renders </think> in history too
            Generator.Result r2 = engine.submit(second, seeded(8, 5), Forcing.NONE, null).result().get(120, TimeUnit.SECONDS);
            assertThat(r2.cachedTokens()).isEqualTo(first.length - 1);
            assertThat(r2.promptTokens()).isEqualTo(second.length);
            assertThat(r2.tokens()).isEqualTo(solo(second, seeded(8, 5)));
            // The same prompt again hits its own snapshot (prompt − 1), and still samples the same tokens.
            Generator.Result r3 = engine.submit(second, seeded(8, 5), Forcing.NONE, null).result().get(120, TimeUnit.SECONDS);
            assertThat(r3.cachedTokens()).isEqualTo(second.length - 1);
            assertThat(r3.tokens()).isEqualTo(r2.tokens());
            assertThat(engine.stats().prefixCache().hits()).isEqualTo(2);
        }
    }

    @Test
    void aContinuationOfTheGeneratedTextReusesTheWholeGeneration() throws Exception {
        try (Engine engine = new Engine(model, tok, Session.Options.defaults(), new Engine.Config(1, 16, 64, 64L << 20))) {
            int[] prompt = chat("Count.");
            Generator.Result r1 = engine.submit(prompt, seeded(3, 6), Forcing.NONE, null).result().get(120, TimeUnit.SECONDS);
            int[] next = new int[prompt.length + r1.tokens().length + 1];
            System.arraycopy(prompt, 0, next, 0, prompt.length);
            System.arraycopy(r1.tokens(), 0, next, prompt.length, r1.tokens().length);
            next[next.length - 1] = tok.encodeText(" more")[0];
            Generator.Result r2 = engine.submit(next, seeded(4, 4), Forcing.NONE, null).result().get(120, TimeUnit.SECONDS);
            assertThat(r2.cachedTokens()).isEqualTo(prompt.length + r1.tokens().length - 1);
            assertThat(r2.tokens()).isEqualTo(solo(next, seeded(4, 4)));
        }
    }

    @Test
    void forcingAfterATriggerStartsRightAfterTheModelEmitsIt() throws Exception {
        int thinkEnd = tok.requireAddedTokenId("</think>");
        int[] opener = tok.encodeWithAddedTokens("\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"");
        // A large bias makes the random model close its reasoning at once; the opener must follow, then sampling resumes.
        SamplingParams p = new SamplingParams(1.0, 1.0, 0, 0, 5L, 1.0, 0, 0, opener.length + 3, List.of(), java.util.Map.of(thinkEnd, 100f));
        try (Engine engine = new Engine(model, tok, Session.Options.defaults(), new Engine.Config(1, 4, 64, 0))) {
            int[] prompt = PromptRenderer.render(List.of(Message.user("Weather?")), RenderOptions.thinking(null)).tokenIds(tok);
            Generator.Result r = engine.submit(prompt, p, Forcing.after(thinkEnd, opener), null).result().get(120, TimeUnit.SECONDS);
            assertThat(r.tokens()[0]).isEqualTo(thinkEnd);
            assertThat(java.util.Arrays.copyOfRange(r.tokens(), 1, 1 + opener.length)).isEqualTo(opener);
            assertThat(r.tokens()).hasSize(opener.length + 3);
            assertThat(r.tokens()[opener.length + 1]).isEqualTo(thinkEnd); // sampled again (the bias), not forced
        }
    }

    @Test
    void cancelledAndInvalidRequestsLeaveTheBatchAndOthersFinish() throws Exception {
        try (Engine engine = new Engine(model, tok, Session.Options.defaults(), new Engine.Config(2, 16, 64, 0))) {
            Engine.Job slow = engine.submit(chat("Write a long story."), seeded(1, 500), Forcing.NONE, null);
            Engine.Job bad = engine.submit(new int[]{1, 2, 999_999}, seeded(1, 4), Forcing.NONE, null);
            Engine.Job ok = engine.submit(chat("Hi"), seeded(2, 4), Forcing.NONE, null);
            assertThatThrownBy(() -> bad.result().get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(IllegalArgumentException.class).hasMessageContaining("999999");
            assertThat(ok.result().get(120, TimeUnit.SECONDS).tokens()).isEqualTo(solo(chat("Hi"), seeded(2, 4)));
            slow.cancel();
            assertThatThrownBy(() -> slow.result().get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(CancellationException.class);
            Engine.Stats s = engine.stats();
            assertThat(s.cancelled()).isEqualTo(1);
            assertThat(s.failed()).isEqualTo(1);
        }
    }
}
