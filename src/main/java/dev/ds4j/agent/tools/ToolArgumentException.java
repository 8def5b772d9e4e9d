package dev.ds4j.agent.tools;

/** A tool call's arguments are wrong; the message names the field. Caught by {@link SandboxTool#call}. */
final class ToolArgumentException extends RuntimeException {
    ToolArgumentException(String message) {
        super(message);
    }
}
