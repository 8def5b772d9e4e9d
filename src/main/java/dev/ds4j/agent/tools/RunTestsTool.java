package dev.ds4j.agent.tools;

import dev.ds4j.sandbox.Sandbox;
import java.util.List;

/**
 * Runs the project's test command in /workspace. The command is configured when the registry is built (the
 * task's test command); the model may give another one, which is needed when none is configured.
 */
final class RunTestsTool extends SandboxTool {

    private final String configured;

    RunTestsTool(String configured) {
        super("run_tests", configured == null
                ? "Run the project's tests in /workspace with the given command; returns exit code and output."
                : "Run the project's tests in /workspace (default command: " + configured + "); returns exit code and output.",
                false);
        this.configured = configured == null || configured.isBlank() ? null : configured;
        param("command", "string", this.configured == null,
                this.configured == null ? "The test command, run by sh -c in /workspace."
                        : "Optional: another test command instead of the default (" + this.configured + ").");
    }

    @Override
    ToolResult run(Sandbox sandbox, Args args) {
        String cmd = args.string("command", configured);
        if (cmd.isBlank()) throw new ToolArgumentException("field 'command' is empty");
        ToolResult r = ShellTool.describe(sandbox.exec(List.of("/bin/sh", "-c", cmd), null));
        r.details().put("command", cmd);
        String verdict = r.ok() ? "tests passed" : "tests failed";
        return new ToolResult(r.ok(), verdict + " (" + cmd + ")\n" + r.text(), r.details());
    }
}
