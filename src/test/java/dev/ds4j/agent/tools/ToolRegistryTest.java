package dev.ds4j.agent.tools;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.chat.RenderRequest;
import dev.ds4j.sandbox.FunctionSubstrate;
import dev.ds4j.sandbox.Sandbox;
import dev.ds4j.sandbox.SandboxSpec;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Declarations, rendering and dispatch errors. Argument errors are found before any command runs, so a
 * function-substrate sandbox with no tools stands in (anything reaching it would fail loudly as "no such tool").
 */
class ToolRegistryTest {

    private static final ObjectMapper M = new ObjectMapper();
    private final ToolRegistry tools = ToolRegistry.standard(null);
    private Sandbox sb;

    @BeforeEach
    void open() {
        sb = new FunctionSubstrate().create(SandboxSpec.defaults());
    }

    @AfterEach
    void close() {
        sb.close();
    }

    @Test
    void declarationsAreOpenAiFunctionTools() {
        JsonNode d = tools.declarations();
        assertThat(tools.names()).containsExactly("shell", "read_file", "write_file", "edit_file", "list_files",
                "search_files", "run_tests");
        assertThat(d).hasSize(7);
        for (JsonNode t : d) {
            assertThat(t.get("type").asText()).isEqualTo("function");
            JsonNode f = t.get("function");
            assertThat(f.get("description").asText()).isNotBlank();
            assertThat(f.get("parameters").get("type").asText()).isEqualTo("object");
            assertThat(f.get("parameters").get("additionalProperties").asBoolean(true)).isFalse();
            for (JsonNode r : f.get("parameters").get("required"))
                assertThat(f.get("parameters").get("properties").has(r.asText())).as(r.asText()).isTrue();
        }
        assertThat(tools.idempotent("read_file")).isTrue();
        assertThat(tools.idempotent("write_file")).isTrue();
        assertThat(tools.idempotent("list_files")).isTrue();
        assertThat(tools.idempotent("search_files")).isTrue();
        assertThat(tools.idempotent("shell")).isFalse();
        assertThat(tools.idempotent("edit_file")).isFalse();
        assertThat(tools.idempotent("run_tests")).isFalse();
        assertThat(tools.idempotent("nope")).isFalse();
        // run_tests needs a command only when none is configured.
        assertThat(d.get(6).at("/function/parameters/required").toString()).isEqualTo("[\"command\"]");
        assertThat(ToolRegistry.standard("make test").declarations().get(6).at("/function/parameters/required").size()).isZero();
    }

    @Test
    void declarationsRenderIntoTheDsmlToolSchema() {
        ObjectNode req = M.createObjectNode();
        req.put("thinking_mode", "thinking");
        req.set("tools", tools.declarations());
        req.putArray("messages").addObject().put("role", "user").put("content", "fix the bug");
        String prompt = RenderRequest.fromJson(req, RenderOptions.Revision.ORIGINAL).render().text();
        int from = prompt.indexOf("### Available Tool Schemas"), to = prompt.indexOf("You MUST strictly follow");
        assertThat(from).as("DSML tool schema section").isPositive();
        assertThat(to).isGreaterThan(from);
        assertThat(prompt).contains("<｜DSML｜tool_calls>");
        String section = prompt.substring(from, to);
        assertThat(section.lines().filter(l -> !l.isBlank()).count()).as("heading + one schema line per tool").isEqualTo(1 + 7);
        for (String name : tools.names()) assertThat(section).contains("\"name\": \"" + name + "\"");
        for (String p : List.of("command", "path", "content", "old_string", "new_string", "start_line", "max_lines",
                "glob", "depth", "pattern", "ignore_case"))
            assertThat(section).contains("\"" + p + "\": {");
    }

    @Test
    void unknownToolNamesTheKnownOnes() {
        ToolResult r = tools.dispatch(sb, "rm_rf", "{}");
        assertThat(r.ok()).isFalse();
        assertThat(r.text()).contains("unknown tool 'rm_rf'").contains("shell").contains("edit_file").contains("run_tests");
    }

