package dev.ds4j.sandbox;

import static dev.ds4j.sandbox.SandboxProcessTest.hostProcessesWith;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The process substrate's escape attempts, run for real against gVisor (runsc, ptrace platform). Commands run
 * inside gVisor's kernel, so host processes are only runsc's (sentry, gofer); "nothing left behind" is checked
 * on those, on runsc's container list, the cgroups and the state directories. Each containment check has a
 * control showing that the check could see an escape.
 */
class SandboxGvisorTest {
    private static final GvisorSubstrate SUB = new GvisorSubstrate();
    private static final Map<String, String> OUTCOMES = new ConcurrentHashMap<>();
    private static final List<Long> EXEC_MS = java.util.Collections.synchronizedList(new ArrayList<>());
    /** create + one exec + close of each of 8 sandboxes started together. */
    private static final List<Long> CONCURRENT_MS = java.util.Collections.synchronizedList(new ArrayList<>());
    private static Path base;

    @BeforeAll
    static void available() throws IOException {
        long t0 = System.nanoTime();
        var a = SUB.availability();
        assumeTrue(a.available(), () -> "gvisor substrate unavailable here: " + a.reason());
        System.out.println("gvisor: " + a.reason() + " (detected in " + (System.nanoTime() - t0) / 1_000_000 + " ms)");
        base = Files.createTempDirectory("ds4j-gvtest-");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx--x--x"));
    }

    @AfterAll
    static void report() {
        if (base != null) CgroupSandbox.deleteTree(base);
        if (!EXEC_MS.isEmpty())
            System.out.println("gvisor exec of a trivial command: " + EXEC_MS.stream().sorted().toList() + " ms");
        if (!CONCURRENT_MS.isEmpty())
            System.out.println("gvisor create + exec + close, 8 at once: " + CONCURRENT_MS.stream().sorted().toList() + " ms");
        SandboxProcessTest.printOutcomes("escape attempt -> outcome (gvisor)", OUTCOMES);
    }

    /** The process tests' limits: 256 MB, 64 processes, 20 s per exec. */
    private static SandboxSpec spec() {
        return SandboxProcessTest.spec();
    }

    private static GvisorSandbox create(SandboxSpec spec) {
        return (GvisorSandbox) SUB.create(spec);
    }

    /** Nothing of the sandbox on the host: no process naming it, no runsc container, no cgroup, no state. */
    private static void assertGone(GvisorSandbox sb, Map<String, Path> cgroups) {
        assertThat(hostProcessesWith(sb.id())).as("host processes of " + sb.id()).isEmpty();
        assertThat(sb.runscContainers()).isEmpty();
        cgroups.values().forEach(d -> assertThat(d).doesNotExist());
        assertThat(Path.of("/run/ds4j-gvisor", sb.id())).doesNotExist();
    }

    @Test
    void runsInGvisorsKernelAsAnUnprivilegedUserWithAPersistentWorkspace() throws Exception {
        String hostKernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        assertThat(hostKernel).as("control: the host kernel is not the one gVisor emulates").isNotEqualTo("4.4.0");
        long c0 = System.nanoTime();
        try (GvisorSandbox sb = create(spec().withEnv("GREETING", "hi"))) {
            System.out.println("gvisor create (no container yet): " + (System.nanoTime() - c0) / 1_000_000 + " ms");
            long t0 = System.nanoTime();
            ExecResult r = sb.shell("echo hello > note.txt; id -u; pwd; echo $HOME; uname -r; echo $GREETING"
                    + " ${JAVA_HOME:-unset}; dmesg | head -1");
            EXEC_MS.add((System.nanoTime() - t0) / 1_000_000);
            assertThat(r.ok()).as(r.toString()).isTrue();
            // gVisor reports Linux 4.4.0 and its own boot log, which no real kernel prints.
            assertThat(r.stdout()).startsWith("65534\n/workspace\n/workspace\n4.4.0\nhi unset\n")
                    .contains("Starting gVisor");
            for (int i = 0; i < 3; i++) {
                t0 = System.nanoTime();
                assertThat(sb.shell("cat note.txt").stdout()).as("the workspace persists").isEqualTo("hello\n");
                EXEC_MS.add((System.nanoTime() - t0) / 1_000_000);
            }
            assertThat(sb.exec(List.of("/bin/cat"), "from stdin".getBytes()).stdout()).isEqualTo("from stdin");
            ExecResult codes = sb.shell("echo err >&2; exit 7");
            assertThat(codes.exitCode()).isEqualTo(7);
            assertThat(codes.stderr()).isEqualTo("err\n");
            // ls and stat work (the statx shim), and list what the workspace holds.
            assertThat(sb.shell("ls; stat -c %u note.txt").stdout()).isEqualTo("note.txt\n65534\n");
            Path note = sb.workspace().resolve("note.txt");
            assertThat(note).hasContent("hello");
            assertThat(Files.getAttribute(note, "unix:uid")).isEqualTo(GvisorSubstrate.UID);
            assertThat(sb.exec(List.of("no-such-command")).exitCode()).isNotZero();
            assertThat(sb.runscContainers()).as("each exec's container is gone").isEmpty();
            OUTCOMES.put("kernel seen inside", "gVisor (uname -r 4.4.0, host " + hostKernel + ")");
        }
    }

