package dev.ds4j.agent.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ds4j.sandbox.ProcessSubstrate;
import dev.ds4j.sandbox.Sandbox;
import dev.ds4j.sandbox.SandboxSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The tools against the real process substrate (bubblewrap + cgroups); skipped with its reason elsewhere. */
class ToolProcessTest {

    private static final ToolRegistry TOOLS = ToolRegistry.standard("sh run_tests.sh");
    private static Sandbox sb;

    @BeforeAll
    static void sandbox() {
        ProcessSubstrate sub = new ProcessSubstrate();
        var a = sub.availability();
        assumeTrue(a.available(), () -> "process substrate unavailable here: " + a.reason());
        sb = sub.create(SandboxSpec.defaults().withTimeout(Duration.ofSeconds(2)).withMemoryMb(256).withPids(64));
    }

    @AfterAll
    static void close() {
        if (sb != null) sb.close();
    }

    private static ToolResult call(String tool, String args) {
        ToolResult r = TOOLS.dispatch(sb, tool, args);
        System.out.println(tool + " " + args + "\n  -> " + (r.ok() ? "ok" : "ERROR") + ": "
                + r.text().replace("\n", "\n     ") + "\n     " + r.details());
        return r;
    }

    @Test
    void writeReadEditRead() throws Exception {
        // Content with quotes, $, backslashes, a non-ASCII character and no final newline: nothing may be shell-interpreted.
        String content = "alpha = 1\nbeta = \"$HOME\" `x` \\n 'q'\ngamma = ü\nalpha2 = 3";
        ToolResult w = call("write_file", """
                {"path": "src/deep/er/f.txt", "content": %s}""".formatted(json(content)));
        assertThat(w.ok()).isTrue();
        assertThat(w.details().get("bytes").asInt()).isEqualTo(content.getBytes(StandardCharsets.UTF_8).length);
        assertThat(Files.readString(sb.workspace().resolve("src/deep/er/f.txt"))).isEqualTo(content);

        ToolResult r = call("read_file", "{\"path\": \"/workspace/src/deep/er/f.txt\"}");
        assertThat(r.ok()).isTrue();
        assertThat(r.text()).isEqualTo("1\talpha = 1\n2\tbeta = \"$HOME\" `x` \\n 'q'\n3\tgamma = ü\n4\talpha2 = 3\n");
        assertThat(r.details().get("total_lines").asInt()).isEqualTo(4);

        ToolResult e = call("edit_file", """
                {"path": "src/deep/er/f.txt", "old_string": "gamma = ü", "new_string": "gamma = 42\\ndelta = 5"}""");
        assertThat(e.ok()).isTrue();
        assertThat(e.text()).contains("line 3");

        ToolResult r2 = call("read_file", "{\"path\": \"src/deep/er/f.txt\", \"start_line\": 3, \"max_lines\": 2}");
        assertThat(r2.ok()).isTrue();
        assertThat(r2.text()).startsWith("3\tgamma = 42\n4\tdelta = 5\n").contains("(lines 3–4 of 5)");
        assertThat(Files.readString(sb.workspace().resolve("src/deep/er/f.txt")))
                .isEqualTo("alpha = 1\nbeta = \"$HOME\" `x` \\n 'q'\ngamma = 42\ndelta = 5\nalpha2 = 3");
    }

    @Test
    void editNeedsExactlyOneMatch() throws Exception {
        assertThat(call("write_file", "{\"path\": \"m.txt\", \"content\": \"x = 1\\nx = 1\\n\"}").ok()).isTrue();
        ToolResult none = call("edit_file", "{\"path\": \"m.txt\", \"old_string\": \"y = 1\", \"new_string\": \"y = 2\"}");
        assertThat(none.ok()).isFalse();
        assertThat(none.text()).contains("0 matches").contains("/workspace/m.txt");
        ToolResult two = call("edit_file", "{\"path\": \"m.txt\", \"old_string\": \"x = 1\", \"new_string\": \"x = 2\"}");
        assertThat(two.ok()).isFalse();
        assertThat(two.text()).contains("occurs 2 times").contains("exactly once");
        assertThat(Files.readString(sb.workspace().resolve("m.txt"))).as("unchanged").isEqualTo("x = 1\nx = 1\n");
        ToolResult missing = call("edit_file", "{\"path\": \"nope.txt\", \"old_string\": \"a\", \"new_string\": \"b\"}");
        assertThat(missing.ok()).isFalse();
        assertThat(missing.text()).contains("/workspace/nope.txt does not exist");
        ToolResult under = call("write_file", "{\"path\": \"m.txt/sub.txt\", \"content\": \"x\"}");
        assertThat(under.ok()).isFalse();
        assertThat(under.text()).contains("directory ‘/workspace/m.txt’").doesNotContain("./");
    }