    @Test
    void malformedArgumentsAreAnErrorResult() {
        ToolResult r = tools.dispatch(sb, "read_file", "{\"path\": \"a.txt\"");
        assertThat(r.ok()).isFalse();
        assertThat(r.text()).contains("read_file: arguments are not valid JSON");
        ToolResult arr = tools.dispatch(sb, "read_file", "[\"a.txt\"]");
        assertThat(arr.text()).contains("read_file: arguments must be a JSON object, got array");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            read_file    | {}                                                    | field 'path' is required
            read_file    | {"path": 3}                                           | field 'path' must be a string, got number 3
            read_file    | {"path": "a", "start_line": "2"}                      | field 'start_line' must be an integer, got string
            read_file    | {"path": "a", "start_line": 1.5}                      | field 'start_line' must be an integer
            read_file    | {"path": "a", "start_line": 0}                        | field 'start_line' must be at least 1, got 0
            read_file    | {"path": "a", "lines": 3}                             | unknown field 'lines'; known: [path, start_line, max_lines]
            write_file   | {"path": "a"}                                         | field 'content' is required
            write_file   | {"path": "", "content": "x"}                          | field 'path' is an empty path
            edit_file    | {"path": "a", "old_string": "", "new_string": "b"}    | field 'old_string' is empty
            edit_file    | {"path": "a", "old_string": "b", "new_string": "b"}   | fields 'old_string' and 'new_string' are the same
            edit_file    | {"path": "a", "old_string": "x"}                      | field 'new_string' is required
            shell        | {"command": ["ls"]}                                   | field 'command' must be a string, got array
            shell        | {"command": "  "}                                     | field 'command' is empty
            shell        | {"cmd": "ls"}                                         | unknown field 'cmd'
            list_files   | {"depth": -1}                                         | field 'depth' must be at least 1
            search_files | {"pattern": "x", "ignore_case": "yes"}                | field 'ignore_case' must be a boolean, got string
            search_files | {"path": "."}                                         | field 'pattern' is required
            run_tests    | {}                                                    | field 'command' is required
            read_file    | {"path": "/etc/shadow"}                               | field 'path': path '/etc/shadow' is outside /workspace
            read_file    | {"path": "../../etc/shadow"}                          | field 'path': path '../../etc/shadow' escapes /workspace through '..'
            list_files   | {"path": "/workspace/a/../../x"}                      | escapes /workspace
            shell        | {"command": "ls\\u0000 -la"}                           | field 'command' contains a NUL character
            search_files | {"pattern": "a\\u0000b"}                               | field 'pattern' contains a NUL character
            """)
    void badArgumentsNameTheField(String tool, String args, String message) {
        ToolResult r = tools.dispatch(sb, tool, args);
        assertThat(r.ok()).isFalse();
        assertThat(r.text()).startsWith("error: " + tool + ": ").contains(message);
    }

    @Test
    void blankArgumentsMeanNone() {
        assertThat(tools.dispatch(sb, "read_file", "").text()).contains("field 'path' is required");
        assertThat(tools.dispatch(sb, "read_file", (String) null).text()).contains("field 'path' is required");
    }

    @Test
    void relativePathsNormaliseInsideTheWorkspace() {
        assertThat(SandboxTool.relativePath("p", "a/./b//c")).isEqualTo("a/b/c");
        assertThat(SandboxTool.relativePath("p", "/workspace")).isEqualTo(".");
        assertThat(SandboxTool.relativePath("p", "/workspace/x/../y")).isEqualTo("y");
        assertThat(SandboxTool.relativePath("p", "a/..")).isEqualTo(".");
        assertThat(SandboxTool.relativePath("p", "-rf")).isEqualTo("-rf");
        assertThat(SandboxTool.arg("-rf")).isEqualTo("./-rf");
    }
}
