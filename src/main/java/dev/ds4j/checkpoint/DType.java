package dev.ds4j.checkpoint;

/** Safetensors dtypes that DeepSeek-V4 checkpoints use. I8 holds packed FP4 (two E2M1 codes per byte). */
public enum DType {
    F32(4), BF16(2), F16(2), F8_E4M3(1), F8_E8M0(1), I8(1), U8(1), I32(4), I64(8);

    public final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /** Parses a safetensors dtype string; null when unknown so the caller can name the tensor in its error. */
    public static DType parse(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        return null;
    }
}
