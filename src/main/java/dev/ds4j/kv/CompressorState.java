package dev.ds4j.kv;

import java.util.Arrays;

/**
 * Streaming state of one compressor (§4.5): the projected values and gates (gate already + ape) of the
 * tokens of the window being filled, and for the overlapping CSA compressor the first half (Ca) of the
 * last complete window, which the next entry pools together with its own second half (Cb).
 */
public final class CompressorState {
    public final int ratio, width, half;
    public final boolean overlap;
    /** [ratio × width] values and gates of the pending window, token r of the window at row r. */
    public final float[] pendValue, pendGate;
    /** [ratio × half] Ca halves of the previous complete window (overlap only). */
    public final float[] prevValue, prevGate;
    public int pending;
    public boolean hasPrev;
    /** Entries emitted so far; the pending window is entry {@code entries}. */
    public int entries;

    public CompressorState(int ratio, int dim, boolean overlap) {
        this.ratio = ratio;
        this.overlap = overlap;
        this.half = dim;
        this.width = overlap ? 2 * dim : dim;
        this.pendValue = new float[ratio * width];
        this.pendGate = new float[ratio * width];
        this.prevValue = overlap ? new float[ratio * dim] : null;
        this.prevGate = overlap ? new float[ratio * dim] : null;
        reset();
    }

    /** Sequence start: no pending tokens, no previous window (its gates −∞ so it gets zero weight). */
    public void reset() {
        pending = 0;
        entries = 0;
        hasPrev = false;
        Arrays.fill(pendValue, 0f);
        Arrays.fill(pendGate, 0f);
        if (overlap) {
            Arrays.fill(prevValue, 0f);
            Arrays.fill(prevGate, Float.NEGATIVE_INFINITY);
        }
    }

    /** The absolute position the next token fed to this compressor must have. */
    public long nextPosition() { return (long) entries * ratio + pending; }

    public long bytes() { return bytes(ratio, half, overlap); }

    /** Bytes of the state of a compressor of this shape (fp32 values and gates, as the official state). */
    static long bytes(int ratio, int dim, boolean overlap) {
        long width = overlap ? 2L * dim : dim;
        return 4L * (2 * ratio * width + (overlap ? 2L * ratio * dim : 0));
    }

    void write(java.io.DataOutputStream out) throws java.io.IOException {
        out.writeInt(pending);
        out.writeBoolean(hasPrev);
        out.writeInt(entries);
        KvIo.floats(out, pendValue, pendValue.length);
        KvIo.floats(out, pendGate, pendGate.length);
        if (overlap) {
            KvIo.floats(out, prevValue, prevValue.length);
            KvIo.floats(out, prevGate, prevGate.length);
        }
    }

    void read(java.io.DataInputStream in) throws java.io.IOException {
        pending = in.readInt();
        if (pending < 0 || pending >= ratio) throw new java.io.IOException("compressor state: " + pending + " pending tokens for ratio " + ratio);
        hasPrev = in.readBoolean();
        entries = in.readInt();
        if (entries < 0) throw new java.io.IOException("compressor state: negative entry count");
        KvIo.into(in, pendValue, "compressor values");
        KvIo.into(in, pendGate, "compressor gates");
        if (overlap) {
            KvIo.into(in, prevValue, "compressor previous values");
            KvIo.into(in, prevGate, "compressor previous gates");
        }
    }

    /**
     * The state after {@code length} tokens with random pending values and gates: as many entries emitted as
     * the length implies, {@code length mod ratio} tokens pending, and (overlap) a previous window whose gates
     * are finite once an entry exists.
     */
    void fillSynthetic(long length, java.util.SplittableRandom rng) {
        reset();
        entries = Math.toIntExact(length / ratio);
        pending = (int) (length % ratio);
        for (int i = 0; i < pending * width; i++) {
            pendValue[i] = (float) rng.nextDouble(-1, 1);
            pendGate[i] = (float) rng.nextDouble(-1, 1);
        }
        if (overlap && entries > 0) {
            hasPrev = true;
            for (int i = 0; i < prevValue.length; i++) {
                prevValue[i] = (float) rng.nextDouble(-1, 1);
                prevGate[i] = (float) rng.nextDouble(-1, 1);
            }
        }
    }

    void copyFrom(CompressorState o) {
        System.arraycopy(o.pendValue, 0, pendValue, 0, pendValue.length);
        System.arraycopy(o.pendGate, 0, pendGate, 0, pendGate.length);
        if (overlap) {
            System.arraycopy(o.prevValue, 0, prevValue, 0, prevValue.length);
            System.arraycopy(o.prevGate, 0, prevGate, 0, prevGate.length);
        }
        pending = o.pending;
        hasPrev = o.hasPrev;
        entries = o.entries;
    }
}
