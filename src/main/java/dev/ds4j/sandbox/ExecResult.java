package dev.ds4j.sandbox;

import java.time.Duration;

/**
 * What one exec did. Output is capped (see {@link CappedOutput}): when a stream was longer than the cap,
 * its text keeps the beginning and the end and {@code …Truncated} is set; {@code …Bytes} is the full count.
 *
 * @param exitCode      the command's exit status; 128+n when it died of signal n (137: SIGKILL), as a shell reports it
 * @param outcome       why it ended
 * @param oomKills      processes of this sandbox killed by its memory limit during this exec
 * @param pidsLimitHits forks refused by the pids limit during this exec
 * @param detail        a human-readable line on how it ended (the reason when something was killed)
 */
public record ExecResult(int exitCode, String stdout, String stderr, boolean stdoutTruncated,
                         boolean stderrTruncated, long stdoutBytes, long stderrBytes, Outcome outcome,
                         long oomKills, long pidsLimitHits, Duration duration, String detail) {

    public enum Outcome {
        /** The command ended by itself (possibly because the OOM killer killed it: see {@code oomKills}). */
        EXITED,
        /** Killed at the wall-clock timeout. */
        TIMED_OUT,
        /** Killed after writing nothing for the idle timeout. */
        IDLE_TIMED_OUT,
        /** Killed because the sandbox was closed while it ran. */
        CLOSED
    }

    public boolean ok() {
        return outcome == Outcome.EXITED && exitCode == 0;
    }

    /** True when the memory limit killed the command's main process (exit by SIGKILL and an OOM kill seen). */
    public boolean killedByMemoryLimit() {
        return outcome == Outcome.EXITED && exitCode == 137 && oomKills > 0;
    }
}
