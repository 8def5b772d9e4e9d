package dev.ds4j.model;

import dev.ds4j.checkpoint.DType;
import dev.ds4j.checkpoint.SafetensorsWriter.Entry;
import dev.ds4j.model.CheckpointLayout.Role;
import dev.ds4j.model.CheckpointLayout.Spec;
import dev.ds4j.tensor.Formats;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Random weights for the tensors of a {@link CheckpointLayout}, generated in pieces of whole rows so that no
 * tensor is ever in heap at once (a Flash-sized embedding is 1 GB). Linear weights are N(0, std) quantised to
 * their storage as DeepSeek's converter does (power-of-two scales, round to nearest even); norm weights are
 * 1 + N(0, 0.2); HC bases, sinks and ape N(0, 0.5); router biases N(0, 0.1); HC scales 1 + U(0, 1); tid2eid
 * holds distinct random expert ids per token.
 */
final class RandomWeights {
    private RandomWeights() {}

    /** About 16 MB of floats per piece: a few pieces in flight per core stay well under 100 MB of heap. */
    static final int PIECE_ELEMENTS = 1 << 22;

    /** Rows [row0, row0 + rows) of the {@code index}-th tensor spec; {@code last} ends that tensor. */
    record Piece(int specIndex, Spec spec, int index, int row0, int rows, boolean last) {}

    /** A piece's bytes: its rows of the weight, and its rows of the scale when the storage has one (else null). */
    record Data(byte[] weight, byte[] scale) {}

    /** Where the random numbers come from; everything is drawn in row-major order within a piece. */
    abstract static class Source {
        final SplittableRandom rnd;

        Source(SplittableRandom rnd) { this.rnd = rnd; }

        /** Fills v[0..n) with N(mean, std) draws; a loop per kind of source keeps the draw inlined. */
        abstract void normals(float[] v, int n, double mean, double std);

        /**
         * One stream for the whole checkpoint with Box–Muller normals: how the committed references and the tiny
         * preset were made, so it must never change.
         */
        static Source sequential(long seed) {
            return new Source(new SplittableRandom(seed)) {
                @Override
                void normals(float[] v, int n, double mean, double std) {
                    for (int i = 0; i < n; i++) {
                        double u1 = rnd.nextDouble(), u2 = rnd.nextDouble();
                        v[i] = (float) (mean + std * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2));
                    }
                }
            };
        }

        /**
         * An independent stream per piece, seeded from (seed, tensor, piece), so pieces can be generated on any
         * thread in any order with the same result; ziggurat normals are about five times faster than Box–Muller.
         */
        static Source forPiece(long seed, Piece p) {
            long s = mix(mix(seed ^ 0x9E3779B97F4A7C15L * (p.specIndex() + 1L)) ^ 0xC2B2AE3D27D4EB4FL * (p.index() + 1L));
            return new Source(new SplittableRandom(s)) {
                @Override
                void normals(float[] v, int n, double mean, double std) {
                    for (int i = 0; i < n; i++) v[i] = (float) (mean + std * rnd.nextGaussian());
                }
            };
        }

