package dev.ds4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.TestData;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.Prompt;
import dev.ds4j.chat.PromptRenderer;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.ds4j.chat.RenderOptions.ThinkingMode.CHAT;
import static dev.ds4j.chat.RenderOptions.ThinkingMode.THINKING;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code ds4j chat} driven through piped stdin over the {@code init --preset tiny} model (random weights,
 * the real tokenizer and protocol). Replies are noise; what is checked is the REPL around them: the
 * transcript, the prompt each turn sends (against PromptRenderer on the conversation built here), KV reuse,
 * commands and bad input, and colours.
 */
class ChatCommandTest {
    @TempDir
    static Path dir;
    static Path model;
    static Tokenizer tokenizer;

    @BeforeAll
    static void tinyModel() throws Exception {
        model = dir.resolve("tiny");
        InitCommand.writeTiny(model, 1, TestData.shared().resolve("data/deepseek-v4"));
        tokenizer = Tokenizer.load(model.resolve("tokenizer.json"));
    }

    static CliRunner.Result chat(String stdin, String... options) {
        List<String> args = new ArrayList<>(List.of("chat", "--model", model.toString()));
        args.addAll(List.of(options));
        CliRunner.Result r = CliRunner.runWithInput(stdin, args.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isZero();
        return r;
    }

    /** A turn's summary line on stderr. */
    record Stat(int turn, int promptTokens, int reused, String finish) {}

    static final Pattern STAT = Pattern.compile(
            "^\\[turn (\\d+): \\d+ tokens in [\\d.]+ s, [\\d.]+ tok/s, ([^;]+); prompt (\\d+) tokens: (\\d+) reused from the cache, (\\d+) prefilled in [\\d.]+ s]$",
            Pattern.MULTILINE);

    static List<Stat> stats(String err) {
        List<Stat> out = new ArrayList<>();
        Matcher m = STAT.matcher(err);
        while (m.find()) {
            int prompt = Integer.parseInt(m.group(3)), reused = Integer.parseInt(m.group(4));
            assertThat(Integer.parseInt(m.group(5))).as("prefilled = prompt - reused").isEqualTo(prompt - reused);
            out.add(new Stat(Integer.parseInt(m.group(1)), prompt, reused, m.group(2)));
        }
        return out;
    }

    static JsonNode json(String line) {
        try {
            return PyJson.loads(line);
        } catch (Exception e) {
            throw new AssertionError("not a JSON line: " + line, e);
        }
    }

    static int[] ids(List<Message> messages, RenderOptions opts) {
        return PromptRenderer.render(messages, opts).tokenIds(tokenizer);
    }

    static boolean startsWith(int[] a, int[] prefix) {
        return prefix.length <= a.length && Arrays.equals(a, 0, prefix.length, prefix, 0, prefix.length);
    }

    @Test
    void pipedTranscriptWithTwoTurnsAModeSwitchResetAndBadInput() {
        String[] lines = {"Hello there", "What next?", "/think", "Why?", "/bogus", "", "/reset", "Again"};
        CliRunner.Result r = chat(String.join("\n", lines) + "\n", "--max-tokens", "6", "--seed", "11");

        // Not a terminal: no colour, anywhere.
        assertThat(r.out()).doesNotContain("\033");
        assertThat(r.err()).doesNotContain("\033");

        // Each line read is echoed after the prompt, in order: the transcript's turn markers.
        List<String> echoed = r.out().lines().filter(l -> l.startsWith(ChatInput.PROMPT)).toList();
        assertThat(echoed).containsExactly(Arrays.stream(lines).map(l -> ChatInput.PROMPT + l).toArray(String[]::new));

        // Replies follow the messages; commands and bad input get none. Thinking turns open with [thinking].
        String[] blocks = r.out().split("(?m)^>>> ", -1);
        assertThat(blocks[0]).isEmpty();
        assertThat(blocks).hasSize(lines.length + 1);
        for (int i = 0; i < lines.length; i++) {
            String reply = blocks[i + 1].substring(lines[i].length() + 1); // after the echoed line
            boolean message = !lines[i].isEmpty() && !lines[i].startsWith("/");
            if (!message) {
                assertThat(reply).as("no reply to '%s'", lines[i]).isEmpty();
            } else {
                assertThat(reply).as("reply to '%s'", lines[i]).isNotBlank().endsWith("\n");
                boolean thinking = i > 2; // after /think (and /reset keeps the mode)
                assertThat(reply.startsWith(ChatReply.THINKING_OPEN + "\n")).as("thinking reply to '%s'", lines[i]).isEqualTo(thinking);
                if (thinking) assertThat(reply).contains("\n" + ChatReply.THINKING_CLOSE + "\n");
            }
        }

        // One clear line for each piece of bad input, and the REPL went on.
        assertThat(r.err().lines().filter(l -> l.startsWith("unknown command '/bogus'"))).hasSize(1);
        assertThat(r.err().lines().filter(l -> l.startsWith("empty message"))).hasSize(1);
        assertThat(r.err()).contains("thinking mode, effort high").contains("conversation forgotten");

        // One summary per reply; the cache is reused within a conversation and not after /reset.
        List<Stat> s = stats(r.err());
        assertThat(s).extracting(Stat::turn).containsExactly(1, 2, 3, 4);
        RenderOptions chat = RenderOptions.chat(), think = RenderOptions.thinking("high");
        int[] first = ids(List.of(Message.user("Hello there")), chat);
        assertThat(s.get(0).promptTokens()).isEqualTo(first.length);
        assertThat(s.get(0).reused()).isZero();
        for (int t = 1; t <= 2; t++) {
            // Each prompt extends the previous one, so at least all of it but its last token is reused.
            assertThat(s.get(t).reused()).as("turn %d", t + 1).isGreaterThanOrEqualTo(s.get(t - 1).promptTokens() - 1)
                    .isLessThan(s.get(t).promptTokens());
        }
        assertThat(s.get(3).reused()).as("after /reset").isZero();
        assertThat(s.get(3).promptTokens()).isEqualTo(ids(List.of(Message.user("Again")), think).length);
        assertThat(s).extracting(Stat::finish).containsOnly("hit --max-tokens");
    }

    /**
     * With --json each turn reports the prompt it sent. It must be exactly PromptRenderer's rendering of the
     * whole conversation so far (built here from the messages typed and the replies reported), in the mode
     * of that turn: earlier reasoning dropped, the effort prefix where /max asked for it.
     */
    @Test
    void eachTurnSendsTheRenderingOfTheWholeConversation() throws Exception {
        String system = "You are terse.";
        String script = "First question\nSecond question\n/nothink\nThird\n/max\nFourth\n";
        String[] users = {"First question", "Second question", "Third", "Fourth"};
        RenderOptions[] modes = {RenderOptions.thinking("high"), RenderOptions.thinking("high"), RenderOptions.chat(), RenderOptions.thinking("max")};
        CliRunner.Result r = chat(script, "--json", "--system", system, "--think", "--max-tokens", "5", "--seed", "5");
        List<JsonNode> turns = r.out().lines().map(ChatCommandTest::json).toList();
        assertThat(turns).hasSize(4);

        List<Message> conversation = new ArrayList<>(List.of(Message.system(system)));
        int[] previous = null;
        for (int k = 0; k < turns.size(); k++) {
            JsonNode t = turns.get(k);
            conversation.add(Message.user(users[k]));
            Prompt expected = PromptRenderer.render(conversation, modes[k]);
            int[] expectedIds = expected.tokenIds(tokenizer);
            assertThat(t.get("turn").asInt()).isEqualTo(k + 1);
            assertThat(t.get("prompt").textValue()).as("turn %d prompt", k + 1).isEqualTo(expected.text());
            assertThat(t.get("prompt_tokens").asInt()).isEqualTo(expectedIds.length);
            assertThat(t.get("thinking_mode").asText()).isEqualTo(modes[k].thinkingMode() == THINKING ? "thinking" : "chat");

            // Reuse: the cached state of the previous turn (at least its prompt but the last token) is reusable
            // exactly when this prompt starts with it.
            int reused = t.get("reused_tokens").asInt();
            if (previous == null) {
                assertThat(reused).isZero();
            } else if (startsWith(expectedIds, Arrays.copyOf(previous, previous.length - 1))) {
                assertThat(reused).as("turn %d", k + 1).isGreaterThanOrEqualTo(previous.length - 1).isLessThan(expectedIds.length);
            } else {
                assertThat(reused).as("turn %d: the prompt changed at its start", k + 1).isZero();
            }
            previous = expectedIds;

            // The reply splits into reasoning and content as the protocol says; it joins the conversation.
            String text = t.get("text").textValue(), content = t.get("content").textValue();
            assertThat(t.has("format_error")).as(t.toString()).isFalse();
            if (modes[k].thinkingMode() == CHAT) {
                assertThat(t.get("reasoning_content").isNull()).isTrue();
                assertThat(content).isEqualTo(text);
            } else {
                String reasoning = t.get("reasoning_content").textValue();
                int end = text.indexOf("</think>");
                assertThat(reasoning).isEqualTo(end < 0 ? text : text.substring(0, end));
                assertThat(content).isEqualTo(end < 0 ? "" : text.substring(end + "</think>".length()));
            }
            assertThat(t.get("finish_reason").asText()).isEqualTo("length");
            assertThat(t.get("completion_tokens").asInt()).isEqualTo(5);
            conversation.add(Message.assistant(t.get("reasoning_content").textValue(), content, null));
        }
        assertThat(turns.get(3).get("reused_tokens").asInt()).as("/max adds the effort text after BOS").isZero();
        assertThat(turns.get(1).get("reused_tokens").asInt()).isPositive();
        assertThat(turns.get(2).get("reused_tokens").asInt()).isPositive();
    }

    /** Reusing the cache must not change a single token: the same seeded chat, once prefilling every turn from scratch. */
    @Test
    void reusingTheCacheGivesTheSameRepliesAsPrefillingEverything() {
        String script = "one\ntwo\n/think\nthree\nfour\n";
        CliRunner.Result reusing = chat(script, "--json", "--max-tokens", "6", "--seed", "9");
        CliRunner.Result fresh = chat(script, "--json", "--max-tokens", "6", "--seed", "9", "--no-reuse");
        List<JsonNode> a = reusing.out().lines().map(ChatCommandTest::json).toList(), b = fresh.out().lines().map(ChatCommandTest::json).toList();
        assertThat(a).hasSize(4);
        assertThat(b).hasSize(4);
        boolean live = false, checkpoint = false;
        for (int k = 0; k < 4; k++) {
            assertThat(a.get(k).get("prompt")).isEqualTo(b.get(k).get("prompt"));
            assertThat(a.get(k).get("text")).as("turn %d", k + 1).isEqualTo(b.get(k).get("text"));
            assertThat(b.get(k).get("reused_tokens").asInt()).isZero();
            if (k > 0) {
                int reused = a.get(k).get("reused_tokens").asInt(), before = a.get(k - 1).get("prompt_tokens").asInt();
                live |= reused > before - 1;      // continued after the previous reply
                checkpoint |= reused == before - 1; // went back to before the previous reply
            }
        }
        assertThat(live).as("some turn continued from the live session").isTrue();
        assertThat(checkpoint).as("some turn continued from the checkpoint (the thinking turns)").isTrue();
    }

    @Test
    void coloursOnlyWhenAllowedAndReasoningIsFaint() {
        assertThat(Ansi.enabled("auto", null, true)).isTrue();
        assertThat(Ansi.enabled("auto", "", true)).as("NO_COLOR set but empty does not count").isTrue();
        assertThat(Ansi.enabled("auto", "1", true)).isFalse();
        assertThat(Ansi.enabled("auto", null, false)).isFalse();
        assertThat(Ansi.enabled("always", "1", false)).isTrue();
        assertThat(Ansi.enabled("never", null, true)).isFalse();

        CliRunner.Result c = chat("Hi\n", "--think", "--max-tokens", "3", "--color", "always");
        assertThat(c.out()).contains(Ansi.FAINT + ChatReply.THINKING_OPEN + "\n" + Ansi.RESET);
        String reasoning = c.out().substring(c.out().indexOf(Ansi.FAINT + ChatReply.THINKING_OPEN));
        // every piece of reasoning is wrapped: no text sits outside a faint…reset pair before [/thinking]
        String outside = reasoning.substring(0, reasoning.indexOf(ChatReply.THINKING_CLOSE)).replaceAll("\033\\[2m[^\033]*\033\\[0m", "");
        assertThat(outside).matches("(\033\\[2m\\s*)?");
        assertThat(c.err()).contains(Ansi.FAINT + "[turn 1:");

        CliRunner.Result plain = chat("Hi\n", "--think", "--max-tokens", "3", "--color", "always", "--no-color");
        assertThat(plain.out() + plain.err()).doesNotContain("\033");
    }

    @Test
    void tripleQuotedBlocksAndCommandArgumentsAndBadOptions() throws Exception {
        CliRunner.Result r = chat("\"\"\"/not a command\nsecond line\n\"\"\"\n\"\"\"inline\"\"\"\n/think please\n/exit\nnever read\n",
                "--json", "--max-tokens", "2");
        List<JsonNode> turns = r.out().lines().filter(l -> l.startsWith("{")).map(ChatCommandTest::json).toList();
        assertThat(turns).hasSize(2);
        List<Message> first = List.of(Message.user("/not a command\nsecond line"));
        assertThat(turns.get(0).get("prompt").textValue()).isEqualTo(PromptRenderer.render(first, RenderOptions.chat()).text());
        assertThat(turns.get(1).get("prompt").textValue()).endsWith("<｜User｜>inline<｜Assistant｜></think>");
        assertThat(r.err()).contains("/think takes no arguments").doesNotContain("thinking mode, effort high");
        assertThat(r.out()).doesNotContain("never read");

        CliRunner.Result unclosed = chat("\"\"\"open\nand never closed\n");
        assertThat(unclosed.err()).contains("end of input inside a \"\"\" block");
        assertThat(stats(unclosed.err())).isEmpty();

        CliRunner.Result bad = CliRunner.runWithInput("", "chat", "--model", model.toString(), "--effort", "low");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err().strip()).isEqualTo("ds4j: error: --effort: must be high or max, got low");
    }

