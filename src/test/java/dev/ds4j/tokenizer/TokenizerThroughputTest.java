package dev.ds4j.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Throughput figures, not a check: run with
 * {@code ./mvnw -B -q test -Dtest=TokenizerThroughputTest -Dds4j.bench=true}. Skipped otherwise.
 */
@EnabledIfSystemProperty(named = "ds4j.bench", matches = "true")
class TokenizerThroughputTest {
    static final int MB = 1 << 20;

    /** About 1 MB of UTF-8: English prose, code, Chinese and Japanese, emoji, numbers, whitespace runs. */
    static String mixedText(long seed) {
        Random r = new Random(seed);
        String[] words = ("the of and to in is was for on that with as by at from his her an be this which or "
                + "have are not had it were but they their one all been has more when who will would there what "
                + "about model tokenizer inference engine attention cache memory throughput latency").split(" ");
        String[] code = {"for (int i = 0; i < n; i++) {\n", "    sum += a[i] * b[i];\n", "}\n",
                "def forward(self, x):\n        return self.proj(x) + x\n", "if (x != null && x.size() > 0) return;\n",
                "\t// TODO: handle the edge case\n", "const y = await fetch(`/api/v1/items?id=${id}`);\n"};
        String cjk = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跑";
        String jp = "これはテストですカタカナひらがなの文章を書きます";
        String[] emoji = {"😀", "👍🏽", "👨‍👩‍👧‍👦", "🇯🇵", "✨", "🤖"};
        StringBuilder sb = new StringBuilder();
        while (sb.toString().getBytes(StandardCharsets.UTF_8).length < MB) {
            StringBuilder block = new StringBuilder();
            for (int k = 0; k < 200; k++) {
                switch (r.nextInt(10)) {
                    case 0, 1, 2, 3 -> {
                        for (int w = 5 + r.nextInt(20); w > 0; w--) block.append(words[r.nextInt(words.length)]).append(' ');
                        block.append(r.nextBoolean() ? ". " : ", ");
                    }
                    case 4 -> block.append(code[r.nextInt(code.length)]);
                    case 5 -> {
                        for (int c = 10 + r.nextInt(40); c > 0; c--) block.append(cjk.charAt(r.nextInt(cjk.length())));
                        block.append(r.nextBoolean() ? "。" : "，");
                    }
                    case 6 -> block.append(jp, 0, 5 + r.nextInt(jp.length() - 5));
                    case 7 -> block.append(emoji[r.nextInt(emoji.length)]).append(' ');
                    case 8 -> block.append(r.nextInt(1_000_000)).append(r.nextBoolean() ? ".5 " : " ");
                    default -> block.append(" ".repeat(1 + r.nextInt(8))).append(r.nextBoolean() ? "\n" : "\t\n\n");
                }
            }
            sb.append(block);
        }
        return sb.toString();
    }

    static String report(String name, String text, Function<String, ?> encode) {
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        int tokens = 0;
        for (int i = 0; i < 5; i++) { // warm-up
            Object r = encode.apply(text);
            tokens = r instanceof int[] ids ? ids.length : ((java.util.List<?>) r).size();
        }
        double[] seconds = new double[7];
        for (int i = 0; i < seconds.length; i++) {
            long t0 = System.nanoTime();
            encode.apply(text);
            seconds[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(seconds);
        double median = seconds[seconds.length / 2];
        String line = String.format("%-44s %8.2f MB  %9d tokens/pieces  median %7.1f ms  %7.2f MB/s  %6.2f M tokens/s",
                name, bytes / 1e6, tokens, median * 1e3, bytes / 1e6 / median, tokens / 1e6 / median);
        System.out.println(line);
        return line;
    }

    @Test
    void throughput() throws Exception {
        long t0 = System.nanoTime();
        Tokenizer cold = Tokenizer.load(TokenizerFixture.tokenizerJson());
        System.out.printf("first load (cold JVM): %.0f ms%n", (System.nanoTime() - t0) / 1e6);
        for (int i = 0; i < 3; i++) Tokenizer.load(TokenizerFixture.tokenizerJson());
        t0 = System.nanoTime();
        Tokenizer tok = Tokenizer.load(TokenizerFixture.tokenizerJson());
        System.out.printf("load after warm-up: %.0f ms%n", (System.nanoTime() - t0) / 1e6);

        String mixed = mixedText(1);
        t0 = System.nanoTime();
        int n = cold.encodeText(mixed).length;
        System.out.printf("first encodeText of 1 MB mixed (cold JIT and cache): %.0f ms, %d tokens%n", (System.nanoTime() - t0) / 1e6, n);

        Random r = new Random(2);
        StringBuilder letters = new StringBuilder();
        for (int i = 0; i < MB; i++) letters.append((char) ('a' + r.nextInt(26)));
        StringBuilder han = new StringBuilder();
        for (int i = 0; i < MB / 3; i++) han.appendCodePoint(0x4E00 + r.nextInt(0x9FA5 - 0x4E00 + 1));
        StringBuilder digits = new StringBuilder();
        for (int i = 0; i < MB; i++) digits.append((char) ('0' + r.nextInt(10)));

        report("encodeText, mixed", mixed, tok::encodeText);
        report("encodeWithAddedTokens, mixed", mixed, tok::encodeWithAddedTokens);
        report("encodeText, random letters, one piece", letters.toString(), tok::encodeText);
        report("encodeText, random Han, one piece", han.toString(), tok::encodeText);
        report("encodeText, one repeated letter", "a".repeat(MB), tok::encodeText);
        report("encodeText, spaces", " ".repeat(MB) + "x", tok::encodeText);
        report("encodeText, digits", digits.toString(), tok::encodeText);

        // The pre-tokenizer alone: the hand-written scanner against the same regexes in java.util.regex.
        PreTokenizerTest.readRegexes();
        report("pre-tokenizer only, scanner, mixed", mixed, PreTokenizerTest::scannerSplit);
        report("pre-tokenizer only, java.util.regex, mixed", mixed, PreTokenizerTest::regexSplit);

        try (var hf = HuggingFaceTokenizer.newInstance(TokenizerFixture.tokenizerJson(),
                Map.of("addSpecialTokens", "false", "truncation", "false"))) {
            Function<String, int[]> oracle = s -> Arrays.stream(hf.encode(s, false, false).getIds()).mapToInt(v -> (int) v).toArray();
            report("HF tokenizers via DJL, mixed (reference)", mixed, oracle);
            report("HF tokenizers via DJL, random letters", letters.toString(), oracle);
        }
    }
}
