package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.Sandbox;

/** A text file's lines, numbered, optionally a range of them. */
final class ReadFileTool extends SandboxTool {

    static final int DEFAULT_LINES = 2000;
    static final int MAX_LINE_CHARS = 2000;

    ReadFileTool() {
        super("read_file", "Read a UTF-8 text file under /workspace. Lines are shown numbered as '<number>\\t<line>'"
                + " (the number and tab are not part of the file). At most " + DEFAULT_LINES + " lines per call;"
                + " use start_line and max_lines for other parts.", true);
        param("path", "string", true, "File path, relative to /workspace or absolute under /workspace.");
        param("start_line", "integer", false, "First line to show, 1-based (default 1).");
        param("max_lines", "integer", false, "Most lines to show (default " + DEFAULT_LINES + ").");
    }

    @Override
    ToolResult run(Sandbox sandbox, Args args) {
        String rel = args.path("path", null);
        int start = args.positive("start_line", 1);
        int max = args.positive("max_lines", DEFAULT_LINES);
        FileAccess.Read f = FileAccess.read(sandbox, rel);
        if (f.error() != null) return ToolResult.error(f.error());
        String[] lines = f.text().isEmpty() ? new String[0] : f.text().split("\n", -1);
        int total = lines.length;
        if (total > 0 && lines[total - 1].isEmpty()) total--; // a final newline ends the last line, it starts none
        ObjectNode d = details();
        d.put("path", FileAccess.shown(rel));
        d.put("bytes", f.bytes());
        d.put("total_lines", total);
        if (total == 0) return ToolResult.ok("(" + FileAccess.shown(rel) + " is empty)", d);
        if (start > total)
            return ToolResult.error("start_line " + start + " is past the end of " + FileAccess.shown(rel)
                    + " (" + total + " lines)", d);
        int end = (int) Math.min(total, (long) start - 1 + max);
        StringBuilder sb = new StringBuilder();
        for (int i = start; i <= end; i++) {
            String line = lines[i - 1];
            if (line.length() > MAX_LINE_CHARS) line = line.substring(0, MAX_LINE_CHARS) + " [… line cut]";
            sb.append(i).append('\t').append(line).append('\n');
        }
        if (end < total || start > 1)
            sb.append("(lines ").append(start).append('–').append(end).append(" of ").append(total).append(")\n");
        d.put("start_line", start);
        d.put("end_line", end);
        return ToolResult.ok(sb.toString(), d);
    }
}
