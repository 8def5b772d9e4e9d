package dev.ds4j.agent;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Parses a log file. Only the last line may be damaged, since a crash can interrupt only the append in progress
 * (every earlier append was fsync'd before the next began); damage anywhere else means the file was changed by
 * something other than this log, and is an error naming the line.
 */
final class TrajectoryReader {

    /**
     * @param validLength    bytes of the file that hold complete records
     * @param missingNewline the last record is complete but its newline was not written
     */
    record Result(Trajectory trajectory, long validLength, boolean missingNewline) {}

    private TrajectoryReader() {}

    static Result read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TrajectoryCorruptException(file + ": no trajectory log (is this a run directory?)", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the trajectory log", e);
        }
        Trajectory t = new Trajectory();
        int lineNo = 0;
        int at = 0;
        while (at < bytes.length) {
            lineNo++;
            int nl = indexOf(bytes, (byte) '\n', at);
            boolean terminated = nl >= 0;
            int end = terminated ? nl : bytes.length;
            boolean last = !terminated || nl == bytes.length - 1;
            String line = new String(bytes, at, end - at, StandardCharsets.UTF_8);
            TrajectoryRecord rec;
            try {
                rec = TrajectoryCodec.decode(line, t.size());
            } catch (TrajectoryCodec.BadLine bad) {
                if (!last) {
                    throw new TrajectoryCorruptException(file + ": line " + lineNo + ": " + bad.getMessage()
                            + " (not the last line, so not a crash during a write; the log cannot be trusted)");
                }
                t.droppedTail("line " + lineNo + " (" + (bytes.length - at) + " bytes"
                        + (terminated ? "" : ", no newline") + ") dropped: " + bad.getMessage());
                return new Result(t, at, false);
            }
            String problem = t.problem(rec);
            if (problem != null) {
                throw new TrajectoryCorruptException(file + ": line " + lineNo + ": " + problem);
            }
            t.add(rec);
            if (!terminated) return new Result(t, bytes.length, true);
            at = nl + 1;
        }
        return new Result(t, bytes.length, false);
    }

    private static int indexOf(byte[] b, byte v, int from) {
        for (int i = from; i < b.length; i++) if (b[i] == v) return i;
        return -1;
    }
}
