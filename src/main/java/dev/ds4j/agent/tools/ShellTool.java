package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.ExecResult;
import dev.ds4j.sandbox.Sandbox;

/** {@code sh -c command} in /workspace. Each call is a fresh process tree: only files in /workspace persist. */
final class ShellTool extends SandboxTool {

    /** Characters of each stream shown to the model (head and tail kept); the details hold the full counts. */
    static final int SHOWN_CHARS = 16_000;

    ShellTool() {
        super("shell", "Run a shell command with sh -c in /workspace. Each call starts a fresh process: only files"
                + " under /workspace persist between calls (no background processes, no cd or variables carried over)."
                + " Returns the exit code, stdout and stderr (long output keeps its beginning and end).", false);
        param("command", "string", true, "The command line, run by sh -c with /workspace as working directory.");
    }

    @Override
    ToolResult run(Sandbox sandbox, Args args) {
        String command = args.string("command");
        if (command.isBlank()) throw new ToolArgumentException("field 'command' is empty");
        return describe(sandbox.exec(java.util.List.of("/bin/sh", "-c", command), null));
    }

    /** The model's view of an exec: exit code / how it ended, then each non-empty stream. Shared with run_tests. */
    static ToolResult describe(ExecResult r) {
        StringBuilder sb = new StringBuilder();
        switch (r.outcome()) {
            case EXITED -> sb.append("exit code: ").append(r.exitCode());
            case TIMED_OUT -> sb.append("timed out (killed): ").append(r.detail());
            case IDLE_TIMED_OUT -> sb.append("killed after producing no output: ").append(r.detail());
            case CLOSED -> sb.append("killed: the sandbox was closed");
        }
        if (r.killedByMemoryLimit()) sb.append(" (killed by the memory limit)");
        if (r.pidsLimitHits() > 0) sb.append(" (").append(r.pidsLimitHits()).append(" forks refused by the process limit)");
        stream(sb, "stdout", r.stdout(), r.stdoutTruncated(), r.stdoutBytes());
        stream(sb, "stderr", r.stderr(), r.stderrTruncated(), r.stderrBytes());
        ObjectNode d = details();
        d.put("exit_code", r.exitCode());
        d.put("outcome", r.outcome().name());
        d.put("stdout_bytes", r.stdoutBytes());
        d.put("stderr_bytes", r.stderrBytes());
        d.put("truncated", r.stdoutTruncated() || r.stderrTruncated()
                || r.stdout().length() > SHOWN_CHARS || r.stderr().length() > SHOWN_CHARS);
        d.put("duration_ms", r.duration().toMillis());
        d.put("oom_kills", r.oomKills());
        d.put("pids_limit_hits", r.pidsLimitHits());
        return new ToolResult(r.ok(), sb.toString(), d);
    }

    private static void stream(StringBuilder sb, String name, String text, boolean truncated, long bytes) {
        if (text.isEmpty()) return;
        sb.append("\n[").append(name);
        if (truncated || text.length() > SHOWN_CHARS) sb.append(", ").append(bytes).append(" bytes, middle omitted");
        sb.append("]\n").append(cap(text, SHOWN_CHARS));
    }
}
