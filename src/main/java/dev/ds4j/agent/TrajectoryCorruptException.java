package dev.ds4j.agent;

/** A trajectory log that cannot be trusted: damage before its last line, which a crash cannot explain. */
public final class TrajectoryCorruptException extends RuntimeException {
    public TrajectoryCorruptException(String message) { super(message); }
    public TrajectoryCorruptException(String message, Throwable cause) { super(message, cause); }
}
