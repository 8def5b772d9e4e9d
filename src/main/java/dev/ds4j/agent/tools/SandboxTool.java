package dev.ds4j.agent.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.ExecResult;
import dev.ds4j.sandbox.Sandbox;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Base of the built-in tools: the schema is declared once with {@link #param}, and {@link #call} checks the
 * arguments against it (an object; no unknown fields; required fields present; string / integer / boolean
 * types) before {@link #run} sees them, so every tool reports bad arguments the same way, naming the field.
 */
abstract class SandboxTool implements Tool {

    static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    /** Where the workspace is seen inside a process sandbox; every path argument must stay under it. */
    static final String WORKSPACE = "/workspace";

    private final String name;
    private final String description;
    private final boolean idempotent;
    private final ObjectNode schema = JSON.objectNode();
    private final ObjectNode properties;
    private final ArrayNode required;
    /** String fields that never reach a command line (they go on stdin or stay in Java), so NUL is allowed. */
    private final java.util.Set<String> nulAllowed = new java.util.HashSet<>();

    SandboxTool(String name, String description, boolean idempotent) {
        this.name = name;
        this.description = description;
        this.idempotent = idempotent;
        schema.put("type", "object");
        properties = schema.putObject("properties");
        required = schema.putArray("required");
        schema.put("additionalProperties", false);
    }

    /** Declares a parameter; type is "string", "integer" or "boolean". */
    final void param(String field, String type, boolean isRequired, String desc) {
        properties.putObject(field).put("type", type).put("description", desc);
        if (isRequired) required.add(field);
    }

    /** Marks a string field as never passed on a command line (argv cannot carry NUL; stdin can). */
    final void allowNul(String field) {
        nulAllowed.add(field);
    }

    @Override public final String name() { return name; }
    @Override public final String description() { return description; }
    @Override public final boolean idempotent() { return idempotent; }
    @Override public final ObjectNode parameters() { return schema.deepCopy(); }

    @Override
    public final ToolResult call(Sandbox sandbox, JsonNode args) {
        try {
            validate(args);
            return run(sandbox, new Args((ObjectNode) args));
        } catch (ToolArgumentException e) {
            return ToolResult.error(name + ": " + e.getMessage());
        }
    }

    abstract ToolResult run(Sandbox sandbox, Args args);

    private void validate(JsonNode args) {
        if (args == null || !args.isObject())
            throw new ToolArgumentException("arguments must be a JSON object, got "
                    + (args == null ? "nothing" : args.getNodeType().toString().toLowerCase()));
        for (Iterator<String> it = args.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!properties.has(f))
                throw new ToolArgumentException("unknown field '" + f + "'; known: " + fieldNames());
        }
        for (JsonNode r : required)
            if (!args.hasNonNull(r.asText())) throw new ToolArgumentException("field '" + r.asText() + "' is required");
        for (Iterator<String> it = args.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            JsonNode v = args.get(f);
            if (v.isNull()) continue; // an explicit null is the same as leaving an optional field out
            String type = properties.get(f).get("type").asText();
            boolean good = switch (type) {
                case "string" -> v.isTextual();
                case "integer" -> v.isIntegralNumber() && v.canConvertToInt()
                        || v.isFloatingPointNumber() && v.asDouble() == Math.rint(v.asDouble()) && Math.abs(v.asDouble()) < 1e9;
                case "boolean" -> v.isBoolean();
                default -> throw new IllegalStateException("undeclared type " + type);
            };
            if (!good) throw new ToolArgumentException("field '" + f + "' must be " + (type.equals("integer") ? "an " : "a ")
                    + type + ", got " + describe(v));
            if (v.isTextual() && v.asText().indexOf('\0') >= 0 && !nulAllowed.contains(f))
                throw new ToolArgumentException("field '" + f + "' contains a NUL character");
        }
    }

    private List<String> fieldNames() {
        List<String> l = new ArrayList<>();
        properties.fieldNames().forEachRemaining(l::add);
        return l;
    }

    private static String describe(JsonNode v) {
        String t = v.getNodeType().toString().toLowerCase();
        String s = v.toString();
        return t + " " + (s.length() > 40 ? s.substring(0, 40) + "…" : s);
    }

    /** Validated arguments. */
    static final class Args {
        private final ObjectNode node;

        Args(ObjectNode node) { this.node = node; }

        String string(String f) {
            JsonNode v = node.get(f);
            return v == null || v.isNull() ? null : v.asText();
        }

        String string(String f, String dflt) {
            String s = string(f);
            return s == null ? dflt : s;
        }

        Integer integer(String f) {
            JsonNode v = node.get(f);
            return v == null || v.isNull() ? null : v.asInt();
        }

        Boolean bool(String f) {
            JsonNode v = node.get(f);
            return v == null || v.isNull() ? null : v.asBoolean();
        }

        int integer(String f, int dflt) {
            Integer i = integer(f);
            return i == null ? dflt : i;
        }

        /** A positive integer, or the default; names the field otherwise. */
        int positive(String f, int dflt) {
            int i = integer(f, dflt);
            if (i < 1) throw new ToolArgumentException("field '" + f + "' must be at least 1, got " + i);
            return i;
        }

        /**
         * A path argument as a normalised path relative to /workspace ("." for the workspace itself). Relative
         * paths are taken from /workspace; absolute ones must lie under it; ".." may not climb out.
         */
        String path(String f, String dflt) {
            String p = string(f, dflt);
            if (p == null) throw new ToolArgumentException("field '" + f + "' is required");
            return relativePath(f, p);
        }
    }

    static String relativePath(String field, String p) {
        if (p.isEmpty()) throw new ToolArgumentException("field '" + field + "' is an empty path");
        if (p.indexOf('\0') >= 0) throw new ToolArgumentException("field '" + field + "' contains a NUL character");
        String rel;
        if (p.startsWith("/")) {
            if (!p.equals(WORKSPACE) && !p.startsWith(WORKSPACE + "/"))
                throw new ToolArgumentException("field '" + field + "': path '" + p + "' is outside " + WORKSPACE
                        + " (use a path relative to " + WORKSPACE + ")");
            rel = p.substring(WORKSPACE.length());
        } else rel = p;
        List<String> parts = new ArrayList<>();
        for (String s : rel.split("/")) {
            if (s.isEmpty() || s.equals(".")) continue;
            if (s.equals("..")) {
                if (parts.isEmpty())
                    throw new ToolArgumentException("field '" + field + "': path '" + p + "' escapes " + WORKSPACE + " through '..'");
                parts.removeLast();
            } else parts.add(s);
        }
        return parts.isEmpty() ? "." : String.join("/", parts);
    }

    /** Runs {@code sh -c script} with positional arguments ($1 …), so no value is ever parsed by the shell. */
    static ExecResult sh(Sandbox sandbox, String script, byte[] stdin, String... positional) {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", script, "sh"));
        cmd.addAll(List.of(positional));
        return sandbox.exec(cmd, stdin);
    }

    static ExecResult sh(Sandbox sandbox, String script, String... positional) {
        return sh(sandbox, script, null, positional);
    }

    /** A relative path as a shell argument: "./" in front, so it cannot be read as an option. */
    static String arg(String rel) {
        return rel.equals(".") ? "." : "./" + rel;
    }

    /** A path printed by find or grep (started from {@link #arg}) as the model sees it: relative to /workspace. */
    static String unarg(String printed) {
        return printed.startsWith("./") ? printed.substring(2) : printed;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The command's stderr (or how it ended) as one short line for an error result. */
    static String why(ExecResult r) {
        String e = r.stderr().strip();
        if (r.outcome() != ExecResult.Outcome.EXITED) e = (e.isEmpty() ? "" : e + "; ") + r.detail();
        if (e.isEmpty()) e = "exit code " + r.exitCode();
        // Paths went in as ./rel; the model knows them as /workspace/rel.
        return e.replaceAll("(?m)^sh: [0-9]+: ", "")
                .replaceAll("(^|[\\s'\"‘])\\./\\.(?=$|[\\s'\"’:])", "$1" + WORKSPACE)
                .replaceAll("(^|[\\s'\"‘])\\./", "$1" + WORKSPACE + "/");
    }

    /** Keeps the first and last halves of text longer than cap characters, saying how much was cut. */
    static String cap(String s, int cap) {
        if (s.length() <= cap) return s;
        int half = cap / 2;
        return s.substring(0, half) + "\n[… " + (s.length() - 2 * half) + " characters omitted …]\n"
                + s.substring(s.length() - half);
    }

    static ObjectNode details() {
        return JSON.objectNode();
    }
}
