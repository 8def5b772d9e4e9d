package dev.ds4j.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.util.*;
import org.junit.jupiter.api.Test;

class ProbeUnicode2 {
    @Test
    void probe() throws Exception {
        Tokenizer tok = TokenizerFixture.tokenizer();
        try (var hf = HuggingFaceTokenizer.newInstance(TokenizerFixture.tokenizerJson(), Map.of("addSpecialTokens", "false", "truncation", "false"))) {
            int bad = 0, chunks = 0;
            StringBuilder ex = new StringBuilder();
            for (String[] ctx : new String[][] {{" ", "\n"}, {"a", "a\n"}, {"", "\u0300\n"}, {"\u00a0", " !\n"}, {"", "1\n"}}) {
                for (int base = 0; base < 0x110000; base += 256) {
                    StringBuilder sb = new StringBuilder();
                    for (int c = base; c < base + 256; c++) {
                        if (c >= 0xD800 && c <= 0xDFFF) continue;
                        sb.append(ctx[0]).appendCodePoint(c).appendCodePoint(c).append(ctx[1]);
                    }
                    String s = sb.toString();
                    chunks++;
                    long[] h = hf.encode(s, false, false).getIds();
                    if (!Arrays.equals(Arrays.stream(h).mapToInt(v -> (int) v).toArray(), tok.encodeText(s))) {
                        for (int c = base; c < base + 256; c++) {
                            if (c >= 0xD800 && c <= 0xDFFF) continue;
                            String t = ctx[0] + new String(Character.toChars(c)).repeat(2) + ctx[1];
                            long[] h1 = hf.encode(t, false, false).getIds();
                            if (!Arrays.equals(Arrays.stream(h1).mapToInt(v -> (int) v).toArray(), tok.encodeText(t))) {
                                bad++;
                                if (ex.length() < 3000) ex.append(String.format("U+%04X type %d ctx %s; ", c, Character.getType(c), TokenizerFixture.escape(ctx[0] + "|" + ctx[1])));
                            }
                        }
                    }
                }
            }
            System.out.println("chunks " + chunks + " bad code points " + bad + "\n" + ex);
        }
    }
}
