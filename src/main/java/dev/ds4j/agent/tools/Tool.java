package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.Sandbox;

/**
 * A tool the model can call, executed in a {@link Sandbox}. {@link #call} never throws for bad arguments or a
 * failing command: those are {@link ToolResult#error} results the model reads. Only the sandbox itself failing
 * ({@link dev.ds4j.sandbox.SandboxException}: closed, cannot be set up) escapes, since the model cannot fix that.
 */
public interface Tool {

    String name();

    String description();

    /** JSON Schema of the arguments object (type object, properties, required, additionalProperties false). */
    ObjectNode parameters();

    /**
     * True when running the call twice leaves the same state and result as running it once, so a replay may
     * re-run a call that started but logged no result.
     */
    boolean idempotent();

    ToolResult call(Sandbox sandbox, JsonNode args);
}
