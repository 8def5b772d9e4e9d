package dev.ds4j.checkpoint;

import dev.ds4j.TestData;
import dev.ds4j.model.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A broken checkpoint fails at load with a message naming the file and tensor, never deep inside a kernel. */
class CheckpointErrorsTest {
    @TempDir
    Path dir;

    /** Copies tiny-a with its tensors passed through {@code edit}. */
    private Path copyWith(UnaryOperator<List<SafetensorsWriter.Entry>> edit) throws IOException {
        Path src = TestData.golden("tiny-a");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"), arena);
            for (TensorInfo t : f.tensors().values())
                entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape(), t.data().toArray(ValueLayout.JAVA_BYTE)));
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), edit.apply(entries), null);
        return dir;
    }

    @Test
    void unmodifiedCopyLoads() throws IOException {
        try (Model m = Model.load(copyWith(e -> e))) {
            org.assertj.core.api.Assertions.assertThat(m.layers()).isEqualTo(4);
            org.assertj.core.api.Assertions.assertThat(m.hasMtp()).isFalse();   // config declares MTP, no mtp.* tensors
        }
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path p = copyWith(e -> { e.removeIf(t -> t.name().equals("layers.2.attn.wq_a.weight")); return e; });
        assertThatThrownBy(() -> Model.load(p)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("'layers.2.attn.wq_a.weight'").hasMessageContaining("missing");
    }

    @Test
    void wrongShapeIsNamedWithBothShapes() throws IOException {
        Path p = copyWith(e -> {
            e.replaceAll(t -> t.name().equals("layers.1.attn.wkv.weight")
                    ? new SafetensorsWriter.Entry(t.name(), t.dtype(), new long[]{64, 32}, t.data()) : t);
            return e;
        });
        assertThatThrownBy(() -> Model.load(p)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors: tensor 'layers.1.attn.wkv.weight'")
                .hasMessageContaining("[64, 32]").hasMessageContaining("expected [32, 64]");
    }

    @Test
    void wrongDtypeIsNamed() throws IOException {
        Path p = copyWith(e -> {
            e.replaceAll(t -> t.name().equals("layers.0.attn_norm.weight")
                    ? new SafetensorsWriter.Entry(t.name(), DType.I32, t.shape(), t.data()) : t);
            return e;
        });
        assertThatThrownBy(() -> Model.load(p)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("'layers.0.attn_norm.weight'").hasMessageContaining("I32");
    }

    @Test
    void truncatedFileIsReported() throws IOException {
        Path p = copyWith(e -> e);
        try (RandomAccessFile f = new RandomAccessFile(p.resolve("model.safetensors").toFile(), "rw")) {
            f.setLength(f.length() - 1000);
        }
        assertThatThrownBy(() -> Model.load(p)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors: tensor '").hasMessageContaining("truncated");
    }

    @Test
    void oversizedHeaderLengthIsReported() throws IOException {
        Path p = copyWith(e -> e);
        patchHeaderLength(p.resolve("model.safetensors"), 1L << 40);
        assertThatThrownBy(() -> Model.load(p)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors: header length").hasMessageContaining("not plausible");
        patchHeaderLength(p.resolve("model.safetensors"), Files.size(p.resolve("model.safetensors")));
        assertThatThrownBy(() -> Model.load(p)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("runs past the end");
    }

    @Test
    void malformedHeaderJsonIsReported() throws IOException {
        Path p = copyWith(e -> e);
        Path f = p.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        all[8] = '[';   // header now starts with '[' instead of '{'
        all[9] = 'x';
        Files.write(f, all);
        assertThatThrownBy(() -> Model.load(p)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors: header is not valid JSON");
    }

    @Test
    void lyingDataOffsetsAreReported() throws IOException {
        Path f = dir.resolve("bad.safetensors");
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}";
        writeRaw(f, header, new byte[16]);
        assertThatThrownBy(() -> SafetensorsFile.open(f, Arena.ofAuto())).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tensor 'w'").hasMessageContaining("needs 16");
        writeRaw(f, "{\"w\":{\"dtype\":\"Q7\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[16]);
        assertThatThrownBy(() -> SafetensorsFile.open(f, Arena.ofAuto())).hasMessageContaining("unsupported dtype 'Q7'");
        writeRaw(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", new byte[16]);
        assertThatThrownBy(() -> SafetensorsFile.open(f, Arena.ofAuto())).hasMessageContaining("not a non-negative integer");
        writeRaw(f, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", new byte[16]);
        assertThatThrownBy(() -> SafetensorsFile.open(f, Arena.ofAuto())).hasMessageContaining("overlap");
    }

    @Test
    void missingConfigAndBadConfigValuesAreReported() throws IOException {
        Path p = copyWith(e -> e);
        String cfg = Files.readString(p.resolve("config.json"));
        Files.writeString(p.resolve("config.json"), cfg.replace("\"o_groups\": 2", "\"o_groups\": 3"));
        assertThatThrownBy(() -> Model.load(p)).hasMessageContaining("config.json: 'o_groups'");
        Files.writeString(p.resolve("config.json"), cfg.replace("\"compress_ratios\"", "\"compress_ratioz\""));
        assertThatThrownBy(() -> Model.load(p)).hasMessageContaining("compress_ratios").hasMessageContaining("missing");
        Files.delete(p.resolve("config.json"));
        assertThatThrownBy(() -> Model.load(p)).hasMessageContaining("config.json: missing");
    }

    @Test
    void shardIndexProblemsAreReported() throws IOException {
        Path p = copyWith(e -> e);
        Files.move(p.resolve("model.safetensors"), p.resolve("model-00001-of-00001.safetensors"));
        Files.writeString(p.resolve(Checkpoint.INDEX), "{\"weight_map\":{\"embed.weight\":\"model-00002-of-00002.safetensors\"}}");
        assertThatThrownBy(() -> Model.load(p)).hasMessageContaining("shard 'model-00002-of-00002.safetensors' is listed but missing");
        Files.writeString(p.resolve(Checkpoint.INDEX), "{\"weight_map\":{\"embed.weight\":\"../etc/passwd\"}}");
        assertThatThrownBy(() -> Model.load(p)).hasMessageContaining("invalid shard name");
    }

    private static void patchHeaderLength(Path f, long len) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(0);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(len).array());
        }
    }

    private static void writeRaw(Path f, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(f, b.array());
    }
}
