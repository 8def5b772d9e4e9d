package dev.ds4j.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vm substrate on a real QEMU guest. One VM serves the whole class (a TCG boot is ≈ 8 s of CPU); the last
 * step, in {@link #closeLeavesNothing}, closes it and checks that no QEMU is left. When the guest image is
 * missing the class builds it once with tools/vm-image.sh (≈ 10 s, downloads ≈ 70 MB of Debian packages); if
 * that fails (no Debian mirror), the tests are skipped with the script's output.
 */
class VmSandboxTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(6);
    static VmSandbox vm;
    static Path ws;
    static String imageKernel;

    @BeforeAll
    static void boot(@TempDir Path tmp) throws Exception {
        assumeTrue(Substrates.onPath("qemu-system-x86_64") != null, "qemu-system-x86_64 is not installed");
        Path props = VmImage.defaultDir().resolve("image.properties");
        if (!Files.isRegularFile(props)) {
            Process p = new ProcessBuilder("tools/vm-image.sh").redirectErrorStream(true).start();
            boolean ended = p.waitFor(5, TimeUnit.MINUTES);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!ended) p.destroyForcibly();
            assumeTrue(ended && p.exitValue() == 0, "could not build the vm guest image: " + out);
        }
        Properties pr = new Properties();
        try (var r = Files.newBufferedReader(props)) {
            pr.load(r);
        }
        imageKernel = pr.getProperty("kernel");
        VmSubstrate sub = new VmSubstrate();
        assertThat(sub.availability().available()).as(sub.availability().reason()).isTrue();
        assertThat(sub.availability().reason()).contains(VmSubstrate.kvm() ? "KVM" : "TCG");
        ws = Files.createDirectories(tmp.resolve("work,space with comma")); // QEMU option escaping
        vm = (VmSandbox) sub.create(SandboxSpec.defaults().withWorkspace(ws).withMemoryMb(192).withPids(40)
                .withTimeout(TIMEOUT).withOutputCapBytes(64 << 10).withEnv("GREETING", "it's \"quoted\" $HOME"));
        System.out.println("vm boot: " + vm.bootTime().toMillis() + " ms, guest " + vm.guestKernel()
                + ", host load " + Files.readString(Path.of("/proc/loadavg")).strip());
    }

    @AfterAll
    static void closeLeavesNothing() throws Exception {
        if (vm == null) return;
        ProcessHandle qemu = vm.qemuProcess();
        assertThat(qemu.isAlive()).isTrue();
        vm.close();
        assertThat(qemu.isAlive()).as("QEMU after close").isFalse();
        assertThat(ProcessHandle.current().descendants()
                .filter(h -> h.info().command().orElse("").contains("qemu"))).as("QEMU processes of this JVM").isEmpty();
        assertThat(ws).exists(); // a given workspace is kept
        try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            assertThat(s.filter(p -> p.getFileName().toString().startsWith(vm.id() + "-"))).as("state dir").isEmpty();
        }
        assertThatThrownBy(() -> vm.shell("true")).isInstanceOf(SandboxException.class).hasMessageContaining("closed");
        vm.close(); // idempotent
    }

    @Test
    void runsTheGuestKernelNotTheHosts() throws IOException {
        ExecResult r = vm.exec(List.of("uname", "-r"));
        assertThat(r.ok()).as(r.toString()).isTrue();
        String host = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        assertThat(r.stdout().strip()).isEqualTo(imageKernel).startsWith("6.1.").isNotEqualTo(host);
        assertThat(vm.guestKernel()).isEqualTo(imageKernel);
        // Round trip of a trivial exec, for the record.
        long t0 = System.nanoTime();
        for (int i = 0; i < 5; i++) assertThat(vm.exec(List.of("true")).ok()).isTrue();
        System.out.println("vm exec round trip: " + (System.nanoTime() - t0) / 5_000_000 + " ms");
    }

    @Test
    void workspaceIsSharedBothWaysAndPersists() throws IOException {
        Files.writeString(ws.resolve("from-host.txt"), "written by the host\n");
        ExecResult r = vm.shell("cat /workspace/from-host.txt && pwd && echo made-in-guest > /workspace/from-guest.txt");
        assertThat(r.ok()).as(r.toString()).isTrue();
        assertThat(r.stdout()).isEqualTo("written by the host\n/workspace\n");
        assertThat(Files.readString(ws.resolve("from-guest.txt"))).isEqualTo("made-in-guest\n");
        // A later exec (a new process in the guest) still sees it.
        assertThat(vm.shell("cat from-guest.txt").stdout()).isEqualTo("made-in-guest\n");
    }

    @Test
    void exitCodesStderrStdinAndEnvironmentComeBack() {
        ExecResult r = vm.exec(List.of("/bin/sh", "-c", "echo out; echo err >&2; exit 7"));
        assertThat(r.exitCode()).isEqualTo(7);
        assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.EXITED);
        assertThat(r.stdout()).isEqualTo("out\n");
        assertThat(r.stderr()).isEqualTo("err\n");
        assertThat(vm.exec(List.of("no-such-command")).exitCode()).isEqualTo(127);
        // argv is passed exactly, quotes and $ included; the environment is the spec's, not the agent's.
        ExecResult a = vm.exec(List.of("printf", "[%s]", "a b", "it's", "$HOME", "x=y"));
        assertThat(a.stdout()).isEqualTo("[a b][it's][$HOME][x=y]");
        ExecResult env = vm.exec(List.of("env"));
        assertThat(env.stdout()).contains("GREETING=it's \"quoted\" $HOME\n", "HOME=/workspace\n")
                .doesNotContain("TERM=");
    }

    @Test
    void binaryAndMarkerLikeBytesAreNotConfused() throws Exception {
        byte[] all = new byte[256 * 40];
        for (int i = 0; i < all.length; i++) all[i] = (byte) (i * 7 + i / 256);
        Files.write(ws.resolve("bytes.bin"), all);
        ExecResult r = vm.exec(List.of("cat", "/workspace/bytes.bin"));
        assertThat(r.stdoutBytes()).isEqualTo(all.length);
        assertThat(r.stdout()).isEqualTo(new String(all, StandardCharsets.UTF_8));
        // Lines that look like the protocol's own, on both streams.
        String fake = "E\nD" + "QUJD" + "\nDONE 1 0 0 0\nREADY x\n";
        ExecResult m = vm.exec(List.of("/bin/sh", "-c", "printf '%s' \"$1\"; printf '%s' \"$1\" >&2; exit 3", "sh", fake));
        assertThat(m.exitCode()).isEqualTo(3);
        assertThat(m.stdout()).isEqualTo(fake);
        assertThat(m.stderr()).isEqualTo(fake);
        // Binary stdin arrives intact: the guest's md5 equals ours.
        String md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(all));
        assertThat(vm.exec(List.of("md5sum"), all).stdout()).isEqualTo(md5 + "  -\n");
        // More output than the cap: head and tail kept, every byte counted.
        ExecResult big = vm.shell("seq 1 60000");
        assertThat(big.stdoutBytes()).isEqualTo(seqBytes(60000));
        assertThat(big.stdoutTruncated()).isTrue();
        assertThat(big.stdout()).startsWith("1\n2\n3\n").endsWith("59999\n60000\n");
    }

    private static long seqBytes(int n) {
        long b = 0;
        for (int i = 1; i <= n; i++) b += Integer.toString(i).length() + 1;
        return b;
    }

    @Test
    void runawayLoopIsKilledAtTheTimeoutAndTheVmServesOn() {
        long t0 = System.nanoTime();
        ExecResult r = vm.shell("sleep 1000 & echo started; while :; do :; done");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("vm timeout: ended after " + ms + " ms (limit " + TIMEOUT.toMillis() + "): " + r.detail());
        assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.TIMED_OUT);
        assertThat(r.exitCode()).isEqualTo(137);
        assertThat(r.stdout()).isEqualTo("started\n"); // output before the kill is kept
        assertThat(ms).isBetween(TIMEOUT.toMillis(), TIMEOUT.toMillis() + VmSandbox.KILL_WAIT_MS);
        assertThat(vm.broken()).isNull();
        // The background sleep died with the loop: the guest killed the exec's whole cgroup.
        ExecResult ps = vm.shell("ps -o comm | grep -c '^sleep' || true");
        assertThat(ps.ok()).as(ps.toString()).isTrue();
        assertThat(ps.stdout().strip()).isEqualTo("0");
    }

    @Test
    void memoryHogIsKilledByTheMemoryLimitAndTheVmServesOn() {
        // Control: 1 MB of string is fine under the 192 MB limit.
        ExecResult small = vm.shell("awk 'BEGIN{s=\"x\"; for (i = 0; i < 20; i++) s = s s; print length(s)}'");
        assertThat(small.stdout().strip()).as(small.toString()).isEqualTo("1048576");
        // The hog doubles a string until something stops it: the exec's guest cgroup (192 MB), before the guest's RAM.
        ExecResult hog = vm.shell("echo hogging; awk 'BEGIN{s=\"x\"; while (1) s = s s}'");
        System.out.println("vm memory hog: " + hog.detail());
        assertThat(hog.killedByMemoryLimit()).as(hog.toString()).isTrue();
        assertThat(hog.oomKills()).isPositive();
        assertThat(hog.stdout()).isEqualTo("hogging\n");
        assertThat(vm.broken()).isNull();
        assertThat(vm.shell("echo still here").stdout()).isEqualTo("still here\n");
    }

    @Test
    void pauseStopsTheWholeVmAndTheExecsClocks() throws Exception {
        java.util.concurrent.atomic.AtomicReference<ExecResult> result = new java.util.concurrent.atomic.AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> result.set(vm.shell("sleep 2; echo done")));
        Thread.sleep(300);
        vm.pause();
        long pausedFor = TIMEOUT.toMillis() + 1000; // longer than the exec's own timeout
        Thread.sleep(pausedFor / 2);
        // QEMU itself is stopped (state T), so nothing in the guest runs.
        String stat = Files.readString(Path.of("/proc/" + vm.qemuProcess().pid() + "/stat"));
        assertThat(stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)).isEqualTo("T");
        Thread.sleep(pausedFor / 2);
        assertThat(result.get()).as("the exec must not end while paused").isNull();
        vm.resume();
        t.join(30_000);
        ExecResult r = result.get();
        assertThat(r).isNotNull();
        assertThat(r.outcome()).as(r.toString()).isEqualTo(ExecResult.Outcome.EXITED);
        assertThat(r.stdout()).isEqualTo("done\n");
        assertThat(r.duration().toMillis()).isGreaterThan(pausedFor);
        assertThat(vm.shell("echo after").stdout()).isEqualTo("after\n");
    }

    @Test
    void pidsLimitStopsAForkBomb() {
        ExecResult r = vm.shell("for i in $(seq 60); do sleep 1 & done 2>/dev/null; wait; echo done");
        assertThat(r.pidsLimitHits()).as(r.toString()).isPositive();
        assertThat(r.detail()).contains("pids limit of 40");
    }

    @Test
    void noNetworkAndNoHostFiles() throws IOException {
        assertThat(vm.shell("ls /sys/class/net").stdout()).isEqualTo("lo\n");
        ExecResult ping = vm.shell("ping -c 1 -W 1 10.0.2.2");
        assertThat(ping.exitCode()).isNotZero();
        assertThat(ping.stderr()).contains("unreachable");
        // A host file that certainly exists (this project's pom.xml) is not there, nor are the host's trees.
        Path pom = Path.of("pom.xml").toAbsolutePath();
        assertThat(pom).exists();
        ExecResult r = vm.shell("test -e '" + pom + "' && echo visible; ls /; test -e /etc/shadow && echo shadow; true");
        assertThat(r.stdout()).doesNotContain("visible", "shadow", "home", "work\n", "var");
        assertThat(r.stdout()).contains("workspace\n", "bin\n");
    }

    @Test
    void aLayeredImageIsRefusedNotIgnored(@TempDir Path dir) throws IOException {
        Path layer = Files.writeString(dir.resolve("base.erofs"), "not read: the substrate refuses before mounting");
        assertThatThrownBy(() -> new VmSubstrate().create(SandboxSpec.defaults().withImage(Image.of(layer))))
                .isInstanceOf(SandboxException.class).hasMessageContaining("cannot use layered images");
    }

    @Test
    void missingImageMakesTheSubstrateUnavailableWithTheFix(@TempDir Path empty) {
        VmSubstrate sub = new VmSubstrate(empty, Duration.ofSeconds(1));
        assertThat(sub.availability().available()).isFalse();
        assertThat(sub.availability().reason()).contains("no vm guest image in " + empty, "tools/vm-image.sh " + empty);
        assertThatThrownBy(() -> sub.create(SandboxSpec.defaults())).isInstanceOf(SubstrateUnavailableException.class)
                .hasMessageContaining("tools/vm-image.sh");
    }
}
