package dev.ds4j.chat;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Feeds a completion in random chunks and checks the deltas add up to the parsed message. */
final class StreamingEquivalence {
    private StreamingEquivalence() {}

    static ParsedCompletion feedInChunks(String text, RenderOptions.ThinkingMode mode, long seed) {
        Random rnd = new Random(seed);
        CompletionParser p = new CompletionParser(mode);
        StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        java.util.List<StringBuilder> args = new java.util.ArrayList<>();
        java.util.List<String> names = new java.util.ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            int n = seed == 0 ? 1 : 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 40);
            int end = Math.min(text.length(), i + n);
            if (end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) end++;
            for (CompletionParser.Delta d : p.feed(text.substring(i, end))) {
                switch (d) {
                    case CompletionParser.ReasoningDelta r -> reasoning.append(r.text());
                    case CompletionParser.ContentDelta c -> content.append(c.text());
                    case CompletionParser.ToolCallStart s -> {
                        assertThat(s.index()).isEqualTo(names.size());
                        names.add(s.name());
                        args.add(new StringBuilder());
                    }
                    case CompletionParser.ToolCallArguments a -> args.get(a.index()).append(a.fragment());
                }
            }
            i = end;
        }
        ParsedCompletion done = p.finish();
        assertThat(reasoning.toString()).isEqualTo(done.reasoningContent());
        assertThat(content.toString()).isEqualTo(done.content());
        assertThat(names).hasSize(done.toolCalls().size());
        for (int k = 0; k < names.size(); k++) {
            assertThat(names.get(k)).isEqualTo(done.toolCalls().get(k).name());
            assertThat(args.get(k).toString()).isEqualTo(done.toolCalls().get(k).arguments());
        }
        return done;
    }
}
