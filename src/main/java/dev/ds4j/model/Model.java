package dev.ds4j.model;

import dev.ds4j.checkpoint.Checkpoint;
import dev.ds4j.checkpoint.CheckpointException;
import dev.ds4j.kv.KvCache;
import dev.ds4j.kv.KvLayout;
import dev.ds4j.kv.LayerCache;
import dev.ds4j.tensor.Matrix;

import java.nio.file.Path;

/**
 * A loaded DeepSeek-V4 model: configuration plus every weight bound to its memory-mapped checkpoint bytes.
 * Immutable and safe to share between sessions; all per-sequence state lives in a {@link KvCache}.
 */
public final class Model implements AutoCloseable {
    private final ModelConfig config;
    private final Checkpoint checkpoint;
    private final Matrix embed, head;
    private final float[] norm;
    private final HyperConnection.Head hcHead;
    private final Block[] blocks;
    private final Mtp mtp;
    private final RopeTable mainRope, compressRope;
    private String fingerprint;

    private Model(ModelConfig config, Checkpoint checkpoint, Matrix embed, Matrix head, float[] norm,
                  HyperConnection.Head hcHead, Block[] blocks, Mtp mtp, RopeTable mainRope, RopeTable compressRope) {
        this.config = config;
        this.checkpoint = checkpoint;
        this.embed = embed;
        this.head = head;
        this.norm = norm;
        this.hcHead = hcHead;
        this.blocks = blocks;
        this.mtp = mtp;
        this.mainRope = mainRope;
        this.compressRope = compressRope;
    }