    @Test
    void listAndSearchFindTheFile() {
        assertThat(call("write_file", "{\"path\": \"proj/pkg/Needle.java\", \"content\": \"class Needle {\\n  int haystack = 7;\\n}\\n\"}").ok()).isTrue();
        assertThat(call("write_file", "{\"path\": \"proj/notes.md\", \"content\": \"no match here\\n\"}").ok()).isTrue();

        ToolResult all = call("list_files", "{\"path\": \"proj\"}");
        assertThat(all.ok()).isTrue();
        assertThat(all.text()).contains("proj/pkg/\n").contains("proj/pkg/Needle.java  (37 bytes)").contains("proj/notes.md");
        ToolResult java = call("list_files", "{\"glob\": \"*.java\"}");
        assertThat(java.text()).isEqualTo("proj/pkg/Needle.java  (37 bytes)\n");
        ToolResult shallow = call("list_files", "{\"path\": \"proj\", \"depth\": 1}");
        assertThat(shallow.text()).contains("proj/pkg/").doesNotContain("Needle");

        ToolResult hit = call("search_files", "{\"pattern\": \"hay[a-z]+ = [0-9]\", \"path\": \"proj\"}");
        assertThat(hit.ok()).isTrue();
        assertThat(hit.text()).isEqualTo("proj/pkg/Needle.java:2:  int haystack = 7;\n");
        ToolResult ci = call("search_files", "{\"pattern\": \"NEEDLE\", \"ignore_case\": true, \"glob\": \"*.java\"}");
        assertThat(ci.text()).isEqualTo("proj/pkg/Needle.java:1:class Needle {\n");
        ToolResult miss = call("search_files", "{\"pattern\": \"zebra\"}");
        assertThat(miss.ok()).isTrue();
        assertThat(miss.text()).startsWith("no matches");
        ToolResult bad = call("search_files", "{\"pattern\": \"(unclosed\"}");
        assertThat(bad.ok()).isFalse();
        assertThat(bad.text()).contains("Unmatched");
    }

    @Test
    void shellRunsInWorkspaceAndSeesTheFiles() {
        assertThat(call("write_file", "{\"path\": \"sh/data.txt\", \"content\": \"hello from a tool\\n\"}").ok()).isTrue();
        ToolResult r = call("shell", "{\"command\": \"pwd; cat sh/data.txt; echo oops >&2; exit 3\"}");
        assertThat(r.ok()).isFalse();
        assertThat(r.text()).startsWith("exit code: 3").contains("/workspace\nhello from a tool").contains("[stderr]\noops");
        assertThat(r.details().get("exit_code").asInt()).isEqualTo(3);

        ToolResult w = call("shell", "{\"command\": \"echo made-by-shell > sh/out.txt\"}");
        assertThat(w.ok()).isTrue();
        assertThat(call("read_file", "{\"path\": \"sh/out.txt\"}").text()).isEqualTo("1\tmade-by-shell\n");

        ToolResult slow = call("shell", "{\"command\": \"sleep 30\"}");
        assertThat(slow.ok()).isFalse();
        assertThat(slow.text()).startsWith("timed out");
        assertThat(slow.details().get("outcome").asText()).isEqualTo("TIMED_OUT");
    }

    @Test
    void runTestsUsesTheConfiguredCommandOrTheGivenOne() {
        assertThat(call("write_file", "{\"path\": \"run_tests.sh\", \"content\": \"test -f ok.flag && echo PASS || { echo FAIL; exit 1; }\\n\"}").ok()).isTrue();
        ToolResult fail = call("run_tests", "{}");
        assertThat(fail.ok()).isFalse();
        assertThat(fail.text()).startsWith("tests failed (sh run_tests.sh)").contains("FAIL");
        call("shell", "{\"command\": \"touch ok.flag\"}");
        ToolResult pass = call("run_tests", "");
        assertThat(pass.ok()).isTrue();
        assertThat(pass.text()).startsWith("tests passed").contains("PASS");
        ToolResult other = call("run_tests", "{\"command\": \"echo custom; exit 0\"}");
        assertThat(other.ok()).isTrue();
        assertThat(other.text()).contains("custom");
    }

    @Test
    void pathEscapesAreRejectedBeforeAnythingRuns() {
        for (String p : new String[]{"/etc/passwd", "../x", "a/../../x", "/workspace/../etc/passwd", "/workspacex/f"}) {
            ToolResult r = call("read_file", "{\"path\": " + json(p) + "}");
            assertThat(r.ok()).as(p).isFalse();
            assertThat(r.text()).as(p).contains("field 'path'").containsAnyOf("outside /workspace", "escapes /workspace");
        }
        assertThat(call("write_file", "{\"path\": \"../../tmp/evil\", \"content\": \"x\"}").text()).contains("escapes /workspace");
        assertThat(call("list_files", "{\"path\": \"/\"}").text()).contains("outside /workspace");
        assertThat(call("search_files", "{\"pattern\": \"root\", \"path\": \"/etc\"}").text()).contains("outside /workspace");
        // Inside-the-workspace spellings are fine.
        assertThat(call("write_file", "{\"path\": \"./a/./b/../c.txt\", \"content\": \"c\"}").text()).contains("/workspace/a/c.txt");
    }

