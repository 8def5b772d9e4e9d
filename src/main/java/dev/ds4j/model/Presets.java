package dev.ds4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Configs for checkpoints that {@code ds4j init} writes with random weights, so a new user can run the
 * whole stack at once. The weights are noise: the model's output is meaningless text.
 */
public final class Presets {
    private Presets() {}

    /**
     * A tiny model with the real DeepSeek-V4 vocabulary (so the real tokenizer and chat protocol apply):
     * sliding, CSA and HCA layers, hash and biased MoE, FP8 weights with FP4 experts, an MTP block.
     */
    public static ObjectNode tiny() {
        ObjectNode c = common();
        c.put("vocab_size", 129280).put("hidden_size", 256).put("num_hidden_layers", 4);
        var r = c.putArray("compress_ratios");
        for (int x : new int[]{0, 4, 128, 4, 0}) r.add(x);
        c.put("num_attention_heads", 8).put("head_dim", 128).put("qk_rope_head_dim", 64).put("q_lora_rank", 128)
                .put("o_groups", 2).put("o_lora_rank", 128).put("sliding_window", 64).put("index_n_heads", 4)
                .put("index_head_dim", 128).put("index_topk", 16).put("n_routed_experts", 8).put("num_experts_per_tok", 2)
                .put("moe_intermediate_size", 256).put("num_hash_layers", 1);
        return c;
    }

    /**
     * V4-Flash cut to its first four layers plus its MTP block: every dimension is Flash's (ARCHITECTURE §1.1:
     * hidden 4096, 64 heads of 512 with 64 rope dims, q LoRA 1024, 8 output groups of rank 1024, window 128,
     * indexer 64 × 128 with top-512, 256 routed experts of 2048 with 6 active plus 1 shared, hc 4, vocabulary
     * 129,280, FP8 e4m3 [128, 128] ue8m0 with FP4 experts). The schedule is the first four entries of Flash's
     * (§1.2: sliding, sliding, CSA, HCA) and its MTP entry 0; with Flash's 3 hash layers, layers 0–2 are
     * hash-routed and layer 3 and the MTP block use the biased router. About 20 GB: tensors are the real
     * ones of §7.2, so memory traffic per token is that of the real model's layers.
     */
    public static ObjectNode flashShape() {
        ObjectNode c = common();
        c.put("vocab_size", 129280).put("hidden_size", 4096).put("num_hidden_layers", 4);
        var r = c.putArray("compress_ratios");
        for (int x : new int[]{0, 0, 4, 128, 0}) r.add(x);
        c.put("num_attention_heads", 64).put("head_dim", 512).put("qk_rope_head_dim", 64).put("q_lora_rank", 1024)
                .put("o_groups", 8).put("o_lora_rank", 1024).put("sliding_window", 128).put("index_n_heads", 64)
                .put("index_head_dim", 128).put("index_topk", 512).put("n_routed_experts", 256).put("num_experts_per_tok", 6)
                .put("moe_intermediate_size", 2048).put("num_hash_layers", 3);
        return c;
    }

    private static ObjectNode common() {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("DeepseekV4ForCausalLM");
        c.put("model_type", "deepseek_v4").put("num_key_value_heads", 1).put("n_shared_experts", 1)
                .put("scoring_func", "sqrtsoftplus").put("norm_topk_prob", true).put("topk_method", "noaux_tc")
                .put("hc_eps", 1e-6).put("rms_norm_eps", 1e-6).put("rope_theta", 10000.0).put("compress_rope_theta", 160000.0);
        c.putObject("rope_scaling").put("type", "yarn").put("factor", 16).put("original_max_position_embeddings", 65536)
                .put("beta_fast", 32).put("beta_slow", 1);
        c.put("max_position_embeddings", 1048576).put("tie_word_embeddings", false).put("bos_token_id", 0).put("eos_token_id", 1)
                .put("hidden_act", "silu").put("torch_dtype", "bfloat16").put("hc_mult", 4).put("hc_sinkhorn_iters", 20)
                .put("num_nextn_predict_layers", 1).put("routed_scaling_factor", 1.5).put("swiglu_limit", 10.0);
        ObjectNode q = c.putObject("quantization_config");
        q.put("quant_method", "fp8").put("fmt", "e4m3").put("scale_fmt", "ue8m0").put("activation_scheme", "dynamic");
        q.putArray("weight_block_size").add(128).add(128);
        c.put("expert_dtype", "fp4");
        return c;
    }
}
