package dev.ds4j.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The in-process substrate behind the same interface: tools, confinement of paths, timeouts, output cap. */
class SandboxFunctionTest {

    private static FunctionSubstrate tools() {
        return new FunctionSubstrate()
                .register("write", ctx -> {
                    Files.writeString(ctx.resolve(ctx.args().get(0)), ctx.args().get(1));
                    return 0;
                })
                .register("read", ctx -> {
                    ctx.out().print(Files.readString(ctx.resolve(ctx.args().get(0))));
                    return 0;
                })
                .register("echo-stdin", ctx -> {
                    ctx.out().print(new String(ctx.stdin(), StandardCharsets.UTF_8));
                    return 3;
                })
                .register("sleep", ctx -> {
                    ctx.out().println("sleeping");
                    Thread.sleep(Long.parseLong(ctx.args().get(0)));
                    return 0;
                })
                .register("flood", ctx -> {
                    for (int i = 0; i < 300_000; i++) ctx.out().print("0123456789");
                    return 0;
                });
    }

    @Test
    void toolsRunAgainstAStatefulWorkspace() {
        try (Sandbox sb = tools().create(SandboxSpec.defaults())) {
            assertThat(sb.substrate()).isEqualTo("function");
            assertThat(sb.exec(List.of("write", "a.txt", "hello")).ok()).isTrue();
            assertThat(sb.shell("read a.txt").stdout()).isEqualTo("hello");
            assertThat(sb.shell("read /workspace/a.txt").stdout()).isEqualTo("hello");
            ExecResult r = sb.exec(List.of("echo-stdin"), "in".getBytes());
            assertThat(r.stdout()).isEqualTo("in");
            assertThat(r.exitCode()).isEqualTo(3);
            ExecResult missing = sb.shell("rm -rf /");
            assertThat(missing.exitCode()).isEqualTo(127);
            assertThat(missing.stderr()).contains("no such function tool 'rm'");
            assertThatThrownBy(sb::pause).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("function sandboxes cannot be paused");
            ExecResult failing = sb.shell("read nothing-here.txt");
            assertThat(failing.exitCode()).isEqualTo(1);
            assertThat(failing.stderr()).contains("NoSuchFileException");
        }
    }

    @Test
    void pathsCannotLeaveTheWorkspace(@TempDir Path tmp) throws Exception {
        Path outside = Files.writeString(tmp.resolve("outside.txt"), "host secret");
        Path ws = Files.createDirectories(tmp.resolve("ws"));
        Files.createSymbolicLink(ws.resolve("link"), tmp);
        try (Sandbox sb = tools().create(SandboxSpec.defaults().withWorkspace(ws))) {
            for (String path : List.of("../outside.txt", "/etc/passwd", "link/outside.txt", "sub/../../outside.txt")) {
                ExecResult r = sb.exec(List.of("read", path));
                assertThat(r.exitCode()).as(path).isEqualTo(1);
                assertThat(r.stderr()).as(path).contains("SecurityException").contains("outside the workspace");
                assertThat(r.stdout()).as(path).isEmpty();
            }
            assertThat(sb.exec(List.of("write", "link/planted.txt", "x")).exitCode()).isEqualTo(1);
            assertThat(tmp.resolve("planted.txt")).doesNotExist();
            assertThat(outside).hasContent("host secret");
        }
        assertThat(ws).as("a given workspace is kept").isDirectory();
    }

    @Test
    void timeoutsInterruptTheTool() {
        SandboxSpec spec = SandboxSpec.defaults().withTimeout(Duration.ofMillis(300));
        try (Sandbox sb = tools().create(spec)) {
            ExecResult r = sb.shell("sleep 10000");
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.TIMED_OUT);
            assertThat(r.stdout()).isEqualTo("sleeping\n");
            assertThat(r.duration()).isLessThan(Duration.ofSeconds(3));
            assertThat(sb.shell("sleep 10").ok()).as("control: a short sleep passes").isTrue();
        }
        try (Sandbox sb = tools().create(spec.withTimeout(Duration.ofSeconds(10)).withIdleTimeout(Duration.ofMillis(200)))) {
            ExecResult r = sb.shell("sleep 10000");
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.IDLE_TIMED_OUT);
        }
    }

    @Test
    void outputIsCappedAndPrivateWorkspaceRemovedOnClose() {
        Sandbox sb = tools().create(SandboxSpec.defaults().withOutputCapBytes(1000));
        ExecResult r = sb.shell("flood");
        assertThat(r.stdoutTruncated()).isTrue();
        assertThat(r.stdoutBytes()).isEqualTo(3_000_000);
        assertThat(r.stdout()).hasSize(1000).startsWith("0123456789").endsWith("0123456789");
        Path ws = sb.workspace();
        assertThat(ws).isDirectory();
        sb.close();
        sb.close();
        assertThat(ws).doesNotExist();
        assertThatThrownBy(() -> sb.shell("read x")).isInstanceOf(SandboxException.class).hasMessageContaining("closed");
    }
}