    /** Opens a checkpoint directory and binds every tensor (a header parse; no weight bytes are read). */
    public static Model load(Path dir) {
        Checkpoint ck = Checkpoint.open(dir);
        try {
            ModelConfig c = ModelConfig.parse(ck.config());
            Weights w = new Weights(ck);
            int d = c.dim(), hc = c.hcMult();
            RopeTable mainRope = RopeTable.main(c), compressRope = RopeTable.compress(c);
            Matrix embed = w.matrix("embed.weight", c.vocabSize(), d);
            Matrix head = w.matrix("head.weight", c.vocabSize(), d);
            float[] norm = w.vector("norm.weight", d);
            HyperConnection.Head hcHead = new HyperConnection.Head(w.matrix("hc_head_fn", hc, hc * d),
                    w.vector("hc_head_base", hc), w.vector("hc_head_scale", 1), c);
            Block[] blocks = new Block[c.nLayers()];
            for (int i = 0; i < blocks.length; i++)
                blocks[i] = block(w, "layers." + i + ".", i, c.compressRatio(i), c.isHashLayer(i), c, mainRope, compressRope);
            Mtp mtp = null;
            if (c.nMtpLayers() > 0 && ck.tensors().keySet().stream().anyMatch(n -> n.startsWith("mtp.0."))) {
                int ratio = c.compressRatios().length > c.nLayers() ? c.compressRatio(c.nLayers()) : 0;
                Block b = block(w, "mtp.0.", c.nLayers(), ratio, false, c, mainRope, compressRope);
                mtp = new Mtp(b, w.linear("mtp.0.e_proj", d, d), w.linear("mtp.0.h_proj", d, d),
                        w.vector("mtp.0.enorm.weight", d), w.vector("mtp.0.hnorm.weight", d), w.vector("mtp.0.norm.weight", d),
                        new HyperConnection.Head(w.matrix("mtp.0.hc_head_fn", hc, hc * d), w.vector("mtp.0.hc_head_base", hc),
                                w.vector("mtp.0.hc_head_scale", 1), c), c);
            }
            return new Model(c, ck, embed, head, norm, hcHead, blocks, mtp, mainRope, compressRope);
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    private static Block block(Weights w, String p, int index, int ratio, boolean hash, ModelConfig c,
                               RopeTable mainRope, RopeTable compressRope) {
        int d = c.dim(), hd = c.headDim(), hc = c.hcMult(), mix = c.hcMixDim();
        RopeTable rope = ratio == 0 ? mainRope : compressRope;
        Compressor comp = null;
        Indexer indexer = null;
        if (ratio > 0) {
            int width = (ratio == 4 ? 2 : 1) * hd;
            comp = new Compressor(w.linear(p + "attn.compressor.wkv", width, d), w.linear(p + "attn.compressor.wgate", width, d),
                    w.vector(p + "attn.compressor.ape", ratio, width), w.vector(p + "attn.compressor.norm.weight", hd),
                    ratio, hd, Compressor.Kind.ATTENTION, rope, c);
        }
        if (ratio == 4) {
            int id = c.indexHeadDim();
            Compressor ic = new Compressor(w.linear(p + "attn.indexer.compressor.wkv", 2 * id, d),
                    w.linear(p + "attn.indexer.compressor.wgate", 2 * id, d), w.vector(p + "attn.indexer.compressor.ape", ratio, 2 * id),
                    w.vector(p + "attn.indexer.compressor.norm.weight", id), ratio, id, Compressor.Kind.INDEXER, rope, c);
            indexer = new Indexer(w.linear(p + "attn.indexer.wq_b", c.indexHeads() * id, c.qLoraRank()),
                    w.linear(p + "attn.indexer.weights_proj", c.indexHeads(), d), ic, c, rope);
        }
        Attention attn = new Attention(
                w.linear(p + "attn.wq_a", c.qLoraRank(), d), w.vector(p + "attn.q_norm.weight", c.qLoraRank()),
                w.linear(p + "attn.wq_b", c.nHeads() * hd, c.qLoraRank()), w.linear(p + "attn.wkv", hd, d),
                w.vector(p + "attn.kv_norm.weight", hd),
                w.linear(p + "attn.wo_a", c.oGroups() * c.oLoraRank(), c.nHeads() * hd / c.oGroups()),
                w.linear(p + "attn.wo_b", d, c.oGroups() * c.oLoraRank()), w.vector(p + "attn.attn_sink", c.nHeads()),
                comp, indexer, rope, ratio, c);
        int E = c.nRoutedExperts(), I = c.moeInterDim();
        MoE.Expert[] experts = new MoE.Expert[E];
        for (int e = 0; e < E; e++) {
            String ep = p + "ffn.experts." + e + ".";
            experts[e] = new MoE.Expert(w.linear(ep + "w1", I, d), w.linear(ep + "w2", d, I), w.linear(ep + "w3", I, d));
        }
        String sp = p + "ffn.shared_experts.";
        MoE.Expert shared = new MoE.Expert(w.linear(sp + "w1", I, d), w.linear(sp + "w2", d, I), w.linear(sp + "w3", I, d));
        MoE moe;
        if (hash) {
            moe = new MoE(w.linear(p + "ffn.gate", E, d), null, w.table(p + "ffn.gate.tid2eid", c.vocabSize(), c.nActivatedExperts()),
                    experts, shared, c);
        } else {
            moe = new MoE(w.linear(p + "ffn.gate", E, d), w.vector(p + "ffn.gate.bias", E), null, experts, shared, c);
        }
        return new Block(index, w.vector(p + "attn_norm.weight", d), w.vector(p + "ffn_norm.weight", d),
                new HyperConnection(w.matrix(p + "hc_attn_fn", mix, hc * d), w.vector(p + "hc_attn_base", mix), w.vector(p + "hc_attn_scale", 3), c),
                new HyperConnection(w.matrix(p + "hc_ffn_fn", mix, hc * d), w.vector(p + "hc_ffn_base", mix), w.vector(p + "hc_ffn_scale", 3), c),
                attn, moe, c);
    }

    public ModelConfig config() { return config; }
    public Path dir() { return checkpoint.dir(); }
    public long checkpointBytes() { return checkpoint.fileBytes(); }
    /** Pulls every weight page into the page cache (see {@link Checkpoint#touchAll()}). */
    public long touchWeights() { return checkpoint.touchAll(); }
    /** Identifies these weights (see {@link Checkpoint#fingerprint()}); computed once. */
    public synchronized String fingerprint() {
        if (fingerprint == null) fingerprint = checkpoint.fingerprint();
        return fingerprint;
    }
    public int layers() { return blocks.length; }
    public Block block(int i) { return blocks[i]; }
    public boolean hasMtp() { return mtp != null; }
    public Mtp mtp() { return mtp; }
    public RopeTable mainRope() { return mainRope; }
    public RopeTable compressRope() { return compressRope; }

    /**
     * Bytes of weights one decoded token reads: its embedding row, every block (attention, router, the
     * activated and shared experts), the HC head, the final norm and the output head. MTP is not counted.
     */
    public long bytesPerToken() {
        long b = embed.bytes() / embed.rows() + head.bytes() + 4L * norm.length + hcHead.bytes();
        for (Block blk : blocks) b += blk.bytesPerToken();
        return b;
    }

    /**
     * A fresh, empty cache for one sequence (plus one layer for the MTP block when present), storing its
     * entries in {@code layout}: {@link KvLayout#COMPACT} needs official numerics (see {@link KvLayout}).
     */
    public KvCache newCache(KvLayout layout) { return new KvCache(cacheSpec(config, mtp != null, layout)); }

    /** The cache shape of a model of this config, with or without the MTP block's layer; no checkpoint needed. */
    public static KvCache.Spec cacheSpec(ModelConfig c, boolean withMtp, KvLayout layout) {
        int n = c.nLayers() + (withMtp ? 1 : 0);
        int[] ratios = new int[n];
        for (int i = 0; i < n; i++) ratios[i] = i < c.compressRatios().length ? c.compressRatio(i) : 0;
        return new KvCache.Spec(ratios, c.nLayers(), c.window(), c.headDim(), c.ropeDim(), c.indexHeadDim(), layout);
    }

    void embedding(int token, float[] out) {
        checkToken(token);
        embed.row(token, out, 0);
    }

    void checkToken(int token) {
        if (token < 0 || token >= config.vocabSize())
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + config.vocabSize() + ")");
    }

    void head(float[] y, float[] logits) { head.matvec(y, 0, logits, 0, head.rows()); }

    /** Rows that go through a layer together at most (bounds the row buffers: about 60 MB at V4-Flash dims). */
    static final int MAX_ROWS = Integer.getInteger("ds4j.maxRows", 256);

    /**
     * Runs tokens[off .. off+len) through every block, appending them to {@code cache}. Returns their final
     * residual streams, [len × hc·d]. {@code topk} ≤ 0 uses the configured index_topk.
     */
    public float[] forward(int[] tokens, int off, int len, KvCache cache, int topk, Observer obs, Numerics num, Scratch s) {
        for (int i = 0; i < len; i++) checkToken(tokens[off + i]);
        int width = config.hcMult() * config.dim();
        float[] X = new float[len * width];
        // Layer-outer over pieces of up to MAX_ROWS tokens: each weight is read once per piece, and every
        // token still sees exactly the cache state a token-by-token decode would give it.
        for (int p0 = 0; p0 < len; p0 += MAX_ROWS) {
            int n = Math.min(MAX_ROWS, len - p0);
            Rows rows = s.rows();
            rows.reset(n, 1);
            rows.seqStart[0] = 0;
            rows.seqStart[1] = n;
            rows.caches[0] = cache;
            rows.scratch[0] = s;
            long start = cache.length();
            for (int t = 0; t < n; t++) {
                rows.token[t] = tokens[off + p0 + t];
                rows.pos[t] = start + t;
            }
            float[] piece = n == len ? X : new float[n * width];
            run(piece, rows, topk, obs, num, null);
            if (piece != X) System.arraycopy(piece, 0, X, p0 * width, n * width);
        }
        return X;
    }

    /** Embeds the rows' tokens into every stream of X, runs every block and advances the caches. */
    private void run(float[] X, Rows rows, int topk, Observer obs, Numerics num, java.util.concurrent.ExecutorService pool) {
        int d = config.dim(), width = config.hcMult() * d;
        for (int r = 0; r < rows.n; r++) {
            embed.row(rows.token[r], X, r * width);
            for (int j = 1; j < config.hcMult(); j++) System.arraycopy(X, r * width, X, r * width + j * d, d);
            obs.layerOutput(-1, rows.pos[r], X, r * width);
        }
        for (Block block : blocks) {
            block.forward(X, rows, topk, obs, num, pool);
            for (int r = 0; r < rows.n; r++) obs.layerOutput(block.index, rows.pos[r], X, r * width);
        }
        for (int q = 0; q < rows.seqs; q++) rows.caches[q].advance(rows.seqStart[q + 1] - rows.seqStart[q]);
    }

    /**
     * One step for several sequences at once: {@code tokens[b]} (one or more) are appended to {@code caches[b]}.
     * All their tokens go through each layer together, so each weight is read once per step for the whole
     * batch (an expert once for all the rows that chose it); the cache-dependent part of attention runs per
     * sequence, in parallel on {@code pool} (null: this thread). Returns the final streams of every token,
     * sequence after sequence ([Σ len × hc·d]); each is bit-identical to {@link #forward} of that sequence alone.
     */
    public float[] forwardBatch(int[][] tokens, KvCache[] caches, Scratch[] scratch, int topk, Numerics num,
                                java.util.concurrent.ExecutorService pool) {
        int B = tokens.length, total = 0;
        for (int[] t : tokens) {
            for (int id : t) checkToken(id);
            total += t.length;
        }
        Rows rows = scratch[0].rows();
        rows.reset(total, B);
        int r = 0;
        for (int b = 0; b < B; b++) {
            rows.seqStart[b] = r;
            rows.caches[b] = caches[b];
            rows.scratch[b] = scratch[b];
            long start = caches[b].length();
            for (int t = 0; t < tokens[b].length; t++, r++) {
                rows.token[r] = tokens[b][t];
                rows.pos[r] = start + t;
            }
        }
        rows.seqStart[B] = total;
        float[] X = new float[total * config.hcMult() * config.dim()];
        run(X, rows, topk, Observer.NONE, num, pool);
        return X;
    }

    /** Final collapse, norm and head for one token's streams: logits[vocab]. {@code y} needs d floats. */
    public void logits(float[] X, int off, float[] logits, float[] y, Numerics num) {
        hcHead.collapse(X, off, y, num);
        RmsNorm.apply(y, 0, config.dim(), norm, config.normEps(), y, 0, num);
        head(y, logits);
    }

    /**
     * Logits of n tokens whose streams start at X[offs[i]], with one read of the output head for all of them
     * (the head is the largest single weight a decoded token reads). Row i is bit-identical to {@link #logits}.
     */
    public float[][] logits(float[] X, int[] offs, int n, Numerics num) {
        int d = config.dim(), vocab = config.vocabSize();
        if (n == 1) {   // the decode case: no flat buffer to copy out of
            float[][] one = {new float[vocab]};
            logits(X, offs[0], one[0], new float[d], num);
            return one;
        }
        float[] y = new float[n * d], flat = new float[n * vocab];
        float[] one = new float[d];
        for (int i = 0; i < n; i++) {
            hcHead.collapse(X, offs[i], one, num);
            RmsNorm.apply(one, 0, d, norm, config.normEps(), y, i * d, num);
        }
        head.matmul(y, 0, d, n, flat, 0, vocab, 0, vocab);
        float[][] out = new float[n][];
        for (int i = 0; i < n; i++) out[i] = java.util.Arrays.copyOfRange(flat, i * vocab, (i + 1) * vocab);
        return out;
    }

    /** MTP draft logits (see {@link Mtp}); the MTP cache is the last layer of {@code cache}. */
    public void mtpLogits(float[] mainStreams, int off, int nextToken, long pos, KvCache cache, float[] logits, Numerics num, Scratch s) {
        if (mtp == null) throw new IllegalStateException("this checkpoint has no MTP tensors (mtp.0.*)");
        mtp.forward(this, mainStreams, off, nextToken, pos, cache, logits, num, s);
    }

    @Override
    public void close() { checkpoint.close(); }
}