    @Test
    void networkIsOnlyLoopbackUnlessAllowed() throws IOException {
        // A service on the host's loopback: the sandbox's own loopback must not reach it, the host network must.
        try (java.net.ServerSocket host = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                while (!host.isClosed()) {
                    try (var c = host.accept()) {
                        c.getOutputStream().write("host-service\n".getBytes());
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            String probe = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; for a in 1.1.1.1:80 127.0.0.1:"
                    + host.getLocalPort() + "; do perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(PeerAddr=>"
                    + "$ARGV[0],Timeout=>3) or die \"connect $ARGV[0]: $!\\n\"; print scalar <$s>' $a; done;"
                    + " getent hosts deb.debian.org || echo dns-failed";
            try (GvisorSandbox sb = create(spec())) {
                ExecResult r = sb.shell(probe);
                assertThat(r.stdout()).as(r.toString()).isEqualTo("lo\ndns-failed\n");
                assertThat(r.stderr()).contains("connect 1.1.1.1:80:").contains("connect 127.0.0.1:");
                OUTCOMES.put("network: TCP to 1.1.1.1:80, to a host loopback service, DNS",
                        "contained (" + String.join("; ", r.stderr().trim().lines().toList()) + ")");
            }
            // runsc 20221219's host sockets can fail a blocking read with EAGAIN before data arrives (perl's
            // readline then returns nothing), so the control retries.
            try (GvisorSandbox sb = create(spec().withNetwork(true))) {
                ExecResult r = sb.shell("perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(PeerAddr=>"
                        + "\"127.0.0.1:" + host.getLocalPort() + "\") or die \"$!\\n\"; for (1..100) { last if defined sysread($s, $b, 100); select(undef, undef, undef, 0.05) } print $b'");
                assertThat(r.stdout()).as("control: --network=host reaches the host's loopback " + r).isEqualTo("host-service\n");
            }
        }
    }

    @Test
    void hostFilesOutsideTheWorkspaceAreInvisibleAndTheSystemIsReadOnly() throws IOException {
        Path hostSecret = Files.createTempFile(base, "secret", ".txt");
        Files.writeString(hostSecret, "host secret");
        Files.setPosixFilePermissions(hostSecret, PosixFilePermissions.fromString("rw-r--r--"));
        String repo = Path.of("").toAbsolutePath().toString();
        List<String> reads = List.of("/root", "/home", "/work", repo, "/etc/shadow", "/etc/hostname", hostSecret.toString());
        for (String p : reads) assertThat(Path.of(p)).as("control: the host has " + p).exists();
        List<String> writes = List.of("/usr/ds4j-escape", "/usr/bin/ds4j-escape", "/etc/ds4j-escape", "/ds4j-escape",
                "/etc/passwd", "/bin/sh");
        StringBuilder script = new StringBuilder();
        for (String p : reads) script.append("(cat ").append(p).append(" || ls ").append(p).append(") >/dev/null 2>&1 && echo 'READ ")
                .append(p).append("';");
        for (String p : writes) script.append("echo x >> ").append(p).append(" 2>/dev/null && echo 'WROTE ").append(p).append("';");
        script.append("echo ok > /tmp/t && cat /tmp/t; ls /proc | grep -c '^[0-9]'; ls /; cat /etc/passwd | wc -l");
        try (GvisorSandbox sb = create(spec())) {
            ExecResult r = sb.shell(script.toString());
            List<String> lines = r.stdout().lines().toList();
            assertThat(lines).as(r.toString()).noneMatch(l -> l.startsWith("READ") || l.startsWith("WROTE"));
            assertThat(lines.getFirst()).as("/tmp is writable").isEqualTo("ok");
            assertThat(Integer.parseInt(lines.get(1))).as("only the exec's own processes").isLessThanOrEqualTo(4);
            assertThat(lines.subList(2, lines.size() - 1)).as("the root holds no host directory")
                    .doesNotContain("root", "home", "work", "var", "opt", "boot");
            assertThat(lines.getLast()).as("the synthetic passwd, not the host's").isEqualTo("2");
        }
        assertThat(Path.of("/usr/ds4j-escape")).doesNotExist();
        assertThat(Path.of("/usr/bin/ds4j-escape")).doesNotExist();
        assertThat(Path.of("/etc/ds4j-escape")).doesNotExist();
        for (String p : reads) OUTCOMES.put("read " + (p.equals(hostSecret.toString()) ? "a world-readable host file"
                : p.equals(repo) ? "the repository (" + p + ")" : p), "contained (not visible)");
        for (String p : writes) OUTCOMES.put("write " + p, "contained (read-only)");
    }

    @Test
    void forkBombIsRefusedBySentryAndTheHostCarriesOn() throws Exception {
        try (GvisorSandbox sb = create(spec().withPids(32).withTimeout(Duration.ofSeconds(10)))) {
            long limit = Long.parseLong(Files.readString(sb.cgroupDirs().get("pids").resolve("pids.max")).trim());
            ExecResult r = sb.shell("b(){ b | b & }; b; sleep 2; echo survived");
            assertThat(r.stderr()).as(r.detail()).contains("Cannot fork");
            assertThat(r.stdout()).as("the sandbox's own shell carries on").isEqualTo("survived\n");
            assertThat(r.pidsLimitHits()).as("the host backstop of " + limit + " tasks was not needed").isZero();
            assertThat(sb.hostPids()).isEmpty();
            assertThat(new ProcessBuilder("true").start().waitFor()).as("the host still forks").isZero();
            assertThat(sb.shell("echo alive").stdout()).isEqualTo("alive\n");
            OUTCOMES.put("fork bomb (pids 32)", "contained (forks refused inside gVisor: "
                    + r.stderr().lines().filter(l -> l.contains("Cannot fork")).count() + " errors; host backstop "
                    + limit + " not reached)");
        }
    }

    @Test
    void memoryHogIsKilledByTheMemoryLimit() {
        try (GvisorSandbox sb = create(spec().withMemoryMb(64))) {
            ExecResult r = sb.shell("perl -e '$x = q(a) x 200_000_000; print length($x), qq(\\n)'; echo survived");
            assertThat(r.stdout()).doesNotContain("survived").doesNotContain("200000000");
            assertThat(r.killedByMemoryLimit()).as(r.toString()).isTrue();
            OUTCOMES.put("memory hog (200 MB in a 64 MB sandbox)", "contained (" + r.detail() + " after "
                    + r.duration().toMillis() + " ms)");
            // Control: the same command under the limit completes, in the same sandbox.
            assertThat(sb.shell("perl -e '$x = q(a) x 2_000_000; print length($x), qq(\\n)'").stdout())
                    .isEqualTo("2000000\n");
        }
    }

    @Test
    void fillingTmpStopsAtItsSize() {
        try (GvisorSandbox sb = create(spec().withMemoryMb(64))) {
            ExecResult r = sb.shell("dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1 | tail -1; wc -c < /tmp/fill");
            long written = Long.parseLong(r.stdout().lines().reduce((a, b) -> b).orElseThrow().strip());
            assertThat(written).as(r.toString()).isLessThanOrEqualTo(64L << 20).isGreaterThan(0);
            assertThat(r.stdout()).doesNotContain("209715200");
            OUTCOMES.put("filling /tmp (200 MB into a 64 MB sandbox)", "contained (/tmp full at " + (written >> 20) + " MB)");
            // Control: a file under the size is written whole.
            assertThat(sb.shell("dd if=/dev/zero of=/tmp/ok bs=1M count=8 2>/dev/null; wc -c < /tmp/ok").stdout().strip())
                    .isEqualTo(Long.toString(8L << 20));
        }
    }

    @Test
    void runawayLoopIsKilledAtTheWallClockTimeoutAndSilenceAtTheIdleTimeout() {
        try (GvisorSandbox sb = create(spec().withTimeout(Duration.ofSeconds(1)))) {
            ExecResult r = sb.shell("echo started; while :; do :; done & while :; do :; done");
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.TIMED_OUT);
            assertThat(r.stdout()).as("partial output kept").isEqualTo("started\n");
            assertThat(r.duration()).isBetween(Duration.ofMillis(900), Duration.ofSeconds(4));
            assertThat(sb.hostPids()).isEmpty();
            assertThat(sb.runscContainers()).as("the killed container is deleted").isEmpty();
            OUTCOMES.put("runaway loop (timeout 1 s)", "contained (" + r.detail() + " after " + r.duration().toMillis() + " ms)");
        }
        try (GvisorSandbox sb = create(spec().withIdleTimeout(Duration.ofMillis(700)))) {
            ExecResult r = sb.shell("echo waiting; sleep 30");
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.IDLE_TIMED_OUT);
            assertThat(r.stdout()).isEqualTo("waiting\n");
            assertThat(r.duration()).isLessThan(Duration.ofSeconds(3));
            OUTCOMES.put("silent hang (idle timeout 0.7 s)", "contained (" + r.detail() + ")");
        }
    }

