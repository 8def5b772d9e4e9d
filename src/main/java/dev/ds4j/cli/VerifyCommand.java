package dev.ds4j.cli;

import dev.ds4j.model.Model;
import dev.ds4j.model.Numerics;
import dev.ds4j.verify.Golden;
import dev.ds4j.verify.Verifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Checks the engine against reference logits: full pass, prefill/decode splits, chunked prefill, "
                + "indexer picks and causality with the configured top-k. Exits 0 when all pass, 1 when a check fails, 2 on bad input.")
final class VerifyCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "checkpoint directory (config.json + safetensors)")
    Path model;

    @Option(names = "--expected", description = "reference file (default: MODEL/expected.safetensors)")
    Path expected;

    @Option(names = "--numerics", defaultValue = "plain",
            description = "plain (exact math; what the golden references use) or official (DeepSeek's quantisation-aware numerics). Default: ${DEFAULT-VALUE}")
    String numerics;

    @Option(names = "--tolerance", defaultValue = "1e-3", description = "max |logit difference| allowed. Default: ${DEFAULT-VALUE}")
    double tolerance;

    @Option(names = "--quick", description = "fewer splits (1, 4, 128, 129, 300 and the last token)")
    boolean quick;

    @Override
    public Integer call() {
        Numerics num = Numerics.parse(numerics);
        if (!(tolerance > 0)) throw new IllegalArgumentException("--tolerance must be positive, got " + tolerance);
        Path exp = expected != null ? expected : model.resolve("expected.safetensors");
        long t0 = System.nanoTime();
        try (Model m = Model.load(model)) {
            System.out.printf("loaded %s in %.1f ms (%d layers, %s numerics)%n", model, (System.nanoTime() - t0) / 1e6, m.layers(), num.name().toLowerCase());
            Golden g = Golden.read(exp);
            Verifier.Result r = new Verifier(m, g, num, tolerance, System.out).run(!quick);
            return r.passed() ? 0 : 1;
        }
    }
}
