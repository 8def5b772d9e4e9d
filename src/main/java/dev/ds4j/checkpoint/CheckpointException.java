package dev.ds4j.checkpoint;

/** A checkpoint that cannot be used as it is. The message always names the file and, where known, the tensor. */
public class CheckpointException extends RuntimeException {
    public CheckpointException(String message) { super(message); }
    public CheckpointException(String message, Throwable cause) { super(message, cause); }
}
