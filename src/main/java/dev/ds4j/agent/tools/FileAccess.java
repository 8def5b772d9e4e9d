package dev.ds4j.agent.tools;

import dev.ds4j.sandbox.ExecResult;
import dev.ds4j.sandbox.Sandbox;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Reading and writing whole files through sandbox execs. Content goes in on stdin and comes out as base64, so
 * no byte is ever interpreted by a shell or lost to the text decoding of stdout; paths travel as positional
 * arguments ($1) and always start with "./", so none can be read as an option.
 */
final class FileAccess {

    private FileAccess() {}

    /** A file's text, or why it cannot be had (missing, a directory, too large for the output cap, not UTF-8). */
    record Read(String text, String error, long bytes) {}

    static Read read(Sandbox sandbox, String rel) {
        ExecResult r = SandboxTool.sh(sandbox, """
                if [ -d "$1" ]; then echo "$1 is a directory" >&2; exit 2; fi
                if [ ! -e "$1" ]; then echo "$1 does not exist" >&2; exit 2; fi
                exec base64 -w0 -- "$1\"""", "./" + rel);
        String shown = shown(rel);
        if (!r.ok()) return new Read(null, SandboxTool.why(r).replace("./" + rel, shown), 0);
        if (r.stdoutTruncated())
            return new Read(null, shown + " is too large to read whole (about " + r.stdoutBytes() * 3 / 4
                    + " bytes); use the shell tool (head, sed -n) for parts of it", r.stdoutBytes() * 3 / 4);
        byte[] bytes = Base64.getDecoder().decode(r.stdout().strip());
        try {
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            return new Read(text, null, bytes.length);
        } catch (CharacterCodingException e) {
            return new Read(null, shown + " is not UTF-8 text (" + bytes.length + " bytes); use the shell tool", bytes.length);
        }
    }

    /** Writes text (UTF-8), creating parent directories; null when done, else why not. */
    static String write(Sandbox sandbox, String rel, String text) {
        if (rel.equals(".")) return "/workspace is a directory";
        ExecResult r = SandboxTool.sh(sandbox, """
                if [ -d "$1" ]; then echo "$1 is a directory" >&2; exit 2; fi
                mkdir -p -- "$(dirname -- "$1")" && cat > "$1\"""", SandboxTool.utf8(text), "./" + rel);
        return r.ok() ? null : SandboxTool.why(r).replace("./" + rel, shown(rel));
    }

    /** How a path is shown to the model: absolute, under /workspace. */
    static String shown(String rel) {
        return rel.equals(".") ? SandboxTool.WORKSPACE : SandboxTool.WORKSPACE + "/" + rel;
    }
}
