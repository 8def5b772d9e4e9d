package dev.ds4j.verify;

import dev.ds4j.model.Model;
import dev.ds4j.model.Numerics;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checkpoints unlike the goldens, with reference logits from transformers 5.17 in float64
 * (tools/reference/make_reference.py, run on the device machine):
 * pro-like-fp8 — HCA-first schedule [128,128,4,128,4], 3 hash layers, hidden 192 (partial FP8 scale blocks),
 * 2 shards, swiglu_limit 0.5; flash-like-bf16 — [0,0,4,128,4,128], 6 layers, 6 experts with 3 active.
 */
class ExtraReferenceTest {
    @ParameterizedTest
    @ValueSource(strings = {"pro-like-fp8", "flash-like-bf16"})
    void matchesTransformersAtEverySplit(String name) throws Exception {
        Path dir = Path.of(getClass().getResource("/reference/" + name + "/config.json").toURI()).getParent();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (Model m = Model.load(dir)) {
            Golden g = Golden.read(dir.resolve("expected.safetensors"));
            Verifier.Result r = new Verifier(m, g, Numerics.PLAIN, 1e-3, new PrintStream(buf, true, StandardCharsets.UTF_8)).run(true);
            String report = buf.toString(StandardCharsets.UTF_8);
            System.out.println("[" + name + "]\n" + report);
            assertThat(report).contains("split prefill P=256");
            assertThat(r.maxLogitDiff()).as(report).isLessThanOrEqualTo(1e-4);
            assertThat(r.passed()).as(report).isTrue();
        }
    }
}