    @Test
    void pauseFreezesTheSandboxAndItsClocks() throws Exception {
        // The freezer stops the sentry and its stubs, so gVisor's clocks stop with them.
        SandboxSpec limits = spec().withTimeout(Duration.ofMillis(2500)).withIdleTimeout(Duration.ofMillis(1000));
        try (Sandbox sb = create(limits)) {
            SandboxProcessTest.pauseOutlastsTheTimeouts(sb, 2600);
            OUTCOMES.put("pause mid-exec for 2.6 s (timeout 2.5 s)", "frozen, then resumed and completed");
        }
    }

    @Test
    void closeKillsARunningExecAndLeavesNothingBehind() throws Exception {
        GvisorSandbox sb = create(spec().withTimeout(Duration.ofSeconds(30)));
        Map<String, Path> cgroups = sb.cgroupDirs();
        Path workspace = sb.workspace();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor(); Sandbox guard = sb) {
            Future<ExecResult> running = ex.submit(() -> sb.shell("setsid sleep 600 & echo started; sleep 600"));
            for (int i = 0; i < 1000 && !Files.exists(sb.state.resolve("exec-1.pid")); i++) Thread.sleep(10);
            Thread.sleep(300);
            List<Long> pids = sb.hostPids();
            assertThat(pids).as("control: the sentry and gofer run on the host").isNotEmpty();
            assertThat(hostProcessesWith(sb.id())).as("control: host processes name the sandbox").isNotEmpty();
            assertThat(sb.runscContainers()).as("control: runsc lists the running container").hasSize(1);
            sb.close();
            ExecResult r = running.get();
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.CLOSED);
            for (long pid : pids) assertThat(running(pid)).as("pid " + pid).isFalse();
            OUTCOMES.put("processes running when the sandbox closes", "gone (" + pids.size()
                    + " host pids killed, runsc state deleted)");
        }
        assertGone(sb, cgroups);
        assertThat(workspace).as("private workspace removed").doesNotExist();
        sb.close(); // idempotent
        assertThatThrownBy(() -> sb.shell("true")).isInstanceOf(SandboxException.class).hasMessageContaining("closed");
    }

    /**
     * Whether a host process runs (a zombie does not). runsc's ptrace stubs outlive every sentry, also on a
     * normal exit, as zombies handed to the host's PID 1, which reaps them within seconds.
     */
    private static boolean running(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void nothingLeaksBetweenTwoSandboxes() throws Exception {
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor();
             GvisorSandbox a = create(spec()); GvisorSandbox b = create(spec())) {
            assertThat(a.shell("echo a-secret > secret.txt").ok()).isTrue();
            Future<ExecResult> longRunning = ex.submit(() -> a.shell("echo a-tmp > /tmp/t; sleep 555"));
            for (int i = 0; i < 1000 && a.runscContainers().isEmpty(); i++) Thread.sleep(10);
            ExecResult look = b.shell("ls -A /workspace; cat /tmp/t; ps -e -o args= | grep -c '[5]55';"
                    + " find / -xdev -name secret.txt 2>/dev/null; kill -9 -1; echo end");
            assertThat(look.stdout()).as(look.toString()).isEqualTo("0\nend\n");
            assertThat(a.runscContainers()).as("A's container survives B's kill -1").hasSize(1);
            a.close();
            assertThat(longRunning.get().outcome()).isEqualTo(ExecResult.Outcome.CLOSED);
            OUTCOMES.put("see/signal another sandbox's files and processes", "contained");
        }
    }

    @Test
    void eightConcurrentSandboxesLeaveNothingBehind() throws Exception {
        List<GvisorSandbox> all = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Map<String, Path>> cgroups = java.util.Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        try (ExecutorService ex = Executors.newFixedThreadPool(8)) {
            List<Future<String>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int n = i;
                fs.add(ex.submit(() -> {
                    long c0 = System.nanoTime();
                    try (GvisorSandbox sb = create(spec())) {
                        all.add(sb);
                        cgroups.add(sb.cgroupDirs());
                        String out = sb.shell("echo " + n + " > n; sleep 100 & cat n").stdout().trim();
                        CONCURRENT_MS.add((System.nanoTime() - c0) / 1_000_000);
                        return out;
                    }
                }));
            }
            for (int i = 0; i < 8; i++) assertThat(fs.get(i).get()).isEqualTo(Integer.toString(i));
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(all).hasSize(8);
        for (int i = 0; i < 8; i++) assertGone(all.get(i), cgroups.get(i));
        all.forEach(sb -> assertThat(sb.workspace()).doesNotExist());
        OUTCOMES.put("8 concurrent sandboxes", "no processes, runsc containers, cgroups or state left (" + ms + " ms)");
    }

    @Test
    void layeredImagesRunUnderGvisorAndSnapshot() throws Exception {
        assumeTrue(Substrates.onPath("mkfs.erofs") != null, "mkfs.erofs missing: apt-get install -y erofs-utils");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/busybox")), "/usr/bin/busybox missing: apt-get install -y busybox-static");
        Path dir = Files.createDirectories(base.resolve("image/bin"));
        Files.copy(Path.of("/usr/bin/busybox"), dir.resolve("busybox"));
        for (String app : List.of("sh", "cat", "echo", "ls", "rm", "uname", "test"))
            Files.createSymbolicLink(dir.resolve(app), Path.of("busybox"));
        Files.createDirectories(base.resolve("image/etc"));
        Files.writeString(base.resolve("image/etc/greeting"), "from the image\n");
        Path layer = Layer.fromDirectory(base.resolve("image"), base.resolve("base.erofs"));
        Path snap = base.resolve("snap.erofs");
        String mine = CgroupV1.PREFIX + ProcessHandle.current().pid() + "-";
        try (GvisorSandbox a = create(spec().withImage(Image.of(layer)));
             GvisorSandbox b = create(spec().withImage(Image.of(layer)))) {
            ExecResult r = a.shell("uname -r; cat /etc/greeting; test -e /usr/bin/bwrap && echo host-visible || echo host-hidden;"
                    + " echo changed > /etc/greeting; rm /bin/rm");
            assertThat(r.stdout()).as(r.toString()).isEqualTo("4.4.0\nfrom the image\nhost-hidden\n");
            assertThat(b.shell("cat /etc/greeting; test -e /bin/rm && echo rm-present").stdout())
                    .as("a second sandbox on the same image").isEqualTo("from the image\nrm-present\n");
            a.snapshot(snap);
        }
        try (GvisorSandbox c = create(spec().withImage(Image.of(snap, layer)))) {
            assertThat(c.shell("cat /etc/greeting; test -e /bin/rm || echo rm-gone").stdout()).isEqualTo("changed\nrm-gone\n");
        }
        List<String> mounts = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().map(l -> l.split(" ")[4])
                .filter(mp -> mp.contains(mine)).toList();
        assertThat(mounts).as("image mounts left after close").isEmpty();
        OUTCOMES.put("writing to the image (layered EROFS under gVisor)", "confined to the sandbox's overlay; snapshot carries it");
    }
}
