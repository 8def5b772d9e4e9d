package dev.ds4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ds4j.sandbox.Substrate;
import dev.ds4j.sandbox.Substrates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SandboxCommandTest {
    @TempDir
    Path tmp;

    private static void assumeProcessSubstrate() {
        Substrate.Availability a = Substrates.standard().get("process").availability();
        assumeTrue(a.available(), "process substrate unavailable here: " + a.reason());
    }

    @Test
    void runPrintsOutputAndExitsWithTheCommandsCode() {
        assumeProcessSubstrate();
        CliRunner.Result r = CliRunner.run("sandbox", "run", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3");
        assertThat(r.exit()).as(r.err()).isEqualTo(3);
        assertThat(r.out()).isEqualTo("hi\n");
        assertThat(r.err()).contains("oops");
    }

    @Test
    void imageAndSnapshotFromTheCommandLine() throws Exception {
        assumeProcessSubstrate();
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/mkfs.erofs")), "mkfs.erofs missing: apt-get install -y erofs-utils");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/busybox")), "/usr/bin/busybox missing: apt-get install -y busybox-static");
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
        Path dir = Files.createDirectories(tmp.resolve("base/bin"));
        Files.copy(Path.of("/usr/bin/busybox"), dir.resolve("busybox"));
        for (String app : new String[]{"sh", "cat", "rm", "ls", "echo"}) Files.createSymbolicLink(dir.resolve(app), Path.of("busybox"));
        Files.createDirectories(tmp.resolve("base/etc"));
        Files.writeString(tmp.resolve("base/etc/motd"), "from the base\n");
        Path base = dev.ds4j.sandbox.Layer.fromDirectory(tmp.resolve("base"), tmp.resolve("base.erofs"));
        Path snap = tmp.resolve("snap.erofs");

        CliRunner.Result first = CliRunner.run("sandbox", "run", "--image", base.toString(), "--snapshot", snap.toString(), "--",
                "sh", "-c", "cat /etc/motd; echo changed > /etc/motd; rm /bin/ls; ls /usr 2>&1 | head -1");
        assertThat(first.exit()).as(first.err()).isZero();
        assertThat(first.out()).startsWith("from the base\n"); // the image's file, not the host's (which has no /etc/motd like it)
        assertThat(first.err()).contains("snapshot " + snap);
        assertThat(snap).isRegularFile();

        CliRunner.Result second = CliRunner.run("sandbox", "run", "--image", snap + "," + base, "--", "sh", "-c",
                "cat /etc/motd; test -e /bin/ls && echo ls-present || echo ls-gone");
        assertThat(second.out()).as(second.err()).isEqualTo("changed\nls-gone\n");
        CliRunner.Result baseAgain = CliRunner.run("sandbox", "run", "--image", base.toString(), "--", "cat", "/etc/motd");
        assertThat(baseAgain.out()).isEqualTo("from the base\n");

        CliRunner.Result noImage = CliRunner.run("sandbox", "run", "--snapshot", tmp.resolve("x.erofs").toString(), "--", "true");
        assertThat(noImage.exit()).isEqualTo(2);
        assertThat(noImage.err().strip()).isEqualTo("ds4j: error: --snapshot: needs --image (a sandbox on the host's /usr has nothing to pack)");
        CliRunner.Result notLayer = CliRunner.run("sandbox", "run", "--image", tmp.resolve("base/etc/motd").toString(), "--", "true");
        assertThat(notLayer.exit()).isEqualTo(2);
        assertThat(notLayer.err()).contains("is not an EROFS image");
    }

    @Test
    void timeoutExits124() {
        assumeProcessSubstrate();
        long t0 = System.nanoTime();
        CliRunner.Result r = CliRunner.run("sandbox", "run", "--timeout", "1", "--", "sh", "-c", "sleep 10");
        assertThat(r.exit()).as(r.err()).isEqualTo(124);
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(8);
    }

    @Test
    void jsonHoldsExitCodeOutcomeAndOutput() throws Exception {
        assumeProcessSubstrate();
        Files.writeString(tmp.resolve("in.txt"), "from host");
        CliRunner.Result r = CliRunner.run("sandbox", "run", "--json", "--workspace", tmp.toString(), "--",
                "sh", "-c", "cat /workspace/in.txt; echo made > /workspace/out.txt; exit 5");
        assertThat(r.exit()).as(r.err()).isEqualTo(5);
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("exit_code").asInt()).isEqualTo(5);
        assertThat(j.get("outcome").asText()).isEqualTo("exited");
        assertThat(j.get("stdout").asText()).isEqualTo("from host");
        assertThat(j.get("stdout_truncated").asBoolean()).isFalse();
        assertThat(j.has("exec_ms")).isTrue();
        assertThat(Files.readString(tmp.resolve("out.txt"))).isEqualTo("made\n");
    }

    @Test
    void badInputExits2NamingTheOption() {
        CliRunner.Result unknown = CliRunner.run("sandbox", "run", "--bogus", "--", "true");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("--bogus");
        CliRunner.Result pids = CliRunner.run("sandbox", "run", "--pids", "0", "--", "true");
        assertThat(pids.exit()).isEqualTo(2);
        assertThat(pids.err().strip()).isEqualTo("ds4j: error: --pids: must be at least 1, got 0");
        CliRunner.Result sub = CliRunner.run("sandbox", "run", "--substrate", "nope", "--", "true");
        assertThat(sub.exit()).isEqualTo(2);
        assertThat(sub.err()).contains("--substrate: unknown sandbox substrate 'nope'");
        CliRunner.Result ws = CliRunner.run("sandbox", "run", "--workspace", tmp.resolve("missing").toString(), "--", "true");
        assertThat(ws.exit()).isEqualTo(2);
        assertThat(ws.err()).contains("--workspace: ").contains("is not a directory");
    }

    @Test
    void unavailableSubstrateExits2WithItsReason() {
        Substrate.Availability a = Substrates.standard().get("firecracker").availability();
        assumeTrue(!a.available(), "firecracker is available here");
        CliRunner.Result r = CliRunner.run("sandbox", "run", "--substrate", "firecracker", "--", "true");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--substrate: ").contains(a.reason());
    }

    @Test
    void substratesListsProcessAsAvailable() {
        assumeProcessSubstrate();
        CliRunner.Result r = CliRunner.run("sandbox", "substrates");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).containsPattern("(?m)^process +available ");
        assertThat(r.out()).containsPattern("(?m)^firecracker +(un)?available ");
    }
}