    @Test
    void readingDirectoriesAndBinaryFilesIsAClearError() {
        call("shell", "{\"command\": \"mkdir -p bin && printf '\\\\377\\\\376' > bin/blob\"}");
        assertThat(call("read_file", "{\"path\": \"bin/blob\"}").text()).contains("/workspace/bin/blob is not UTF-8");
        assertThat(call("read_file", "{\"path\": \"bin\"}").text()).contains("/workspace/bin is a directory");
        assertThat(call("write_file", "{\"path\": \"bin\", \"content\": \"x\"}").text()).contains("/workspace/bin is a directory");
    }

    @Test
    void linksLeadIntoTheSandboxsViewNotTheHost() throws Exception {
        call("shell", "{\"command\": \"ln -sfn /etc etclink && ln -sfn /usr usrlink\"}");
        ToolResult pw = call("read_file", "{\"path\": \"etclink/passwd\"}");
        assertThat(pw.ok()).isTrue();
        assertThat(pw.text()).contains("sandbox:x:1000:1000");
        String hostPasswd = Files.readString(java.nio.file.Path.of("/etc/passwd"));
        assertThat(pw.text()).as("the sandbox's synthetic passwd, not the host's").doesNotContain(hostPasswd.lines().skip(1).findFirst().orElse("?"));
        ToolResult w = call("write_file", "{\"path\": \"usrlink/evil\", \"content\": \"x\"}");
        assertThat(w.ok()).as("/usr is read-only inside").isFalse();
        assertThat(w.text()).isEqualTo("error: cannot create /workspace/usrlink/evil: Read-only file system");
        assertThat(java.nio.file.Path.of("/usr/evil")).doesNotExist();
    }

    @Test
    void longOutputKeepsHeadAndTail() {
        ToolResult r = call("shell", "{\"command\": \"echo FIRST; seq 1 20000; echo LAST\"}");
        assertThat(r.ok()).isTrue();
        assertThat(r.text()).contains("FIRST").contains("LAST").contains("characters omitted").contains("middle omitted");
        assertThat(r.text().length()).isLessThan(ShellTool.SHOWN_CHARS + 500);
        assertThat(r.details().get("truncated").asBoolean()).isTrue();
        assertThat(r.details().get("stdout_bytes").asLong()).isGreaterThan(100_000);
    }

    @Test
    void contentMayHoldAnyCharacterIncludingNul() throws Exception {
        ToolResult w = call("write_file", "{\"path\": \"nul.txt\", \"content\": \"a\\u0000b\\n\"}");
        assertThat(w.ok()).isTrue();
        assertThat(Files.readAllBytes(sb.workspace().resolve("nul.txt"))).containsExactly('a', 0, 'b', '\n');
    }

    @Test
    void callsParsedFromModelDsmlRunInTheSandbox() throws Exception {
        // What the model writes after </think>: two DSML calls, a string and a non-string parameter.
        String completion = """
                I will write the file, then count its lines.</think>

                <｜DSML｜tool_calls>
                <｜DSML｜invoke name="write_file">
                <｜DSML｜parameter name="path" string="true">dsml/hello.py</｜DSML｜parameter>
                <｜DSML｜parameter name="content" string="true">print("hi")
                print('there')
                </｜DSML｜parameter>
                </｜DSML｜invoke>
                <｜DSML｜invoke name="read_file">
                <｜DSML｜parameter name="path" string="true">dsml/hello.py</｜DSML｜parameter>
                <｜DSML｜parameter name="start_line" string="false">2</｜DSML｜parameter>
                </｜DSML｜invoke>
                </｜DSML｜tool_calls>""";
        var parsed = dev.ds4j.chat.CompletionParser.parse(completion, dev.ds4j.chat.RenderOptions.ThinkingMode.THINKING);
        assertThat(parsed.toolCalls()).hasSize(2);
        ToolResult w = TOOLS.dispatch(sb, parsed.toolCalls().get(0));
        assertThat(w.ok()).as(w.text()).isTrue();
        assertThat(Files.readString(sb.workspace().resolve("dsml/hello.py"))).isEqualTo("print(\"hi\")\nprint('there')\n");
        ToolResult r = TOOLS.dispatch(sb, parsed.toolCalls().get(1));
        assertThat(r.text()).startsWith("2\tprint('there')\n");
    }

    static String json(String s) {
        return new com.fasterxml.jackson.databind.node.TextNode(s).toString();
    }
}