        /** A 64-bit finaliser (Stafford's mix 13): nearby seeds give unrelated streams. */
        private static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }

    static boolean isLinear(Role r) { return r == Role.LINEAR_FP8 || r == Role.EXPERT || r == Role.LINEAR_BF16; }

    /** The dtype a spec is stored in; linear weights depend on the config's quantisation. */
    static DType storage(Spec s, ModelConfig c) {
        return switch (s.role()) {
            case LINEAR_FP8 -> c.fp8Weights() ? DType.F8_E4M3 : DType.BF16;
            case EXPERT -> !c.fp8Weights() ? DType.BF16 : c.expertDtype().equals("fp4") ? DType.I8 : DType.F8_E4M3;
            case LINEAR_BF16, NORM -> DType.BF16;
            case HC_FN, HC_BASE, HC_SCALE, SINK, APE, BIAS -> DType.F32;
            case TID2EID -> DType.I64;
        };
    }

    /** The safetensors entries a spec becomes (".weight" and, when quantised, ".scale"), without data. */
    static List<Entry> entries(Spec s, ModelConfig c) {
        DType dt = storage(s, c);
        if (!isLinear(s.role())) return List.of(new Entry(s.name(), dt, s.shape(), null));
        long rows = s.rows(), cols = s.cols();
        return switch (dt) {
            case BF16 -> List.of(new Entry(s.name() + ".weight", dt, new long[]{rows, cols}, null));
            case F8_E4M3 -> List.of(new Entry(s.name() + ".weight", dt, new long[]{rows, cols}, null),
                    new Entry(s.name() + ".scale", DType.F8_E8M0, new long[]{(rows + 127) / 128, (cols + 127) / 128}, null));
            case I8 -> List.of(new Entry(s.name() + ".weight", dt, new long[]{rows, cols / 2}, null),
                    new Entry(s.name() + ".scale", DType.F8_E8M0, new long[]{rows, cols / 32}, null));
            default -> throw new IllegalArgumentException("no linear layout for " + dt);
        };
    }

    /**
     * The pieces of a spec in row order. FP8 pieces are whole 128-row bands, because a scale covers 128 rows;
     * the band sizes depend only on the shape, so per-piece streams give the same bytes on any machine.
     */
    static List<Piece> pieces(int specIndex, Spec s, ModelConfig c) {
        if (!isLinear(s.role())) return List.of(new Piece(specIndex, s, 0, 0, s.rows(), true));
        int rows = s.rows(), cols = s.cols();
        int band = storage(s, c) == DType.F8_E4M3 ? 128 * Math.max(1, PIECE_ELEMENTS / (128 * cols)) : Math.max(1, PIECE_ELEMENTS / cols);
        List<Piece> out = new ArrayList<>();
        for (int r = 0, i = 0; r < rows; r += band, i++) out.add(new Piece(specIndex, s, i, r, Math.min(band, rows - r), r + band >= rows));
        return out;
    }

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    static Data generate(Piece p, ModelConfig c, Source src, double std) {
        Spec s = p.spec();
        int cols = s.cols();
        return switch (s.role()) {
            case LINEAR_FP8, EXPERT, LINEAR_BF16 -> {
                int n = Math.multiplyExact(p.rows(), cols);
                float[] w = normal(src, n, 0, std);
                yield switch (storage(s, c)) {
                    case BF16 -> new Data(bf16(w, n), null);
                    case F8_E4M3 -> fp8(w, p.rows(), cols);
                    case I8 -> fp4(w, p.rows(), cols);
                    default -> throw new IllegalArgumentException("no linear layout for " + storage(s, c));
                };
            }
            case NORM -> {
                float[] v = normal(src, cols, 0, 0.2);
                for (int i = 0; i < cols; i++) v[i] += 1f;
                yield new Data(bf16(v, cols), null);
            }
            case HC_FN -> new Data(f32(normal(src, s.elements(), 0, std), s.elements()), null);
            case HC_BASE, SINK, APE -> new Data(f32(normal(src, s.elements(), 0, 0.5), s.elements()), null);
            case HC_SCALE -> {
                float[] v = new float[cols];
                for (int i = 0; i < cols; i++) v[i] = (float) (1 + src.rnd.nextDouble());
                yield new Data(f32(v, cols), null);
            }
            case BIAS -> new Data(f32(normal(src, cols, 0, 0.1), cols), null);
            case TID2EID -> {
                int rows = s.rows();
                ByteBuffer b = ByteBuffer.allocate(8 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
                for (int r = 0; r < rows; r++) {
                    int[] perm = src.rnd.ints(0, c.nRoutedExperts()).distinct().limit(cols).toArray();
                    for (int id : perm) b.putLong(id);
                }
                yield new Data(b.array(), null);
            }
        };
    }

    /** n normals in a per-thread scratch array (valid until the thread's next call). */
    private static float[] normal(Source src, int n, double mean, double std) {
        float[] v = SCRATCH.get();
        if (v.length < n) SCRATCH.set(v = new float[n]);
        src.normals(v, n, mean, std);
        return v;
    }

    /** E4M3 with one E8M0 scale per 128×128 block; {@code rows} is a multiple of 128 except in a tensor's last band. */
    private static Data fp8(float[] w, int rows, int cols) {
        int sr = (rows + 127) / 128, sc = (cols + 127) / 128;
        byte[] q = new byte[rows * cols], scale = new byte[sr * sc];
        for (int br = 0; br < sr; br++) for (int bc = 0; bc < sc; bc++) {
            float amax = 1e-4f;
            for (int r = br * 128; r < Math.min(rows, br * 128 + 128); r++)
                for (int k = bc * 128; k < Math.min(cols, bc * 128 + 128); k++) amax = Math.max(amax, Math.abs(w[r * cols + k]));
            int e = Formats.ceilLog2(amax / 448f);
            scale[br * sc + bc] = Formats.e8m0Encode(e);
            for (int r = br * 128; r < Math.min(rows, br * 128 + 128); r++)
                for (int k = bc * 128; k < Math.min(cols, bc * 128 + 128); k++) q[r * cols + k] = Formats.e4m3Encode(Math.scalb(w[r * cols + k], -e));
        }
        return new Data(q, scale);
    }

    /** Packed E2M1 pairs (low nibble first) with one E8M0 scale per 32 elements of a row. */
    private static Data fp4(float[] w, int rows, int cols) {
        int blocks = cols / 32;
        byte[] q = new byte[rows * cols / 2], scale = new byte[rows * blocks];
        for (int r = 0; r < rows; r++) for (int b = 0; b < blocks; b++) {
            float amax = 6f * Float.MIN_NORMAL;
            for (int k = 0; k < 32; k++) amax = Math.max(amax, Math.abs(w[r * cols + b * 32 + k]));
            int e = Formats.ceilLog2(amax / 6f);
            scale[r * blocks + b] = Formats.e8m0Encode(e);
            float inv = Math.scalb(1f, -e);   // e >= -126, so 2^-e is a normal float and w · 2^-e equals scalb(w, -e)
            for (int k = 0; k < 32; k += 2) {
                int lo = e2m1Code(w[r * cols + b * 32 + k] * inv);
                int hi = e2m1Code(w[r * cols + b * 32 + k + 1] * inv);
                q[r * cols / 2 + b * 16 + k / 2] = (byte) (lo | hi << 4);
            }
        }
        return new Data(q, scale);
    }

    private static final int MID_025 = Float.floatToRawIntBits(0.25f), MID_075 = Float.floatToRawIntBits(0.75f),
            MID_125 = Float.floatToRawIntBits(1.25f), MID_175 = Float.floatToRawIntBits(1.75f), MID_25 = Float.floatToRawIntBits(2.5f),
            MID_35 = Float.floatToRawIntBits(3.5f), MID_5 = Float.floatToRawIntBits(5f);

    /**
     * {@link Formats#e2m1Encode} without branches, for finite inputs: FP4 experts are 94% of V4-Flash and 86% of
     * the flash-shape preset, and on random data every branch of the rounding mispredicts (measured 8.6 → 2.8 ns per value).
     * The magnitude's bits are compared with those of the grid's midpoints (bits of non-negative floats order as
     * ints); a tie goes to the even code, so it counts at 0.75, 1.75 and 3.5 and not at 0.25, 1.25, 2.5 and 5.
     * The sign bit is kept, so −0.1 gives negative zero, as e2m1Encode does. A test compares the two.
     */
    static int e2m1Code(float x) {
        int bits = Float.floatToRawIntBits(x), a = bits & 0x7FFFFFFF;
        int idx = ((MID_025 - a) >>> 31) + ((MID_125 - a) >>> 31) + ((MID_25 - a) >>> 31) + ((MID_5 - a) >>> 31)
                + 3 - ((a - MID_075) >>> 31) - ((a - MID_175) >>> 31) - ((a - MID_35) >>> 31);
        return (bits >>> 31) << 3 | idx;
    }

    private static byte[] bf16(float[] v, int n) {
        ByteBuffer b = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) b.putShort(Formats.floatToBf16(v[i]));
        return b.array();
    }

    private static byte[] f32(float[] v, int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) b.putFloat(v[i]);
        return b.array();
    }
}