    /**
     * Ctrl-C during a reply stops that reply, not the program. This needs a real SIGINT, so the chat runs in
     * a child JVM (the test JVM must not receive one); skipped where there is no {@code kill} to send it.
     */
    @Test
    void ctrlCStopsTheReplyAndTheChatGoesOn() throws Exception {
        Path kill = Path.of("/bin/kill");
        assumeTrue(java.nio.file.Files.isExecutable(kill), "needs /bin/kill to send SIGINT");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "chat", "--model", model.toString(), "--max-tokens", "100000", "--seed", "1").start();
        StringBuffer out = new StringBuffer(), err = new StringBuffer();
        Thread o = drain(p.getInputStream(), out), e = drain(p.getErrorStream(), err);
        try (var stdin = new java.io.OutputStreamWriter(p.getOutputStream(), java.nio.charset.StandardCharsets.UTF_8)) {
            stdin.write("hello\n");
            stdin.flush();
            String echo = ChatInput.PROMPT + "hello\n";
            await(p, () -> out.indexOf(echo) >= 0 && out.length() > out.indexOf(echo) + echo.length() + 20, "the reply to start", out, err);
            assertThat(new ProcessBuilder(kill.toString(), "-INT", Long.toString(p.pid())).start().waitFor()).isZero();
            await(p, () -> err.indexOf("[turn 1:") >= 0, "the reply to stop", out, err);
            stdin.write("/nothink\n/exit\n");
        }
        assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as("exits").isTrue();
        o.join();
        e.join();
        assertThat(p.exitValue()).as(err.toString()).isZero();
        assertThat(err.toString()).contains("stopped (Ctrl-C)").contains("chat mode");
        assertThat(out.toString()).contains(ChatInput.PROMPT + "/exit\n");
    }

    static Thread drain(java.io.InputStream in, StringBuffer into) {
        Thread t = new Thread(() -> {
            try (var r = new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.UTF_8)) {
                char[] buf = new char[4096];
                for (int n; (n = r.read(buf)) > 0; ) into.append(buf, 0, n);
            } catch (java.io.IOException ignored) {
                // the child is gone
            }
        });
        t.start();
        return t;
    }

    static void await(Process p, java.util.function.BooleanSupplier condition, String what, StringBuffer out, StringBuffer err) throws InterruptedException {
        long end = System.nanoTime() + 90_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (!p.isAlive()) {
                Thread.sleep(200); // let the drains finish
                throw new AssertionError("the chat exited (" + p.exitValue() + ") while waiting for " + what + "\nstdout: " + out + "\nstderr: " + err);
            }
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting for " + what + "\nstdout: " + out + "\nstderr: " + err);
            Thread.sleep(50);
        }
    }

    @Test
    void longPromptsShowPrefillProgressAndShortOnesDoNot() {
        String longPrompt = "word ".repeat(Progress.PREFILL_BAR_MIN_TOKENS + 50);
        CliRunner.Result r = CliRunner.run("generate", "--model", model.toString(), "--prompt", longPrompt, "--max-tokens", "1");
        assertThat(r.exit()).as(r.err()).isZero();
        // Not a terminal here, so plain lines: at least the final one, at 100%.
        assertThat(r.err()).containsPattern("prefill: [\\d.]+ / [\\d.]+ k tokens \\(100%\\)");
        CliRunner.Result shortOne = CliRunner.run("generate", "--model", model.toString(), "--prompt", "hi", "--max-tokens", "1");
        assertThat(shortOne.err()).doesNotContain("prefill:");
    }
}
