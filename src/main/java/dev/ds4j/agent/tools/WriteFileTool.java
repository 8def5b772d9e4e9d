package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.Sandbox;

/** Writes a whole file (UTF-8), creating parent directories. Idempotent: the same call leaves the same file. */
final class WriteFileTool extends SandboxTool {

    WriteFileTool() {
        super("write_file", "Create or overwrite a text file under /workspace with the given content (UTF-8)."
                + " Parent directories are created.", true);
        param("path", "string", true, "File path, relative to /workspace or absolute under /workspace.");
        param("content", "string", true, "The file's complete new content.");
        allowNul("content");
    }

    @Override
    ToolResult run(Sandbox sandbox, Args args) {
        String rel = args.path("path", null);
        String content = args.string("content");
        String err = FileAccess.write(sandbox, rel, content);
        if (err != null) return ToolResult.error(err);
        int bytes = utf8(content).length;
        ObjectNode d = details();
        d.put("path", FileAccess.shown(rel));
        d.put("bytes", bytes);
        return ToolResult.ok("wrote " + bytes + " bytes to " + FileAccess.shown(rel), d);
    }
}
