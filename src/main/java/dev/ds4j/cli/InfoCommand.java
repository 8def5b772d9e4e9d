package dev.ds4j.cli;

import dev.ds4j.model.Model;
import dev.ds4j.model.ModelConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Loads a checkpoint and prints its shape, layer schedule and load time.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "checkpoint directory")
    Path model;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        try (Model m = Model.load(model)) {
            double ms = (System.nanoTime() - t0) / 1e6;
            ModelConfig c = m.config();
            System.out.printf("checkpoint     %s (%.2f GB mapped, loaded in %.1f ms)%n", model, m.checkpointBytes() / 1e9, ms);
            System.out.printf("dims           vocab %d, hidden %d, %d layers, %d heads × %d (rope %d)%n", c.vocabSize(), c.dim(), c.nLayers(), c.nHeads(), c.headDim(), c.ropeDim());
            System.out.printf("attention      window %d, compress_ratios %s, index top-k %d%n", c.window(), Arrays.toString(c.compressRatios()), c.indexTopk());
            System.out.printf("moe            %d routed (%d active) + %d shared, hash layers %d%n", c.nRoutedExperts(), c.nActivatedExperts(), c.nSharedExperts(), c.nHashLayers());
            long perToken = 0;
            for (int i = 0; i < m.layers(); i++) perToken += m.block(i).bytesPerToken();
            System.out.printf("weights/token  %.1f MB read per decoded token (layers only)%n", perToken / 1e6);
            System.out.printf("mtp            %s%n", m.hasMtp() ? "present" : "not in checkpoint (unavailable)");
            return 0;
        }
    }
}
