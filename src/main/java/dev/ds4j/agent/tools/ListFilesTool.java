package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.ExecResult;
import dev.ds4j.sandbox.Sandbox;
import java.util.ArrayList;
import java.util.List;

/** Files and directories under a path (find), sorted, directories marked with "/", files with their size. */
final class ListFilesTool extends SandboxTool {

    static final int MAX_ENTRIES = 1000;
    static final int DEFAULT_DEPTH = 3;

    ListFilesTool() {
        super("list_files", "List files and directories under a directory of /workspace (recursively, up to a depth)."
                + " Directories end with '/', files show their size in bytes. At most " + MAX_ENTRIES + " entries.", true);
        param("path", "string", false, "Directory, relative to /workspace or absolute under it (default /workspace).");
        param("glob", "string", false, "Only entries whose file name matches this shell glob, e.g. '*.java'.");
        param("depth", "integer", false, "How many levels to descend (default " + DEFAULT_DEPTH + "; 1 = direct entries only).");
    }

    @Override
    ToolResult run(Sandbox sandbox, Args args) {
        String rel = args.path("path", ".");
        int depth = args.positive("depth", DEFAULT_DEPTH);
        String glob = args.string("glob");
        String where = FileAccess.shown(rel);
        ExecResult r = sh(sandbox, """
                if [ ! -d "$1" ]; then echo "$1 is not a directory" >&2; exit 2; fi
                if [ -n "$3" ]; then exec find "$1" -mindepth 1 -maxdepth "$2" -name "$3" -printf '%y %s %p\\n'
                else exec find "$1" -mindepth 1 -maxdepth "$2" -printf '%y %s %p\\n'; fi""",
                arg(rel), Integer.toString(depth), glob == null ? "" : glob);
        if (r.exitCode() == 2 && r.stdout().isEmpty() || r.outcome() != ExecResult.Outcome.EXITED)
            return ToolResult.error(why(r).replace(arg(rel), where));
        List<String> entries = new ArrayList<>();
        for (String line : r.stdout().split("\n")) {
            if (line.isEmpty()) continue;
            String[] p = line.split(" ", 3);
            if (p.length < 3) continue;
            String path = unarg(p[2]);
            entries.add(p[0].equals("d") ? path + "/" : p[0].equals("l") ? path + " -> (link)" : path + "  (" + p[1] + " bytes)");
        }
        entries.sort(null);
        ObjectNode d = details();
        d.put("path", where);
        d.put("entries", entries.size());
        boolean cut = entries.size() > MAX_ENTRIES || r.stdoutTruncated();
        d.put("truncated", cut);
        if (entries.isEmpty()) return ToolResult.ok("(no entries under " + where + (glob == null ? "" : " matching " + glob) + ")", d);
        StringBuilder sb = new StringBuilder();
        for (String e : entries.subList(0, Math.min(MAX_ENTRIES, entries.size()))) sb.append(e).append('\n');
        if (cut) sb.append("(listing cut at ").append(MAX_ENTRIES).append(" entries; narrow the path, glob or depth)\n");
        if (!r.ok()) sb.append("(some entries could not be read: ").append(cap(r.stderr().strip(), 500)).append(")\n");
        return ToolResult.ok(sb.toString(), d);
    }
}
