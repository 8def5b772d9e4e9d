package dev.ds4j.agent;

/**
 * A model client could not get a completion: the endpoint was unreachable, answered with an HTTP error, or
 * answered something that is not a chat completion. The message names the URL and, where there was one, the
 * status and the server's own error text. {@link AgentLoop} ends the run on it with a {@code model_error} run_end.
 */
public final class ModelClientException extends RuntimeException {
    private final String url;
    private final int status;
    private final int attempts;

    public ModelClientException(String message, String url, int status, int attempts, Throwable cause) {
        super(message, cause);
        this.url = url;
        this.status = status;
        this.attempts = attempts;
    }

    /** The URL the failing request went to. */
    public String url() { return url; }

    /** The HTTP status of the last answer, or 0 when no answer came (connection failed, timed out). */
    public int status() { return status; }

    /** How many times the request was sent before giving up (1 when it was not retried). */
    public int attempts() { return attempts; }
}
