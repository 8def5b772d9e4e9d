package dev.ds4j.agent;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The append-only log of one agent run: {@code RUN_DIR/trajectory.jsonl}, one checksummed JSON record per line.
 * {@link #append} returns only after the line is on disk, so a record the caller saw appended survives a crash,
 * and a tool logged as started is never run before its marker is durable.
 */
public final class TrajectoryLog implements Closeable {
    public static final String FILE_NAME = "trajectory.jsonl";

    private final Path file;
    private final FileChannel channel;
    private final Trajectory state;
    private final String recovery;
    private IOException failed;

    /** The run's lock (see {@link #lock}); held until {@link #close}. */
    private FileChannel lock;

    private TrajectoryLog(Path file, FileChannel channel, Trajectory state, String recovery) {
        this.file = file;
        this.channel = channel;
        this.state = state;
        this.recovery = recovery;
    }

    /** Starts a new run's log; the directory is created if needed and must not already hold a log. */
    public static TrajectoryLog create(Path runDir, TrajectoryRecord.RunStart start) {
        Path file = runDir.resolve(FILE_NAME);
        FileChannel lock = null;
        try {
            Files.createDirectories(runDir);
            lock = lock(runDir);
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            // The file's directory entry must be durable too, or a crash could lose the whole log.
            syncDirectory(runDir);
            TrajectoryLog log = new TrajectoryLog(file, ch, new Trajectory(), null);
            log.lock = lock;
            log.append(start);
            return log;
        } catch (FileAlreadyExistsException e) {
            closeQuietly(lock);
            throw new IllegalStateException(file + ": a trajectory log already exists; resume the run with open()", e);
        } catch (IOException e) {
            closeQuietly(lock);
            throw new UncheckedIOException(file + ": cannot create the trajectory log", e);
        }
    }

    /**
     * Opens an existing run's log for resumption. A torn last line (a crash during its write) is cut off the file
     * and reported by {@link #recovery()}; damage before the last line throws {@link TrajectoryCorruptException}.
     */
    public static TrajectoryLog open(Path runDir) {
        Path file = runDir.resolve(FILE_NAME);
        // Locked before it is read: a line another process is still writing would otherwise look torn and be cut off.
        FileChannel lock = lock(runDir);
        TrajectoryReader.Result r;
        try {
            r = TrajectoryReader.read(file);
        } catch (RuntimeException e) {
            closeQuietly(lock);
            throw e;
        }
        try {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE);
            String recovery = r.trajectory().droppedTail().orElse(null);
            if (ch.size() != r.validLength()) {
                ch.truncate(r.validLength());
                ch.force(true);
            }
            if (r.missingNewline()) {
                // The record was written in full, only its newline is missing: keep it, since the tool it
                // reports on may have run, and end the line so the next append starts a line of its own.
                writeFully(ch, ByteBuffer.wrap(new byte[] {'\n'}), r.validLength());
                ch.force(false);
                recovery = "the last line had no newline (the record is complete and kept)";
            }
            TrajectoryLog log = new TrajectoryLog(file, ch, r.trajectory(), recovery);
            log.lock = lock;
            return log;
        } catch (IOException e) {
            closeQuietly(lock);
            throw new UncheckedIOException(file + ": cannot open the trajectory log for appending", e);
        }
    }

    /** The lock file beside the log. */
    public static final String LOCK_NAME = "trajectory.lock";

    /**
     * Takes the run's exclusive lock. Two processes appending to one run would interleave records and could run a
     * tool twice; with the lock the second one fails instead. It is an fcntl lock, which the kernel drops when its
     * holder dies, so a kill -9 never leaves a run locked. It lives on a file of its own because closing any
     * descriptor of a file drops the process's fcntl locks on it, and the log itself is read by others.
     */
    private static FileChannel lock(Path runDir) {
        Path f = runDir.resolve(LOCK_NAME);
        FileChannel ch;
        try {
            ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException(f + ": cannot open the run's lock file", e);
        }
        java.nio.channels.FileLock l;
        try {
            l = ch.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            l = null; // held in this JVM
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException(f + ": cannot lock the run", e);
        }
        if (l == null) {
            closeQuietly(ch);
            throw new IllegalStateException(runDir + ": the run is in use by another process (" + LOCK_NAME
                    + " is locked); wait for it to end or stop it, then resume");
        }
        return ch;
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException ignored) {
            // the lock or read failure is the error worth reporting
        }
    }

    public Path file() { return file; }

    /** What {@link #open} had to repair at the end of the file, if anything. */
    public Optional<String> recovery() { return Optional.ofNullable(recovery); }

    /** The run as logged so far, including this session's appends. Not a copy: read it from the appending thread. */
    public Trajectory trajectory() { return state; }

    /**
     * Writes the record and forces it to disk before returning its sequence number. A record that does not fit
     * the log (a result for a call that never started, a second run start ...) is refused before anything is
     * written. After a failed write the log refuses further appends, since a partly written line followed by
     * more records would look like corruption on the next open.
     */
    public synchronized long append(TrajectoryRecord record) {
        if (failed != null) throw new IllegalStateException(file + ": an earlier append failed; reopen the log", failed);
        String problem = state.problem(record);
        if (problem != null) throw new IllegalArgumentException(file + ": cannot append " + record.kind() + ": " + problem);
        long seq = state.size();
        byte[] line = TrajectoryCodec.encode(seq, record);
        try {
            writeFully(channel, ByteBuffer.wrap(line), channel.size());
            // force(false) is fdatasync: it also flushes the file size, which reading the new line needs.
            channel.force(false);
        } catch (IOException e) {
            failed = e;
            throw new UncheckedIOException(file + ": cannot append " + record.kind() + " record " + seq, e);
        }
        state.add(record);
        return seq;
    }

    @Override
    public synchronized void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot close the trajectory log", e);
        } finally {
            closeQuietly(lock); // releases the run
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) pos += ch.write(buf, pos);
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
