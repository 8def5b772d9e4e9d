package dev.ds4j.sandbox;

import java.nio.file.Path;
import java.util.List;

/**
 * One isolated place to run tool calls. Lifecycle: a {@link Substrate} creates it, {@link #exec} runs
 * commands in it any number of times (the workspace keeps its files between calls, nothing else does), and
 * {@link #close} ends it: every process it started is killed and everything the substrate set up for it is
 * removed. {@code close} is idempotent and may be called from another thread while an exec is running; that
 * exec then returns with {@link ExecResult.Outcome#CLOSED}.
 */
public interface Sandbox extends AutoCloseable {

    /** Unique within this JVM; also names the sandbox's cgroups and state directory. */
    String id();

    /** Name of the substrate that made this sandbox ("process", "function", …). */
    String substrate();

    /** Host path of the workspace (seen as {@code /workspace} inside a process sandbox). */
    Path workspace();

    SandboxSpec spec();

    /**
     * Runs one command to completion (or until a limit ends it) and returns its result. Limits that end a
     * command are results, not exceptions; a {@link SandboxException} means the sandbox itself failed
     * (it could not be set up, or it is closed).
     */
    default ExecResult exec(List<String> command) {
        return exec(command, null);
    }

    /** As {@link #exec(List)}, with bytes given to the command's standard input (null: empty input). */
    ExecResult exec(List<String> command, byte[] stdin);

    /** {@code /bin/sh -c script}; for the function substrate the script is split on whitespace. */
    default ExecResult shell(String script) {
        return exec(List.of("/bin/sh", "-c", script), null);
    }

    boolean isClosed();

    /**
     * Stops every process of the sandbox where it stands, without killing it (for preemption: the caller's
     * job is paused, the sandbox keeps its state). The running exec's timeouts stop counting while paused; an
     * exec started while paused waits for {@link #resume}. Substrates that cannot pause say so.
     */
    default void pause() {
        throw new UnsupportedOperationException(substrate() + " sandboxes cannot be paused");
    }

    /** Lets a paused sandbox run on; no-op when it is not paused. */
    default void resume() {
        throw new UnsupportedOperationException(substrate() + " sandboxes cannot be paused");
    }

    /**
     * Packs what this sandbox changed in its image (everything outside /workspace: files added, modified and
     * deleted, deletions as overlay whiteouts) into a new read-only layer file, DSec's {@code pack_diff}. A new
     * sandbox on {@code spec().image().with(layer)} starts from this sandbox's state. Waits for a running
     * exec to end. Substrates without layered images say so.
     */
    default Path snapshot(Path layer) {
        throw new UnsupportedOperationException(substrate() + " sandboxes have no image to snapshot");
    }

    /** Kills everything still running and removes what was set up. Idempotent. */
    @Override
    void close();
}
