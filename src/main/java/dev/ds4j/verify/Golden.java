package dev.ds4j.verify;

import dev.ds4j.checkpoint.CheckpointException;
import dev.ds4j.checkpoint.DType;
import dev.ds4j.checkpoint.SafetensorsFile;
import dev.ds4j.checkpoint.TensorInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** A reference file (expected.safetensors): input ids, logits, hidden states and indexer picks. */
public record Golden(int[] inputIds, float[][] logits, Map<Integer, float[]> hiddenStates, Map<Integer, long[][]> picks) {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static Golden read(Path file) {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(file, arena);
            Map<String, TensorInfo> t = f.tensors();
            TensorInfo ids = require(t, file, "input_ids", DType.I64);
            int n = (int) ids.elements();
            int[] inputIds = new int[n];
            for (int i = 0; i < n; i++) inputIds[i] = Math.toIntExact(ids.data().get(I64, 8L * i));
            TensorInfo lg = require(t, file, "logits", DType.F32);
            if (lg.rank() != 2 || lg.dim(0) != n)
                throw new CheckpointException(file.getFileName() + ": tensor 'logits' has shape " + lg.shapeString() + ", expected [" + n + ", vocab]");
            int vocab = (int) lg.dim(1);
            float[][] logits = new float[n][vocab];
            for (int r = 0; r < n; r++) for (int c = 0; c < vocab; c++) logits[r][c] = lg.data().get(F32, 4L * ((long) r * vocab + c));
            Map<Integer, float[]> hidden = new TreeMap<>();
            Map<Integer, long[][]> picks = new TreeMap<>();
            for (TensorInfo ti : t.values()) {
                if (ti.name().startsWith("hidden_states.") && ti.dtype() == DType.F32) {
                    float[] v = new float[(int) ti.elements()];
                    for (int i = 0; i < v.length; i++) v[i] = ti.data().get(F32, 4L * i);
                    hidden.put(Integer.parseInt(ti.name().substring("hidden_states.".length())), v);
                } else if (ti.name().startsWith("index_topk_picks.") && ti.dtype() == DType.I64 && ti.rank() == 2) {
                    int rows = (int) ti.dim(0), k = (int) ti.dim(1);
                    long[][] p = new long[rows][k];
                    for (int r = 0; r < rows; r++) for (int c = 0; c < k; c++) p[r][c] = ti.data().get(I64, 8L * ((long) r * k + c));
                    picks.put(Integer.parseInt(ti.name().substring("index_topk_picks.".length())), p);
                }
            }
            return new Golden(inputIds, logits, hidden, picks);
        }
    }

    private static TensorInfo require(Map<String, TensorInfo> t, Path file, String name, DType dtype) {
        TensorInfo ti = t.get(name);
        if (ti == null) throw new CheckpointException(file.getFileName() + ": tensor '" + name + "' is missing (not a reference file?)");
        if (ti.dtype() != dtype) throw new CheckpointException(file.getFileName() + ": tensor '" + name + "' is " + ti.dtype() + ", expected " + dtype);
        return ti;
    }
}
