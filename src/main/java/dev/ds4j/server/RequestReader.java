package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.SamplingParams;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** OpenAI request fields → sampling parameters and reasoning mode, with 400s that name the field. */
final class RequestReader {
    private RequestReader() {}

    static final int DEFAULT_MAX_TOKENS = 4096;

    static SamplingParams sampling(JsonNode r) {
        try {
            double temperature = num(r, "temperature", 1.0);
            double topP = num(r, "top_p", 1.0);
            int topK = (int) num(r, "top_k", 0);
            if (topK < 0) topK = 0; // vLLM's -1 means off
            double minP = num(r, "min_p", 0.0);
            Long seed = r.hasNonNull("seed") ? (long) num(r, "seed", 0) : null;
            double rep = num(r, "repetition_penalty", 1.0);
            double pres = num(r, "presence_penalty", 0.0), freq = num(r, "frequency_penalty", 0.0);
            int maxTokens = (int) (r.hasNonNull("max_completion_tokens") ? num(r, "max_completion_tokens", 0) : num(r, "max_tokens", DEFAULT_MAX_TOKENS));
            List<String> stop = new ArrayList<>();
            JsonNode s = r.get("stop");
            if (s != null && !s.isNull()) {
                if (s.isTextual()) stop.add(s.textValue());
                else if (s.isArray()) for (JsonNode x : s) {
                    if (!x.isTextual()) throw ApiException.badRequest("stop", "stop: must be a string or an array of strings");
                    stop.add(x.textValue());
                }
                else throw ApiException.badRequest("stop", "stop: must be a string or an array of strings");
            }
            Map<Integer, Float> bias = new HashMap<>();
            JsonNode lb = r.get("logit_bias");
            if (lb != null && !lb.isNull()) {
                if (!lb.isObject()) throw ApiException.badRequest("logit_bias", "logit_bias: must be an object of token id → bias");
                var it = lb.fields();
                while (it.hasNext()) {
                    var e = it.next();
                    try {
                        if (!e.getValue().isNumber()) throw new NumberFormatException();
                        bias.put(Integer.parseInt(e.getKey()), e.getValue().floatValue());
                    } catch (NumberFormatException ex) {
                        throw ApiException.badRequest("logit_bias", "logit_bias: keys must be token ids and values numbers, got " + e.getKey() + ": " + e.getValue());
                    }
                }
            }
            JsonNode n = r.get("n");
            if (n != null && !n.isNull() && (!n.isIntegralNumber() || n.intValue() != 1))
                throw ApiException.badRequest("n", "n: only 1 choice per request is supported");
            return new SamplingParams(temperature, topP, topK, minP, seed, rep, pres, freq, maxTokens, stop, bias);
        } catch (IllegalArgumentException e) {
            if (e instanceof ChatFormatException) throw e;
            String msg = e.getMessage();
            throw ApiException.badRequest(msg.contains(":") ? msg.substring(0, msg.indexOf(':')) : null, msg);
        }
    }

    private static double num(JsonNode r, String field, double dflt) {
        JsonNode v = r.get(field);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) throw ApiException.badRequest(field, field + ": must be a number, got " + v.getNodeType().toString().toLowerCase());
        return v.doubleValue();
    }

    /**
     * Thinking on or off and the effort, from the DeepSeek API's {@code thinking: {type}}, vLLM/SGLang's
     * {@code chat_template_kwargs.thinking} / {@code enable_thinking}, and {@code reasoning_effort}
     * ("none" turns thinking off; low/minimal/medium/high mean high; max means max). Default: thinking
     * on with high effort, as the DeepSeek API does.
     */
    static RenderOptions mode(JsonNode r) {
        Boolean thinking = null;
        JsonNode t = r.get("thinking");
        if (t != null && !t.isNull()) {
            String type = t.isObject() ? t.path("type").asText("") : t.isBoolean() ? (t.booleanValue() ? "enabled" : "disabled") : "";
            if (!type.equals("enabled") && !type.equals("disabled"))
                throw ApiException.badRequest("thinking", "thinking: expected {\"type\": \"enabled\"} or {\"type\": \"disabled\"}");
            thinking = type.equals("enabled");
        }
        JsonNode kw = r.path("chat_template_kwargs");
        for (String k : new String[]{"thinking", "enable_thinking"})
            if (kw.has(k) && kw.get(k).isBoolean()) thinking = kw.get(k).booleanValue();
        String effort = null;
        JsonNode e = r.get("reasoning_effort");
        if (e != null && !e.isNull()) {
            if (!e.isTextual()) throw ApiException.badRequest("reasoning_effort", "reasoning_effort: must be a string");
            switch (e.textValue()) {
                case "none" -> thinking = false;
                case "minimal", "low", "medium", "high" -> effort = "high";
                case "max", "xhigh" -> effort = "max";
                default -> throw ApiException.badRequest("reasoning_effort",
                        "reasoning_effort: must be none, minimal, low, medium, high or max, got \"" + e.textValue() + "\"");
            }
        }
        boolean on = thinking == null || thinking;
        return new RenderOptions(on ? RenderOptions.ThinkingMode.THINKING : RenderOptions.ThinkingMode.CHAT, on ? effort : null, true,
                RenderOptions.Revision.ORIGINAL);
    }
}
