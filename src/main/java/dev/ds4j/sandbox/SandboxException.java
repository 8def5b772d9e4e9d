package dev.ds4j.sandbox;

/** The sandbox itself failed (setup, a closed sandbox, a substrate that cannot run here). */
public class SandboxException extends RuntimeException {
    public SandboxException(String message) {
        super(message);
    }

    public SandboxException(String message, Throwable cause) {
        super(message, cause);
    }
}
