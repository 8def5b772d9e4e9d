package dev.ds4j.generate;

import java.util.List;
import java.util.Map;

/**
 * How to pick the next token. Defaults are DeepSeek's recommendation (temperature 1.0, top_p 1.0).
 * temperature 0 means greedy. Penalties follow their usual definitions: repetition (CTRL / Hugging
 * Face, over prompt and output) divides positive logits and multiplies negative ones; presence and
 * frequency (OpenAI) subtract from tokens already generated.
 */
public record SamplingParams(double temperature, double topP, int topK, double minP, Long seed,
                             double repetitionPenalty, double presencePenalty, double frequencyPenalty,
                             int maxTokens, List<String> stop, Map<Integer, Float> logitBias) {

    public static final SamplingParams DEFAULTS = new SamplingParams(1.0, 1.0, 0, 0.0, null, 1.0, 0.0, 0.0, 256, List.of(), Map.of());

    public SamplingParams {
        check(temperature >= 0 && temperature <= 100 && !Double.isNaN(temperature), "temperature", temperature, "between 0 and 100");
        check(topP > 0 && topP <= 1, "top_p", topP, "in (0, 1]");
        check(topK >= 0, "top_k", topK, "0 (off) or positive");
        check(minP >= 0 && minP <= 1, "min_p", minP, "in [0, 1]");
        check(repetitionPenalty > 0 && repetitionPenalty <= 100, "repetition_penalty", repetitionPenalty, "in (0, 100]");
        check(presencePenalty >= -2 && presencePenalty <= 2, "presence_penalty", presencePenalty, "in [-2, 2]");
        check(frequencyPenalty >= -2 && frequencyPenalty <= 2, "frequency_penalty", frequencyPenalty, "in [-2, 2]");
        check(maxTokens >= 1, "max_tokens", maxTokens, "at least 1");
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) if (s.isEmpty()) throw new IllegalArgumentException("stop: empty stop strings are not allowed");
        if (stop.size() > 16) throw new IllegalArgumentException("stop: at most 16 stop strings, got " + stop.size());
        logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
        for (var e : logitBias.entrySet())
            check(e.getValue() >= -100 && e.getValue() <= 100, "logit_bias[" + e.getKey() + "]", e.getValue(), "in [-100, 100]");
    }

    private static void check(boolean ok, String name, Object value, String range) {
        if (!ok) throw new IllegalArgumentException(name + ": must be " + range + ", got " + value);
    }

    public SamplingParams withTemperature(double t) { return new SamplingParams(t, topP, topK, minP, seed, repetitionPenalty, presencePenalty, frequencyPenalty, maxTokens, stop, logitBias); }
    public SamplingParams withTopP(double p) { return new SamplingParams(temperature, p, topK, minP, seed, repetitionPenalty, presencePenalty, frequencyPenalty, maxTokens, stop, logitBias); }
    public SamplingParams withTopK(int k) { return new SamplingParams(temperature, topP, k, minP, seed, repetitionPenalty, presencePenalty, frequencyPenalty, maxTokens, stop, logitBias); }
    public SamplingParams withMinP(double m) { return new SamplingParams(temperature, topP, topK, m, seed, repetitionPenalty, presencePenalty, frequencyPenalty, maxTokens, stop, logitBias); }
    public SamplingParams withSeed(Long s) { return new SamplingParams(temperature, topP, topK, minP, s, repetitionPenalty, presencePenalty, frequencyPenalty, maxTokens, stop, logitBias); }
    public SamplingParams withPenalties(double rep, double presence, double frequency) { return new SamplingParams(temperature, topP, topK, minP, seed, rep, presence, frequency, maxTokens, stop, logitBias); }
    public SamplingParams withMaxTokens(int n) { return new SamplingParams(temperature, topP, topK, minP, seed, repetitionPenalty, presencePenalty, frequencyPenalty, n, stop, logitBias); }
    public SamplingParams withStop(List<String> s) { return new SamplingParams(temperature, topP, topK, minP, seed, repetitionPenalty, presencePenalty, frequencyPenalty, maxTokens, s, logitBias); }
    public SamplingParams withLogitBias(Map<Integer, Float> b) { return new SamplingParams(temperature, topP, topK, minP, seed, repetitionPenalty, presencePenalty, frequencyPenalty, maxTokens, stop, b); }
}
