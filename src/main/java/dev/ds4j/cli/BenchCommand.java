package dev.ds4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.bench.BandwidthProbe;
import dev.ds4j.bench.Bench;
import dev.ds4j.chat.PyJson;
import dev.ds4j.model.Model;
import dev.ds4j.model.Numerics;
import dev.ds4j.session.Session;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures prefill and decode speed and sets decode against the machine's read bandwidth, measured in the same run.",
                "ratio = decode tokens/s × weight bytes per token ÷ bandwidth (1.0 = the memory roofline)."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR") Path model;
    @Option(names = "--prompt", defaultValue = "4096", description = "prompt tokens to prefill (default: ${DEFAULT-VALUE})") int prompt;
    @Option(names = "--decode", defaultValue = "16", description = "tokens to decode after the prompt (default: ${DEFAULT-VALUE})") int decode;
    @Option(names = "--numerics", defaultValue = "official", paramLabel = "official|plain") String numerics;
    @Option(names = "--probe-mb", defaultValue = "2048", description = "buffer of the bandwidth probe (default: ${DEFAULT-VALUE} MB)") long probeMb;
    @Option(names = "--seed", defaultValue = "1") long seed;
    @Option(names = "--json", description = "print one JSON object") boolean json;
    @Option(names = "--context", split = ",", paramLabel = "L[,L…]",
            description = "instead of prefill/decode: decode cost at these context lengths, the cache filled with synthetic entries (e.g. 4096,65536,262144,1048576)")
    List<Long> contexts;

    @Override
    public Integer call() {
        if (prompt < 1) throw new IllegalArgumentException("--prompt: must be at least 1");
        if (decode < 1) throw new IllegalArgumentException("--decode: must be at least 1");
        if (probeMb < 64) throw new IllegalArgumentException("--probe-mb: must be at least 64 (larger than the caches)");
        Numerics num = switch (numerics) {
            case "official" -> Numerics.OFFICIAL;
            case "plain" -> Numerics.PLAIN;
            default -> throw new IllegalArgumentException("--numerics: must be official or plain, got " + numerics);
        };
        int threads = Runtime.getRuntime().availableProcessors();
        PrintStream out = Inputs.stdout();
        try (Model m = Model.load(model)) {
            long t0 = System.nanoTime();
            long touched = m.touchWeights();
            System.err.printf("weights: %.2f GB paged in (%.1f s)%n", touched / 1e9, (System.nanoTime() - t0) / 1e9);
            if (contexts != null) return contextSweep(m, num, out);
            double bw = BandwidthProbe.measure(probeMb << 20, threads, 5);
            System.err.printf("bandwidth probe: %.2f GB/s read (%d threads, %d MB buffer, best of 5)%n", bw / 1e9, threads, probeMb);
            Bench.Result r;
            try (Progress bar = Progress.tokens("prefill", prompt)) {
                r = Bench.run(m, Session.Options.defaults().withNumerics(num), prompt, decode, seed, bw, bar.cumulative());
            }
            if (json) {
                ObjectNode o = PyJson.MAPPER.createObjectNode();
                o.put("model", model.toString()).put("numerics", numerics).put("threads", threads).put("kernels", dev.ds4j.tensor.Matrix.kernels());
                o.put("prompt_tokens", r.promptTokens()).put("prefill_tokens_per_s", r.prefillTokensPerSecond());
                o.put("decode_tokens", r.decodeTokens()).put("decode_tokens_per_s", r.decodeTokensPerSecond());
                o.put("weight_bytes_per_token", r.bytesPerToken()).put("bandwidth_bytes_per_s", r.bandwidth());
                o.put("roofline_ratio", r.rooflineRatio()).put("prefill_over_decode", r.prefillOverDecode()).put("kv_bytes", r.kvBytes());
                out.println(o.toString());
            } else {
                out.printf("model            %s (%s numerics, %d threads, %s kernels)%n", model, numerics, threads, dev.ds4j.tensor.Matrix.kernels());
                out.printf("prefill          %d tokens in %.2f s = %.1f tok/s%n", r.promptTokens(), r.prefillSeconds(), r.prefillTokensPerSecond());
                out.printf("decode           %.3f s/token (median of %d) = %.2f tok/s%n", r.decodeSecondsPerToken(), r.decodeTokens(), r.decodeTokensPerSecond());
                out.printf("weights/token    %.1f MB%n", r.bytesPerToken() / 1e6);
                out.printf("bandwidth        %.2f GB/s (probe, this run)%n", r.bandwidth() / 1e9);
                out.printf("ratio            %.3f of the read roofline (decode %.2f GB/s)%n", r.rooflineRatio(), r.decodeTokensPerSecond() * r.bytesPerToken() / 1e9);
                out.printf("prefill/decode   %.1f×%n", r.prefillOverDecode());
                out.printf("kv bytes         %.2f MB at %d tokens%n", r.kvBytes() / 1e6, r.promptTokens() + r.decodeTokens());
            }
            return 0;
        }
    }

    /** Decode time per token and KV bytes at each context length, relative to the first. */
    private int contextSweep(Model m, Numerics num, PrintStream out) {
        for (long l : contexts)
            if (l < 1 || l > m.config().maxPositions())
                throw new IllegalArgumentException("--context: " + l + " is outside [1, " + m.config().maxPositions() + "]");
        var rows = PyJson.MAPPER.createArrayNode();
        Bench.ContextPoint first = null;
        if (!json) out.printf("%10s %12s %10s %14s %10s%n", "context", "s/token", "vs first", "KV bytes", "fill s");
        for (long l : contexts) {
            Bench.ContextPoint p = Bench.contextPoint(m, Session.Options.defaults().withNumerics(num), l, decode, seed);
            if (first == null) first = p;
            double rel = p.secondsPerToken() / first.secondsPerToken();
            if (json) rows.addObject().put("context", l).put("seconds_per_token", p.secondsPerToken()).put("relative", rel)
                    .put("kv_bytes", p.kvBytes()).put("fill_seconds", p.fillSeconds());
            else out.printf("%10d %12.4f %9.2fx %14d %10.1f%n", l, p.secondsPerToken(), rel, p.kvBytes(), p.fillSeconds());
            out.flush();
        }
        if (json) {
            ObjectNode o = PyJson.MAPPER.createObjectNode().put("model", model.toString()).put("numerics", numerics);
            o.set("contexts", rows);
            out.println(o.toString());
        }
        return 0;
    }
}
