package dev.ds4j.kv;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** Float arrays to and from a snapshot stream (big-endian, as DataOutput writes them), with length checks. */
final class KvIo {
    private KvIo() {}

    static void floats(DataOutputStream out, float[] a, int n) throws IOException {
        out.writeInt(n);
        for (int i = 0; i < n; i++) out.writeFloat(a[i]);
    }

    /** Reads floats written by {@link #floats}; {@code expected} < 0 accepts any length up to {@code max}. */
    static float[] floats(DataInputStream in, int expected, long max, String what) throws IOException {
        int n = in.readInt();
        if (n < 0 || (expected >= 0 && n != expected) || n > max)
            throw new IOException(what + ": snapshot holds " + n + " floats, expected " + (expected >= 0 ? expected : "at most " + max));
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = in.readFloat();
        return a;
    }

    static void into(DataInputStream in, float[] dst, String what) throws IOException {
        float[] a = floats(in, dst.length, dst.length, what);
        System.arraycopy(a, 0, dst, 0, a.length);
    }
}
