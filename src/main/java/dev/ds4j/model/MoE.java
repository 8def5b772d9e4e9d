package dev.ds4j.model;

import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Vectors;

/**
 * DeepSeekMoE (§4.8): sqrt(softplus) router scores; the first num_hash_layers layers pick experts by a
 * fixed token-id table (tid2eid), the others by top-k of score + bias (the bias only chooses, it does not
 * weigh). Selected scores are renormalised and scaled; experts are SwiGLU with a clamp; one shared expert
 * is always added.
 */
public final class MoE {
    /** One SwiGLU expert: w1 = gate, w3 = up, w2 = down. */
    public record Expert(Matrix w1, Matrix w2, Matrix w3) {
        long bytes() { return w1.bytes() + w2.bytes() + w3.bytes(); }
    }

    private final Matrix gate;                 // [E, d], used in fp32
    private final float[] bias;                // [E], null on hash layers
    private final Vectors.LongTable tid2eid;   // [vocab, k], null on biased layers
    private final Expert[] experts;
    private final Expert shared;
    private final int topk;
    private final float routeScale, limit;

    public MoE(Matrix gate, float[] bias, Vectors.LongTable tid2eid, Expert[] experts, Expert shared, ModelConfig c) {
        this.gate = gate;
        this.bias = bias;
        this.tid2eid = tid2eid;
        this.experts = experts;
        this.shared = shared;
        this.topk = c.nActivatedExperts();
        this.routeScale = c.routeScale();
        this.limit = c.swigluLimit() > 0 ? c.swigluLimit() : Float.POSITIVE_INFINITY; // official: clamp only when > 0
    }

    public boolean hashRouted() { return tid2eid != null; }

    /** Bytes of weights one token reads: router, the activated experts and the shared expert. */
    public long bytesPerToken() { return gate.bytes() + topk * experts[0].bytes() + shared.bytes(); }

    /** Chooses the experts for this token: s.experts[0..k) and their weights s.selScores[0..k). */
    void route(float[] x, int token, Scratch s) {
        float[] logits = s.routerLogits, scores = s.routerScores;
        gate.matvec(x, 0, logits, 0, logits.length);
        for (int e = 0; e < logits.length; e++) scores[e] = (float) Math.sqrt(softplus(logits[e]));
        int[] ids = s.experts;
        if (tid2eid != null) {
            for (int i = 0; i < topk; i++) ids[i] = (int) tid2eid.get(token, i);
        } else {
            float[] biased = s.selScores;
            for (int e = 0; e < scores.length; e++) biased[e] = scores[e] + bias[e];
            Indexer.topK(biased, biased.length, topk, ids);
        }
        // Official code visits experts in increasing id; keep that order so both numerics sum alike.
        java.util.Arrays.sort(ids, 0, topk);
        float sum = 0;
        for (int i = 0; i < topk; i++) sum += scores[ids[i]];
        for (int i = 0; i < topk; i++) s.selScores[i] = scores[ids[i]] / (sum + 1e-20f) * routeScale;
    }

    /** out = Σ_selected w_e·expert_e(x) + shared(x); token is the input id (for hash routing). */
    public void forward(float[] x, int token, float[] out, Numerics num, Scratch s) {
        route(x, token, s);
        float[] acc = s.moeAcc;
        java.util.Arrays.fill(acc, 0f);
        for (int i = 0; i < topk; i++) {
            int e = s.experts[i];
            if (e < 0 || e >= experts.length)
                throw new IllegalStateException("tid2eid routes token " + token + " to expert " + e + " of " + experts.length);
            runExpert(experts[e], x, s.selScores[i], acc, num, s);
        }
        runExpert(shared, x, 1f, acc, num, s);
        for (int i = 0; i < out.length; i++) out[i] = num.act(acc[i]);
    }

    /** SwiGLU with clamp (gate ≤ limit, up in [−limit, limit]); the routing weight scales h before w2. */
    private void runExpert(Expert ex, float[] x, float weight, float[] acc, Numerics num, Scratch s) {
        float[] g = s.gate, u = s.up, y = s.expertOut;
        num.linear(ex.w1(), x, 0, g, s.lin);
        num.linear(ex.w3(), x, 0, u, s.lin);
        for (int i = 0; i < g.length; i++) {
            float gi = Math.min(g[i], limit);
            float ui = Math.max(-limit, Math.min(u[i], limit));
            g[i] = (gi / (1f + (float) Math.exp(-gi))) * ui * weight;
        }
        num.linear(ex.w2(), g, 0, y, s.lin);
        for (int i = 0; i < y.length; i++) acc[i] += y[i];
    }

    /** PyTorch's softplus: log(1 + e^x), and x itself above 20. */
    static double softplus(float x) { return x > 20f ? x : Math.log1p(Math.exp(x)); }
}
