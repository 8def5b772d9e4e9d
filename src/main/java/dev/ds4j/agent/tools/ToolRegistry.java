package dev.ds4j.agent.tools;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.PyJson;
import dev.ds4j.sandbox.Sandbox;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The tools offered to the model: their OpenAI function declarations for the chat request, and dispatch of a
 * parsed tool call (name + arguments as the completion parser gives them). Unknown tools and malformed
 * arguments become error results the model can read and correct, never exceptions.
 */
public final class ToolRegistry {

    private final Map<String, Tool> tools = new LinkedHashMap<>();

    public ToolRegistry(Collection<? extends Tool> tools) {
        for (Tool t : tools) {
            if (t.name() == null || !t.name().matches("[A-Za-z0-9_-]{1,64}"))
                throw new IllegalArgumentException("bad tool name '" + t.name() + "' (letters, digits, _ and -, at most 64)");
            if (this.tools.putIfAbsent(t.name(), t) != null)
                throw new IllegalArgumentException("duplicate tool name '" + t.name() + "'");
        }
    }

    /**
     * shell, read_file, write_file, edit_file, list_files, search_files and run_tests.
     *
     * @param testCommand run_tests' default command (run by sh -c in /workspace); null: the model must give one
     */
    public static ToolRegistry standard(String testCommand) {
        return new ToolRegistry(List.of(new ShellTool(), new ReadFileTool(), new WriteFileTool(), new EditFileTool(),
                new ListFilesTool(), new SearchFilesTool(), new RunTestsTool(testCommand)));
    }

    public List<String> names() {
        return List.copyOf(tools.keySet());
    }

    public Optional<Tool> get(String name) {
        return Optional.ofNullable(tools.get(name));
    }

    /** Whether a call of this tool may be re-run on replay; false for unknown tools. */
    public boolean idempotent(String name) {
        Tool t = tools.get(name);
        return t != null && t.idempotent();
    }

    /** {@code [{"type":"function","function":{"name","description","parameters"}}, …]}, in registration order. */
    public ArrayNode declarations() {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        for (Tool t : tools.values()) {
            ObjectNode f = a.addObject().put("type", "function").putObject("function");
            f.put("name", t.name());
            f.put("description", t.description());
            f.set("parameters", t.parameters());
        }
        return a;
    }

    /** The declarations as a list, as {@link dev.ds4j.agent.ModelClient#complete} takes them (whole OpenAI tools). */
    public List<JsonNode> declarationList() {
        List<JsonNode> l = new ArrayList<>();
        declarations().forEach(l::add);
        return l;
    }

    /**
     * Runs a tool call. {@code arguments} is the JSON text of the arguments object (blank means no arguments).
     * Only the sandbox itself failing ({@link dev.ds4j.sandbox.SandboxException}) is thrown.
     */
    public ToolResult dispatch(Sandbox sandbox, String name, String arguments) {
        Tool t = tools.get(name);
        if (t == null) return ToolResult.error("unknown tool '" + name + "'; known tools: " + names());
        JsonNode args;
        if (arguments == null || arguments.isBlank()) args = JsonNodeFactory.instance.objectNode();
        else {
            try {
                args = PyJson.loads(arguments); // json.loads, as ParsedCompletion.ToolCall#argumentsValidJson
            } catch (JsonProcessingException e) {
                return ToolResult.error(name + ": arguments are not valid JSON: " + e.getOriginalMessage());
            }
        }
        return t.call(sandbox, args);
    }

    /** Runs a call as {@link dev.ds4j.chat.CompletionParser} gives it. */
    public ToolResult dispatch(Sandbox sandbox, ParsedCompletion.ToolCall call) {
        return dispatch(sandbox, call.name(), call.arguments());
    }

    /** As {@link #dispatch(Sandbox, String, String)} with arguments already parsed. */
    public ToolResult dispatch(Sandbox sandbox, String name, JsonNode arguments) {
        Tool t = tools.get(name);
        if (t == null) return ToolResult.error("unknown tool '" + name + "'; known tools: " + names());
        return t.call(sandbox, arguments);
    }
}
