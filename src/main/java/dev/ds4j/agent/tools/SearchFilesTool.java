package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.ExecResult;
import dev.ds4j.sandbox.Sandbox;

/** grep -rnE over a directory: path:line:text, binary files and .git skipped, capped. */
final class SearchFilesTool extends SandboxTool {

    static final int MAX_MATCHES = 200;
    static final int MAX_LINE_CHARS = 300;

    SearchFilesTool() {
        super("search_files", "Search text files under /workspace for a regular expression (POSIX extended, as grep -E)."
                + " Returns 'path:line:text' for each matching line, at most " + MAX_MATCHES + ". Binary files and"
                + " .git are skipped.", true);
        param("pattern", "string", true, "Regular expression (grep -E syntax).");
        param("path", "string", false, "File or directory to search, relative to /workspace or absolute under it (default /workspace).");
        param("glob", "string", false, "Only files whose name matches this shell glob, e.g. '*.py'.");
        param("ignore_case", "boolean", false, "Match case-insensitively (default false).");
    }

    @Override
    ToolResult run(Sandbox sandbox, Args args) {
        String pattern = args.string("pattern");
        if (pattern.isEmpty()) throw new ToolArgumentException("field 'pattern' is empty");
        String rel = args.path("path", ".");
        String glob = args.string("glob");
        String flags = "-rnHIE" + (Boolean.TRUE.equals(args.bool("ignore_case")) ? "i" : "");
        String where = FileAccess.shown(rel);
        ExecResult r = sh(sandbox, """
                if [ ! -e "$2" ]; then echo "$2 does not exist" >&2; exit 2; fi
                if [ -n "$3" ]; then exec grep %s --exclude-dir=.git --include="$3" -e "$1" -- "$2"
                else exec grep %s --exclude-dir=.git -e "$1" -- "$2"; fi""".formatted(flags, flags),
                pattern, arg(rel), glob == null ? "" : glob);
        if (r.outcome() != ExecResult.Outcome.EXITED || r.exitCode() > 1 && r.stdout().isEmpty())
            return ToolResult.error(why(r).replace(arg(rel), where));
        String[] lines = r.stdout().isEmpty() ? new String[0] : r.stdout().split("\n");
        ObjectNode d = details();
        d.put("path", where);
        d.put("matches", lines.length);
        boolean cut = lines.length > MAX_MATCHES || r.stdoutTruncated();
        d.put("truncated", cut);
        if (lines.length == 0) return ToolResult.ok("no matches for " + pattern + " under " + where, d);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(MAX_MATCHES, lines.length); i++) {
            String l = unarg(lines[i]);
            if (l.length() > MAX_LINE_CHARS) l = l.substring(0, MAX_LINE_CHARS) + " [… line cut]";
            sb.append(l).append('\n');
        }
        if (cut) sb.append("(").append(r.stdoutTruncated() ? "more than " + lines.length : lines.length)
                .append(" matching lines; showing the first ").append(MAX_MATCHES).append(": narrow the pattern, path or glob)\n");
        return ToolResult.ok(sb.toString(), d);
    }
}
