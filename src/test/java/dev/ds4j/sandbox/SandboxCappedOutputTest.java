package dev.ds4j.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The output cap keeps exactly the first ceil(cap/2) and the last floor(cap/2) bytes, however they arrive. */
class SandboxCappedOutputTest {

    @Test
    void keepsHeadAndTailForAnyChunking() {
        Random rnd = new Random(6);
        for (int trial = 0; trial < 2000; trial++) {
            int cap = 2 + rnd.nextInt(40);
            int total = rnd.nextInt(120);
            byte[] all = new byte[total];
            rnd.nextBytes(all);
            CappedOutput c = new CappedOutput(cap);
            ByteArrayOutputStream reference = new ByteArrayOutputStream();
            for (int off = 0; off < total; ) {
                int n = Math.min(total - off, rnd.nextInt(3) == 0 ? rnd.nextInt(60) : rnd.nextInt(4));
                c.write(all, off, n);
                reference.write(all, off, n);
                off += n;
            }
            byte[] expected = reference.toByteArray();
            if (total > cap) {
                int head = (cap + 1) / 2, tail = cap / 2;
                byte[] e = new byte[cap];
                System.arraycopy(expected, 0, e, 0, head);
                System.arraycopy(expected, total - tail, e, head, tail);
                expected = e;
            }
            assertThat(c.bytes()).as("cap %d total %d", cap, total).isEqualTo(expected);
            assertThat(c.truncated()).isEqualTo(total > cap);
            assertThat(c.total()).isEqualTo(total);
            assertThat(Arrays.equals(c.bytes(), all)).isEqualTo(total <= cap);
        }
    }
}
