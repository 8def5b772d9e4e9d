package dev.ds4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.checkpoint.CheckpointException;

/**
 * The hyper-parameters of a DeepSeek-V4 checkpoint, read from its Hugging Face {@code config.json}
 * (ARCHITECTURE §1, checked against §10). Immutable.
 */
public record ModelConfig(
        int vocabSize, int dim, int nLayers, int nMtpLayers, int nHeads, int headDim, int ropeDim,
        int qLoraRank, int oGroups, int oLoraRank, int window, int[] compressRatios,
        int indexHeads, int indexHeadDim, int indexTopk,
        int nRoutedExperts, int nActivatedExperts, int nSharedExperts, int moeInterDim, float routeScale,
        float swigluLimit, int nHashLayers, int hcMult, int hcSinkhornIters, float hcEps, float normEps,
        double ropeTheta, double compressRopeTheta, Yarn yarn, long maxPositions, int bosId, int eosId,
        String expertDtype, boolean fp8Weights) {

    /** YaRN frequency interpolation of the compressed layers' RoPE table (no magnitude scaling). */
    public record Yarn(double factor, double originalMaxPositions, double betaFast, double betaSlow) {}

    public int nopeDim() { return headDim - ropeDim; }
    public int compressRatio(int layer) { return compressRatios[layer]; }
    public boolean isHashLayer(int layer) { return layer < nHashLayers; }
    /** Width of the mHC projections: pre (hc) + post (hc) + comb (hc·hc). */
    public int hcMixDim() { return (2 + hcMult) * hcMult; }

    public static ModelConfig parse(JsonNode c) {
        Reader r = new Reader(c);
        int nLayers = r.integer("num_hidden_layers", 1, 1 << 12);
        int nMtp = r.integerOr("num_nextn_predict_layers", 0, 0, 16);
        JsonNode cr = c.get("compress_ratios");
        if (cr == null || !cr.isArray()) throw r.error("compress_ratios", "missing or not an array");
        if (cr.size() != nLayers + nMtp && cr.size() != nLayers)
            throw r.error("compress_ratios", "has " + cr.size() + " entries; expected num_hidden_layers + num_nextn_predict_layers = " + (nLayers + nMtp));
        int[] ratios = new int[nLayers + nMtp];
        for (int i = 0; i < ratios.length; i++) {
            JsonNode v = i < cr.size() ? cr.get(i) : null;
            int x = v == null ? 0 : v.asInt(-1);
            if (v != null && !v.isIntegralNumber()) x = -1;
            if (x != 0 && x != 4 && x != 128 && (x < 2 || x > 1 << 16))
                throw r.error("compress_ratios", "entry " + i + " is " + v + "; expected 0 (sliding), 4 (CSA) or 128 (HCA)");
            ratios[i] = x;
        }
        int headDim = r.integer("head_dim", 2, 1 << 14);
        int ropeDim = r.integer("qk_rope_head_dim", 2, headDim);
        if (ropeDim % 2 != 0 || ropeDim >= headDim) throw r.error("qk_rope_head_dim", "must be even and below head_dim " + headDim);
        int nHeads = r.integer("num_attention_heads", 1, 1 << 12);
        int oGroups = r.integer("o_groups", 1, nHeads);
        if (nHeads % oGroups != 0) throw r.error("o_groups", "must divide num_attention_heads " + nHeads);
        int kvHeads = r.integerOr("num_key_value_heads", 1, 1, 1);
        int indexHeadDim = r.integer("index_head_dim", 1, 1 << 14);
        boolean hasCsa = false;
        for (int x : ratios) hasCsa |= x == 4;
        if (hasCsa && (ropeDim >= indexHeadDim || Integer.bitCount(indexHeadDim) != 1))
            throw r.error("index_head_dim", "must be a power of two above qk_rope_head_dim " + ropeDim);
        int nExperts = r.integer("n_routed_experts", 1, 1 << 16);
        int nAct = r.integer("num_experts_per_tok", 1, nExperts);
        int nShared = r.integerOr("n_shared_experts", 1, 1, 1);
        String scoring = r.textOr("scoring_func", "sqrtsoftplus");
        if (!scoring.equals("sqrtsoftplus")) throw r.error("scoring_func", "'" + scoring + "' is not supported (DeepSeek-V4 uses sqrtsoftplus)");
        Yarn yarn = null;
        JsonNode rs = c.has("rope_scaling") ? c.get("rope_scaling") : c.get("rope_parameters");
        if (rs != null && !rs.isNull()) {
            String type = rs.has("type") ? rs.get("type").asText() : rs.path("rope_type").asText("");
            if (type.equals("yarn")) {
                yarn = new Yarn(num(rs, "factor", r), num(rs, "original_max_position_embeddings", r),
                        rs.has("beta_fast") ? rs.get("beta_fast").asDouble() : 32, rs.has("beta_slow") ? rs.get("beta_slow").asDouble() : 1);
                if (yarn.factor() < 1) throw r.error("rope_scaling.factor", "must be >= 1");
            } else if (!type.isEmpty() && !type.equals("default"))
                throw r.error("rope_scaling.type", "'" + type + "' is not supported (expected yarn)");
        }
        JsonNode q = c.get("quantization_config");
        boolean fp8 = q != null && q.isObject();
        if (fp8) {
            String fmt = q.path("fmt").asText("e4m3");
            if (!fmt.equals("e4m3")) throw r.error("quantization_config.fmt", "'" + fmt + "' is not supported (expected e4m3)");
            JsonNode bs = q.get("weight_block_size");
            if (bs != null && (!bs.isArray() || bs.size() != 2 || bs.get(0).asInt() != 128 || bs.get(1).asInt() != 128))
                throw r.error("quantization_config.weight_block_size", bs + " is not supported (expected [128, 128])");
        }
        return new ModelConfig(
                r.integer("vocab_size", 1, 1 << 24), r.integer("hidden_size", 1, 1 << 16), nLayers, nMtp, nHeads, headDim, ropeDim,
                r.integer("q_lora_rank", 1, 1 << 16), oGroups, r.integer("o_lora_rank", 1, 1 << 16),
                r.integer("sliding_window", 1, 1 << 20), ratios,
                hasCsa ? r.integer("index_n_heads", 1, 1 << 12) : r.integerOr("index_n_heads", 1, 1, 1 << 12),
                indexHeadDim, hasCsa ? r.integer("index_topk", 1, Integer.MAX_VALUE) : r.integerOr("index_topk", 1, 1, Integer.MAX_VALUE),
                nExperts, nAct, nShared, r.integer("moe_intermediate_size", 1, 1 << 20),
                (float) r.number("routed_scaling_factor"), (float) r.numberOr("swiglu_limit", 0),
                r.integerOr("num_hash_layers", 0, 0, nLayers), r.integer("hc_mult", 1, 64),
                r.integer("hc_sinkhorn_iters", 1, 1000), (float) r.numberOr("hc_eps", 1e-6), (float) r.numberOr("rms_norm_eps", 1e-6),
                r.numberOr("rope_theta", 10000), r.numberOr("compress_rope_theta", r.numberOr("rope_theta", 10000)), yarn,
                (long) r.numberOr("max_position_embeddings", 1 << 20), r.integerOr("bos_token_id", 0, 0, Integer.MAX_VALUE),
                r.integerOr("eos_token_id", 1, 0, Integer.MAX_VALUE), r.textOr("expert_dtype", fp8 ? "fp4" : "bf16"), fp8);
    }

    private static double num(JsonNode n, String key, Reader r) {
        JsonNode v = n.get(key);
        if (v == null || !v.isNumber()) throw r.error("rope_scaling." + key, "missing or not a number");
        return v.asDouble();
    }

    /** Reads keys with range checks; every failure names the key. */
    private record Reader(JsonNode c) {
        CheckpointException error(String key, String what) {
            return new CheckpointException("config.json: '" + key + "' " + what);
        }

        int integer(String key, int min, int max) {
            JsonNode v = c.get(key);
            if (v == null || v.isNull()) throw error(key, "is missing");
            if (!v.isIntegralNumber()) throw error(key, "must be an integer, got " + v);
            long x = v.asLong();
            if (x < min || x > max) throw error(key, "is " + x + ", outside [" + min + ", " + max + "]");
            return (int) x;
        }

        int integerOr(String key, int dflt, int min, int max) {
            return c.has(key) && !c.get(key).isNull() ? integer(key, min, max) : dflt;
        }

        double number(String key) {
            JsonNode v = c.get(key);
            if (v == null || !v.isNumber()) throw error(key, v == null ? "is missing" : "must be a number, got " + v);
            return v.asDouble();
        }

        double numberOr(String key, double dflt) { return c.has(key) && !c.get(key).isNull() ? number(key) : dflt; }

        String textOr(String key, String dflt) {
            JsonNode v = c.get(key);
            return v == null || v.isNull() ? dflt : v.asText();
        }
    }
}
