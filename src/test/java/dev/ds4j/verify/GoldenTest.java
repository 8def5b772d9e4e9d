package dev.ds4j.verify;

import dev.ds4j.TestData;
import dev.ds4j.model.Model;
import dev.ds4j.model.Numerics;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every golden checkpoint through the same path as {@code ds4j verify}: full pass, all splits, chunked
 * prefill, indexer picks, configured-top-k causality — against references from transformers in float64.
 */
class GoldenTest {
    @ParameterizedTest
    @ValueSource(strings = {"tiny-a", "tiny-a-bf16", "tiny-b-fp8"})
    void matchesReferenceLogitsAtEverySplit(String name) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        try (Model m = Model.load(TestData.golden(name))) {
            Golden g = Golden.read(TestData.golden(name).resolve("expected.safetensors"));
            Verifier.Result r = new Verifier(m, g, Numerics.PLAIN, 1e-3, out).run(true);
            String report = buf.toString(StandardCharsets.UTF_8);
            System.out.println("[" + name + "]\n" + report);
            assertThat(report).contains("split prefill P=399").contains("chunked prefill chunk=7");
            assertThat(r.maxLogitDiff()).as(report).isLessThanOrEqualTo(1e-3);
            assertThat(r.picksMismatched()).as(report).isZero();
            assertThat(r.selfConsistency()).as(report).isLessThanOrEqualTo(1e-5);
            assertThat(r.passed()).as(report).isTrue();
            assertThat(report).doesNotContain("hidden_states.1 max_abs_diff=NaN").contains("hidden_states.3");
        }
    }
}
