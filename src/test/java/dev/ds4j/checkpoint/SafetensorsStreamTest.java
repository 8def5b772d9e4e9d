package dev.ds4j.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsStreamTest {
    @TempDir
    Path dir;

    static SafetensorsWriter.Entry entry(String name, long n) { return new SafetensorsWriter.Entry(name, DType.U8, new long[]{n}, null); }

    static List<SafetensorsStream.File> twoFiles() {
        return List.of(new SafetensorsStream.File("a.safetensors", List.of(entry("x", 3), entry("y", 5))),
                new SafetensorsStream.File("b.safetensors", List.of(entry("z", 4))));
    }

    static List<String> names(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) { return s.map(p -> p.getFileName().toString()).sorted().toList(); }
    }

    @Test
    void oneWriteMaySpanTensorsAndFilesAndHolesReadAsZeros() throws Exception {
        long[] progress = {0};
        try (SafetensorsStream s = SafetensorsStream.create(dir, twoFiles(), Map.of("format", "pt"), n -> progress[0] += n)) {
            s.write(new byte[]{1, 2, 3, 4, 5, 6});
            s.skip(2);                                    // end of y: a hole
            s.write(ByteBuffer.wrap(new byte[]{9, 9, 10, 11, 12}).position(1));
            assertThat(names(dir)).containsExactly("a.safetensors.tmp", "b.safetensors.tmp");
            s.finish();
        }
        assertThat(progress[0]).isEqualTo(12);
        assertThat(names(dir)).containsExactly("a.safetensors", "b.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            var a = SafetensorsFile.open(dir.resolve("a.safetensors"), arena).tensors();
            var b = SafetensorsFile.open(dir.resolve("b.safetensors"), arena).tensors();
            assertThat(a.get("x").data().toArray(ValueLayout.JAVA_BYTE)).containsExactly(1, 2, 3);
            assertThat(a.get("y").data().toArray(ValueLayout.JAVA_BYTE)).containsExactly(4, 5, 6, 0, 0);
            assertThat(b.get("z").data().toArray(ValueLayout.JAVA_BYTE)).containsExactly(9, 10, 11, 12);
        }
    }

    @Test
    void closingUnfinishedDeletesEverythingItCreated() throws Exception {
        try (SafetensorsStream s = SafetensorsStream.create(dir, twoFiles(), null, null)) {
            s.write(new byte[9]);
            assertThatThrownBy(s::finish).hasMessageContaining("b.safetensors: 3 data bytes were never written");
        }
        assertThat(names(dir)).isEmpty();
    }

    @Test
    void moreDataThanTheHeadersDeclareIsAnError() throws Exception {
        try (SafetensorsStream s = SafetensorsStream.create(dir, twoFiles(), null, null)) {
            assertThatThrownBy(() -> s.write(new byte[13])).hasMessageContaining("1 bytes more than the headers declare (last file b.safetensors)");
        }
        assertThat(names(dir)).isEmpty();
    }
}
