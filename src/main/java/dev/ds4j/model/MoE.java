package dev.ds4j.model;

import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Vec;
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

    /**
     * Chooses the experts of row r from its router logits (rows.routerLogits): rows.experts[r·k ..] in
     * increasing id and their weights rows.selScores[r·k ..].
     */
    private void route(Rows rows, int r) {
        int E = experts.length, base = r * topk;
        float[] scores = rows.routerScores;
        for (int e = 0; e < E; e++) scores[e] = (float) Math.sqrt(softplus(rows.routerLogits[r * E + e]));
        int[] ids = rows.ids;
        int token = rows.token[r];
        if (tid2eid != null) {
            for (int i = 0; i < topk; i++) {
                long e = tid2eid.get(token, i);
                if (e < 0 || e >= E) throw new IllegalStateException("tid2eid routes token " + token + " to expert " + e + " of " + E);
                ids[i] = (int) e;
            }
        } else {
            float[] biased = rows.biased;
            for (int e = 0; e < E; e++) biased[e] = scores[e] + bias[e];
            Indexer.topK(biased, E, topk, ids);
        }
        // Official code visits experts in increasing id; keep that order so both numerics sum alike.
        java.util.Arrays.sort(ids, 0, topk);
        float sum = 0;
        for (int i = 0; i < topk; i++) sum += scores[ids[i]];
        for (int i = 0; i < topk; i++) {
            rows.experts[base + i] = ids[i];
            rows.selScores[base + i] = scores[ids[i]] / (sum + 1e-20f) * routeScale;
        }
    }

    /**
     * rows.sub = Σ_selected w_e·expert_e(x) + shared(x) for every row (x = rows.x, the ffn_norm outputs).
     * Each expert runs once for all the rows that chose it, so its weights are read once per step however
     * many rows share it. Experts go in increasing id, which is also each row's own order, so every row sums
     * its experts exactly as it would alone.
     */
    void forward(Rows rows, Numerics num) {
        int n = rows.n, d = gate.cols(), E = experts.length;
        gate.matmul(rows.x, 0, d, n, rows.routerLogits, 0, E, 0, E);
        int[] count = rows.expertCount;
        java.util.Arrays.fill(count, 0, E + 1, 0);
        for (int r = 0; r < n; r++) {
            route(rows, r);
            for (int i = 0; i < topk; i++) count[rows.experts[r * topk + i] + 1]++;
        }
        // Counting sort: expert e serves rows expertRows[count[e] .. count[e+1]), each with its routing slot.
        for (int e = 0; e < E; e++) count[e + 1] += count[e];
        int[] fill = rows.expertFill;
        System.arraycopy(count, 0, fill, 0, E);
        for (int r = 0; r < n; r++)
            for (int i = 0; i < topk; i++) rows.expertRows[fill[rows.experts[r * topk + i]]++] = r * topk + i;
        java.util.Arrays.fill(rows.acc, 0, n * d, 0f);
        for (int e = 0; e < E; e++) {
            int from = count[e], m = count[e + 1] - from;
            if (m == 0) continue;
            for (int j = 0; j < m; j++) {
                int slot = rows.expertRows[from + j];
                System.arraycopy(rows.x, slot / topk * d, rows.xg, j * d, d);
                rows.rowWeights[j] = rows.selScores[slot];
                rows.rowTargets[j] = slot / topk;
            }
            runExpert(experts[e], rows, m, num);
        }
        for (int r = 0; r < n; r++) {
            rows.rowWeights[r] = 1f;
            rows.rowTargets[r] = r;
        }
        System.arraycopy(rows.x, 0, rows.xg, 0, n * d);
        runExpert(shared, rows, n, num);
        for (int i = 0; i < n * d; i++) rows.sub[i] = num.act(rows.acc[i]);
    }

    /**
     * SwiGLU with clamp (gate ≤ limit, up in [−limit, limit]) for the m gathered rows in rows.xg; the
     * routing weight of gathered row j scales its h before w2, and its output is added to the accumulator of
     * row rows.rowTargets[j].
     */
    private void runExpert(Expert ex, Rows rows, int m, Numerics num) {
        int d = gate.cols(), inter = ex.w1().rows();
        float[] g = rows.g, u = rows.u, y = rows.yg;
        num.linear(ex.w1(), rows.xg, 0, d, m, g, 0, inter, rows.lin);
        num.linear(ex.w3(), rows.xg, 0, d, m, u, 0, inter, rows.lin);
        Vec.parallel(m, 1, (long) m * inter * 16, (j0, j1) -> {
            for (int j = j0; j < j1; j++) {
                float weight = rows.rowWeights[j];
                for (int i = j * inter, end = i + inter; i < end; i++) {
                    float gi = Math.min(g[i], limit);
                    float ui = Math.max(-limit, Math.min(u[i], limit));
                    g[i] = (gi / (1f + (float) Math.exp(-gi))) * ui * weight;
                }
            }
        });
        num.linear(ex.w2(), g, 0, inter, m, y, 0, d, rows.lin);
        for (int j = 0; j < m; j++) {
            int yo = j * d, ao = rows.rowTargets[j] * d;
            for (int i = 0; i < d; i++) rows.acc[ao + i] += y[yo + i];
        }
    }

    /** PyTorch's softplus: log(1 + e^x), and x itself above 20. */
    static double softplus(float x) { return x > 20f ? x : Math.log1p(Math.exp(x)); }
}
