package dev.ds4j.model;

import dev.ds4j.kv.CompressorState;
import dev.ds4j.tensor.Matrix;
import dev.ds4j.tensor.Quant;

/**
 * KV compressor (§4.5): every {@code ratio} tokens pool into one entry by a per-channel softmax over learned
 * gates. HCA (ratio 128) pools its own window. CSA (ratio 4) overlaps: each token projects to two halves,
 * Ca and Cb, and entry w pools the Ca halves of window w−1 with the Cb halves of window w, so its receptive
 * field is 8 tokens at stride 4. The indexer owns a second, narrower compressor of the same kind.
 */
public final class Compressor {
    /** What an emitted entry is for: it decides the official numerics' final rounding. */
    public enum Kind { ATTENTION, INDEXER }

    private final Matrix wkv, wgate;   // [width, d], width = (overlap ? 2 : 1)·dim
    private final float[] ape;         // [ratio, width]: added to the gate of the token at slot (pos mod ratio)
    private final float[] norm;        // [dim]
    private final int ratio, dim, width, nope;
    private final boolean overlap;
    private final Kind kind;
    private final RopeTable rope;
    private final float eps;

    public Compressor(Matrix wkv, Matrix wgate, float[] ape, float[] norm, int ratio, int dim, Kind kind, RopeTable rope, ModelConfig c) {
        this.wkv = wkv;
        this.wgate = wgate;
        this.ape = ape;
        this.norm = norm;
        this.ratio = ratio;
        this.dim = dim;
        this.overlap = ratio == 4;
        this.width = overlap ? 2 * dim : dim;
        this.kind = kind;
        this.rope = rope;
        this.eps = c.normEps();
        this.nope = dim - rope.dim();
    }

    public int dim() { return dim; }
    public int ratio() { return ratio; }

    /** Bytes of weights one token's projections read. */
    public long bytesPerToken() { return wkv.bytes() + wgate.bytes(); }

    /**
     * The projections of n rows (x: attn_norm outputs, d apart), one weight read for all: kv and gate, each
     * {@code 2·dim} floats apart (only the first width are used). The compressor runs in fp32 in both
     * numerics (§6): projections of the (BF16) input, fp32 state.
     */
    public void project(float[] x, int d, int n, float[] kv, float[] gate) {
        wkv.matmul(x, 0, d, n, kv, 0, 2 * dim, 0, width);
        wgate.matmul(x, 0, d, n, gate, 0, 2 * dim, 0, width);
    }

    /**
     * Feeds the token at {@code pos}, whose projections are row r of {@code kv} and {@code gate} (see
     * {@link #project}). When it completes a window, writes the finished entry to {@code entry[0..dim)} and
     * returns true.
     */
    public boolean accept(float[] kv, float[] gate, int r, long pos, CompressorState st, float[] entry, Numerics num) {
        if (pos != st.nextPosition())
            throw new IllegalStateException("compressor fed position " + pos + " but expects " + st.nextPosition());
        int slot = st.pending, off = r * 2 * dim;
        System.arraycopy(kv, off, st.pendValue, slot * width, width);
        int apeRow = (int) (pos % ratio) * width;
        for (int i = 0; i < width; i++) st.pendGate[slot * width + i] = gate[off + i] + ape[apeRow + i];
        st.pending++;
        if (st.pending < ratio) return false;

        long w = st.entries;
        if (overlap) poolOverlap(st, entry);
        else poolWindow(st, entry);
        st.pending = 0;
        st.entries++;

        num.act(entry, 0, dim);
        RmsNorm.apply(entry, 0, dim, norm, eps, entry, 0, num);
        float[] cos = new float[rope.dim() / 2], sin = new float[rope.dim() / 2];
        rope.angles(w * ratio, cos, sin);            // an entry sits at the first token of its window
        rope.apply(entry, 0, dim, cos, sin, false, num);
        if (num.official()) {
            if (kind == Kind.ATTENTION) Quant.fp8Sim(entry, 0, nope, 64);
            else {
                Quant.hadamard(entry, 0, dim);
                Quant.bf16(entry, 0, dim);
                Quant.fp4Sim(entry, 0, dim);
            }
        }
        return true;
    }

    /** HCA: per-channel softmax over the ratio tokens of the window. */
    private void poolWindow(CompressorState st, float[] out) {
        for (int ch = 0; ch < dim; ch++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int r = 0; r < ratio; r++) max = Math.max(max, st.pendGate[r * width + ch]);
            float sum = 0, acc = 0;
            for (int r = 0; r < ratio; r++) {
                float e = (float) Math.exp(st.pendGate[r * width + ch] - max);
                sum += e;
                acc += e * st.pendValue[r * width + ch];
            }
            out[ch] = acc / sum;
        }
    }

    /** CSA: the 4 saved Ca slots of window w−1 (gates −∞ for w = 0) and the 4 Cb slots of window w. */
    private void poolOverlap(CompressorState st, float[] out) {
        for (int ch = 0; ch < dim; ch++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int r = 0; r < ratio; r++) {
                max = Math.max(max, st.prevGate[r * dim + ch]);
                max = Math.max(max, st.pendGate[r * width + dim + ch]);
            }
            float sum = 0, acc = 0;
            for (int r = 0; r < ratio; r++) {
                float ea = st.hasPrev ? (float) Math.exp(st.prevGate[r * dim + ch] - max) : 0f;
                float eb = (float) Math.exp(st.pendGate[r * width + dim + ch] - max);
                sum += ea + eb;
                acc += ea * st.prevValue[r * dim + ch] + eb * st.pendValue[r * width + dim + ch];
            }
            out[ch] = acc / sum;
        }
        // This window's Ca halves pair with the next window's Cb halves.
        for (int r = 0; r < ratio; r++) {
            System.arraycopy(st.pendValue, r * width, st.prevValue, r * dim, dim);
            System.arraycopy(st.pendGate, r * width, st.prevGate, r * dim, dim);
        }
        st.hasPrev = true;
    }
}
