package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.Sandbox;

/**
 * Replaces one exact, unique occurrence of old_string. Not idempotent: after the first call the old text is
 * gone, so a re-run fails (or, if new_string contains old_string, edits again).
 */
final class EditFileTool extends SandboxTool {

    EditFileTool() {
        super("edit_file", "Replace exactly one occurrence of old_string with new_string in a text file under"
                + " /workspace. old_string must match the file's text exactly (whitespace included, without the line"
                + " numbers read_file shows) and occur exactly once; include surrounding lines to make it unique.", false);
        param("path", "string", true, "File path, relative to /workspace or absolute under /workspace.");
        param("old_string", "string", true, "The exact text to replace; must occur exactly once.");
        param("new_string", "string", true, "The replacement text.");
        allowNul("old_string");
        allowNul("new_string");
    }

    @Override
    ToolResult run(Sandbox sandbox, Args args) {
        String rel = args.path("path", null);
        String oldS = args.string("old_string"), newS = args.string("new_string");
        if (oldS.isEmpty()) throw new ToolArgumentException("field 'old_string' is empty");
        if (oldS.equals(newS)) throw new ToolArgumentException("fields 'old_string' and 'new_string' are the same");
        FileAccess.Read f = FileAccess.read(sandbox, rel);
        if (f.error() != null) return ToolResult.error(f.error());
        String text = f.text();
        int first = text.indexOf(oldS), count = 0;
        for (int i = first; i >= 0; i = text.indexOf(oldS, i + 1)) count++; // overlapping matches count too
        String where = FileAccess.shown(rel);
        ObjectNode d = details();
        d.put("path", where);
        d.put("matches", count);
        if (count == 0) return ToolResult.error("old_string not found in " + where + " (0 matches); read the file"
                + " and copy the text exactly", d);
        if (count > 1) return ToolResult.error("old_string occurs " + count + " times in " + where
                + "; it must occur exactly once: include more surrounding text", d);
        String updated = text.substring(0, first) + newS + text.substring(first + oldS.length());
        String err = FileAccess.write(sandbox, rel, updated);
        if (err != null) return ToolResult.error(err, d);
        int line = (int) text.substring(0, first).chars().filter(c -> c == '\n').count() + 1;
        d.put("line", line);
        return ToolResult.ok("edited " + where + " at line " + line, d);
    }
}
