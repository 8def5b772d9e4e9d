package dev.ds4j.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Escape attempts against the process substrate, run for real through bwrap and cgroups. Each attempt is
 * recorded with its outcome and the table is printed at the end. Every containment check has a control
 * showing the check would see the escape (the host has the file, the process is visible from the host, …).
 */
class SandboxProcessTest {
    private static final ProcessSubstrate SUB = new ProcessSubstrate();
    private static final Map<String, String> OUTCOMES = new ConcurrentHashMap<>();
    private static Path base; // a searchable parent for workspaces the tests pass in

    @BeforeAll
    static void available() throws IOException {
        var a = SUB.availability();
        assumeTrue(a.available(), () -> "process substrate unavailable here: " + a.reason());
        base = Files.createTempDirectory("ds4j-sbtest-");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx--x--x"));
    }

    @AfterAll
    static void report() {
        if (base != null) ProcessSandbox.deleteTree(base);
        printOutcomes("escape attempt -> outcome", OUTCOMES);
    }

    static void printOutcomes(String title, Map<String, String> outcomes) {
        if (outcomes.isEmpty()) return;
        System.out.println(title);
        outcomes.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> System.out.println("  " + e.getKey() + " -> " + e.getValue()));
    }

    static SandboxSpec spec() {
        return SandboxSpec.defaults().withTimeout(Duration.ofSeconds(20)).withMemoryMb(256).withPids(64);
    }

    /**
     * Host pids whose command line contains the marker (an independent view of the host, not the cgroup's).
     * Commands build their markers with shell arithmetic, so the marker is not in the text of the command
     * line of the runtime's own wrapper processes, only in the processes started inside.
     */
    static List<Long> hostProcessesWith(String marker) {
        List<Long> found = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc"))) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.chars().allMatch(Character::isDigit)) continue;
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmd.contains(marker) && !cmd.contains("grep")) found.add(Long.parseLong(n));
                } catch (IOException e) {
                    // exited meanwhile
                }
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        return found;
    }

    private static void awaitHostProcess(String marker) throws InterruptedException {
        for (int i = 0; i < 500 && hostProcessesWith(marker).isEmpty(); i++) Thread.sleep(10);
        assertThat(hostProcessesWith(marker)).as("control: host sees the sandbox's process " + marker).isNotEmpty();
    }

    @Test
    void runsCommandsInAStatefulWorkspaceAsAnUnprivilegedUser() throws IOException {
        try (Sandbox sb = SUB.create(spec())) {
            ExecResult r = sb.shell("echo hello > note.txt; id -u; pwd; echo $HOME");
            assertThat(r.ok()).as(r.toString()).isTrue();
            assertThat(r.stdout()).isEqualTo("1000\n/workspace\n/workspace\n");
            assertThat(sb.shell("cat note.txt").stdout()).isEqualTo("hello\n");
            assertThat(sb.exec(List.of("/bin/cat"), "from stdin".getBytes()).stdout()).isEqualTo("from stdin");
            assertThat(sb.shell("exit 7").exitCode()).isEqualTo(7);
            assertThat(sb.shell("echo err >&2").stderr()).isEqualTo("err\n");
            // The workspace on the host holds the file, owned by the unprivileged host uid.
            Path note = sb.workspace().resolve("note.txt");
            assertThat(note).hasContent("hello");
            assertThat(Files.getAttribute(note, "unix:uid")).isEqualTo(ProcessSubstrate.HOST_UID);
            // Host environment variables do not leak in; the spec's do.
            assertThat(sb.shell("echo ${JAVA_HOME:-unset}").stdout()).isEqualTo("unset\n");
            ExecResult missing = sb.exec(List.of("no-such-command"));
            assertThat(missing.exitCode()).isNotZero();
            assertThat(missing.stderr()).contains("no-such-command");
            // No descriptor of the runtime's (the bwrap info file, cgroup files) is open in the sandbox.
            assertThat(sb.shell("ls /proc/$$/fd").stdout()).isEqualTo("0\n1\n2\n");
        }
        try (Sandbox sb = SUB.create(spec().withEnv("GREETING", "hi"))) {
            assertThat(sb.shell("echo $GREETING").stdout()).isEqualTo("hi\n");
        }
    }

    @Test
    void networkIsOnlyLoopbackUnlessAllowed() throws IOException {
        String connect = "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(PeerAddr=>\"1.1.1.1:80\",Timeout=>3)"
                + " or die \"connect: $!\\n\"; print \"connected\\n\"'";
        try (Sandbox sb = SUB.create(spec())) {
            ExecResult ifaces = sb.shell("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
            assertThat(ifaces.stdout()).isEqualTo("lo\n");
            ExecResult c = sb.shell(connect);
            assertThat(c.exitCode()).isNotZero();
            assertThat(c.stderr()).contains("connect:");
            ExecResult dns = sb.shell("getent hosts deb.debian.org");
            assertThat(dns.exitCode()).isNotZero();
            OUTCOMES.put("network: TCP connect to 1.1.1.1:80", "contained (" + c.stderr().trim() + ")");
            OUTCOMES.put("network: DNS lookup", "contained (getent exit " + dns.exitCode() + ")");
        }
        // Control: with network allowed the sandbox sees the host's interfaces, so the check above can fail.
        List<String> hostIfaces = Files.readAllLines(Path.of("/proc/net/dev")).stream().skip(2)
                .map(l -> l.split(":")[0].trim()).filter(n -> !n.equals("lo")).toList();
        assumeTrue(!hostIfaces.isEmpty(), "host has only loopback; no control possible");
        try (Sandbox sb = SUB.create(spec().withNetwork(true))) {
            assertThat(sb.shell("cat /proc/net/dev").stdout()).contains(hostIfaces.getFirst() + ":");
        }
    }

    @Test
    void hostFilesOutsideTheWorkspaceAreInvisible() throws IOException {
        Path hostSecret = Files.createTempFile(base, "secret", ".txt");
        Files.writeString(hostSecret, "host secret");
        Files.setPosixFilePermissions(hostSecret, PosixFilePermissions.fromString("rw-r--r--"));
        assertThat(Path.of("/root")).as("control: host has /root").isDirectory();
        try (Sandbox sb = SUB.create(spec())) {
            for (String path : List.of("/root", "/home", "/work", "/etc/shadow", "/etc/hostname", hostSecret.toString())) {
                ExecResult r = sb.shell("cat " + path + " || ls " + path);
                assertThat(r.exitCode()).as(path).isNotZero();
                assertThat(r.stdout()).as(path).isEmpty();
                OUTCOMES.put("read " + (path.equals(hostSecret.toString()) ? "a world-readable host file" : path),
                        "contained (" + r.stderr().lines().reduce((a, b) -> b).orElse("").trim() + ")");
            }
            // Only the sandbox's own processes in /proc, and root-only kernel files stay closed.
            ExecResult ps = sb.shell("ls /proc | grep -c '^[0-9]'");
            assertThat(Integer.parseInt(ps.stdout().trim())).isLessThanOrEqualTo(4);
            ExecResult kpage = sb.shell("head -c 8 /proc/kpageflags | od | head -1");
            assertThat(kpage.stderr()).contains("Permission denied");
            OUTCOMES.put("read /proc/kpageflags", "contained (Permission denied)");
            ExecResult up = sb.shell("ls /workspace/..; cd /workspace/../..; ls");
            assertThat(up.stdout()).doesNotContain("work\n").doesNotContain("root\n");
        }
    }

    @Test
    void systemDirectoriesAreReadOnly() {
        try (Sandbox sb = SUB.create(spec())) {
            for (String target : List.of("/usr/ds4j-escape", "/usr/bin/ds4j-escape", "/etc/ds4j-escape",
                    "/ds4j-escape", "/etc/passwd", "/bin/sh")) {
                ExecResult r = sb.shell("echo x >> " + target);
                assertThat(r.exitCode()).as(target).isNotZero();
                OUTCOMES.put("write " + target, "contained (" + r.stderr().trim() + ")");
            }
            assertThat(Path.of("/usr/ds4j-escape")).doesNotExist();
            assertThat(Path.of("/usr/bin/ds4j-escape")).doesNotExist();
            assertThat(sb.shell("echo ok > /tmp/t && cat /tmp/t").stdout()).as("/tmp is writable").isEqualTo("ok\n");
        }
    }

    @Test
    void forkBombHitsThePidsLimitAndTheHostCarriesOn() throws Exception {
        try (Sandbox sb = SUB.create(spec().withPids(32).withTimeout(Duration.ofSeconds(2)))) {
            ExecResult r = sb.shell("b(){ b | b & }; b; sleep 5");
            assertThat(r.pidsLimitHits()).as(r.toString()).isPositive();
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.TIMED_OUT);
            assertThat(((ProcessSandbox) sb).hostPids()).isEmpty();
            // The host still forks.
            assertThat(new ProcessBuilder("true").start().waitFor()).isZero();
            // And the sandbox is usable again.
            assertThat(sb.shell("echo alive").stdout()).isEqualTo("alive\n");
            OUTCOMES.put("fork bomb (pids 32)", "contained (" + r.pidsLimitHits() + " forks refused, killed at timeout)");
        }
    }

    @Test
    void memoryHogIsKilledByTheMemoryLimit() {
        try (Sandbox sb = SUB.create(spec().withMemoryMb(64))) {
            ExecResult r = sb.shell("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}");
            assertThat(r.stdout()).doesNotContain("survived");
            assertThat(r.oomKills()).as(r.toString()).isPositive();
            assertThat(r.killedByMemoryLimit()).as(r.toString()).isTrue();
            assertThat(r.detail()).contains("memory limit");
            OUTCOMES.put("memory hog (200 MB in a 64 MB sandbox)", "contained (" + r.detail() + ")");
            // Control: the same command under the limit completes.
            assertThat(sb.shell("x=$(head -c 2000000 /dev/zero | tr '\\0' a); echo survived ${#x}").stdout())
                    .isEqualTo("survived 2000000\n");
        }
    }

    @Test
    void fillingTmpIsBoundedByTheMemoryLimit() {
        // /tmp is a tmpfs of the memory limit's size, and its pages are charged to the sandbox's memory cgroup.
        try (Sandbox sb = SUB.create(spec().withMemoryMb(64))) {
            ExecResult r = sb.shell("head -c 300000000 /dev/zero > /tmp/big; echo rc=$?; du -m /tmp/big | cut -f1");
            assertThat(r.stdout()).doesNotContain("rc=0");
            assertThat(r.stderr() + r.detail()).containsAnyOf("No space left", "memory limit");
            OUTCOMES.put("fill /tmp with 300 MB (limit 64 MB)", "contained (" + (r.stderr().isBlank() ? r.detail()
                    : r.stderr().lines().findFirst().orElse("")) + ")");
            assertThat(sb.shell("echo ok").stdout()).as("a new exec gets a fresh /tmp").isEqualTo("ok\n");
        }
    }

    @Test
    void runawayLoopIsKilledAtTheWallClockTimeout() throws Exception {
        try (Sandbox sb = SUB.create(spec().withTimeout(Duration.ofSeconds(1)))) {
            ExecResult r = sb.shell("echo started; while :; do :; done & while :; do :; done");
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.TIMED_OUT);
            assertThat(r.stdout()).as("partial output kept").isEqualTo("started\n");
            assertThat(r.duration()).isBetween(Duration.ofMillis(900), Duration.ofSeconds(4));
            assertThat(((ProcessSandbox) sb).hostPids()).isEmpty();
            OUTCOMES.put("runaway loop (timeout 1 s)", "contained (" + r.detail() + " after " + r.duration().toMillis() + " ms)");
        }
    }

    @Test
    void silentCommandIsKilledAtTheIdleTimeout() {
        try (Sandbox sb = SUB.create(spec().withTimeout(Duration.ofSeconds(10)).withIdleTimeout(Duration.ofMillis(500)))) {
            ExecResult r = sb.shell("echo waiting; sleep 30");
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.IDLE_TIMED_OUT);
            assertThat(r.stdout()).isEqualTo("waiting\n");
            assertThat(r.duration()).isLessThan(Duration.ofSeconds(3));
            OUTCOMES.put("silent hang (idle timeout 0.5 s)", "contained (" + r.detail() + ")");
            // Control: output every 0.1 s for 1.2 s keeps a command alive past the idle timeout.
            ExecResult chatty = sb.shell("for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo $i; sleep 0.1; done");
            assertThat(chatty.ok()).as(chatty.toString()).isTrue();
        }
    }

    @Test
    void outputIsCappedKeepingBothEnds() {
        try (Sandbox sb = SUB.create(spec().withOutputCapBytes(1 << 20))) {
            ExecResult r = sb.shell("echo FIRST; yes | head -c 5000000; echo; echo LAST");
            assertThat(r.ok()).isTrue();
            assertThat(r.stdoutTruncated()).isTrue();
            assertThat(r.stdoutBytes()).isEqualTo(6 + 5_000_000 + 1 + 5);
            String s = r.stdout();
            assertThat(s.length()).isEqualTo(1 << 20);
            assertThat(s.substring(0, 10)).isEqualTo("FIRST\ny\ny\n");
            assertThat(s.substring(s.length() - 10)).isEqualTo("y\ny\n\nLAST\n"); // echo's empty line, then LAST
            OUTCOMES.put("flood stdout (5 MB, cap 1 MB)", "contained (kept " + r.stdout().length() + " of " + r.stdoutBytes() + " bytes)");
        }
    }

    @Test
    void cpuLimitThrottles() throws IOException {
        for (double cpus : new double[]{0.2, 2.0}) {
            try (Sandbox sb = SUB.create(spec().withCpus(cpus))) {
                ExecResult r = sb.shell("timeout 1 sh -c 'while :; do :; done'; true");
                assertThat(r.ok()).isTrue();
                String stat = Files.readString(((ProcessSandbox) sb).cgroupDirs().get("cpu").resolve("cpu.stat"));
                long throttled = Long.parseLong(stat.lines().filter(l -> l.startsWith("nr_throttled"))
                        .findFirst().orElseThrow().split(" ")[1]);
                if (cpus < 1) assertThat(throttled).as("throttled periods at %s cpus", cpus).isGreaterThan(3);
                else assertThat(throttled).as("control: one busy core under a 2-core quota").isZero();
            }
        }
    }

    @Test
    void pauseFreezesProcessesAndTheirClocks() throws Exception {
        SandboxSpec limits = spec().withTimeout(Duration.ofMillis(1500)).withIdleTimeout(Duration.ofMillis(700));
        try (Sandbox sb = SUB.create(limits)) {
            pauseOutlastsTheTimeouts(sb, 2000);
            OUTCOMES.put("pause mid-exec for 2 s (timeout 1.5 s)", "frozen, then resumed and completed");
        }
    }

    /** Pauses an exec of {@code sb} for {@code pauseMs}, longer than its timeouts, then lets it complete. */
    static void pauseOutlastsTheTimeouts(Sandbox sb, long pauseMs) throws Exception {
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            Path n = sb.workspace().resolve("n");
            Future<ExecResult> run = ex.submit(() -> sb.shell(
                    "i=0; while [ $i -lt 20 ]; do echo $i >> n; echo $i; i=$((i+1)); sleep 0.03; done"));
            for (int i = 0; i < 500 && lines(n) < 3; i++) Thread.sleep(10);
            sb.pause();
            long atPause = lines(n);
            assertThat(atPause).as("paused mid-run").isBetween(3L, 19L);
            Thread.sleep(pauseMs);
            assertThat(lines(n)).as("nothing runs while paused").isEqualTo(atPause);
            assertThat(run.isDone()).isFalse();
            sb.resume();
            ExecResult r = run.get();
            assertThat(r.outcome()).as(r.detail()).isEqualTo(ExecResult.Outcome.EXITED);
            assertThat(r.ok()).isTrue();
            assertThat(lines(n)).isEqualTo(20);
            // Control: the exec spanned more wall time than its timeout, so only the stopped clock let it finish.
            assertThat(r.duration()).isGreaterThan(Duration.ofMillis(pauseMs)).isGreaterThan(sb.spec().timeout());
        }
    }

    private static long lines(Path f) throws IOException {
        return Files.exists(f) ? Files.readAllLines(f).size() : 0;
    }

    @Test
    void backgroundProcessesDieWithTheirExec() throws Exception {
        try (Sandbox sb = SUB.create(spec())) {
            ExecResult r = sb.shell("setsid sh -c 'sleep 1234.5' > /dev/null 2>&1 & nohup sleep 1234.6 > /dev/null 2>&1 & echo started");
            assertThat(r.stdout()).isEqualTo("started\n");
            assertThat(hostProcessesWith("1234.5")).isEmpty();
            assertThat(hostProcessesWith("1234.6")).isEmpty();
            assertThat(((ProcessSandbox) sb).hostPids()).isEmpty();
            OUTCOMES.put("daemon left by an exec (setsid, nohup)", "gone when the exec returned");
        }
    }

    @Test
    void closeKillsARunningExecAndRemovesEverything() throws Exception {
        Sandbox sb = SUB.create(spec().withTimeout(Duration.ofSeconds(30)));
        Map<String, Path> cgroups = ((ProcessSandbox) sb).cgroupDirs();
        cgroups.values().forEach(d -> assertThat(d).as("control: cgroup exists while open").isDirectory());
        Path workspace = sb.workspace();
        // The sandbox is closed before the executor (which waits for the exec), also when an assertion fails.
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor(); Sandbox guard = sb) {
            Future<ExecResult> running = ex.submit(() -> sb.shell("a=987; setsid sleep $a.6 & sleep $a.7"));
            awaitHostProcess("987.6");
            awaitHostProcess("987.7");
            List<Long> pids = ((ProcessSandbox) sb).hostPids();
            assertThat(pids).isNotEmpty();
            sb.close();
            ExecResult r = running.get();
            assertThat(r.outcome()).isEqualTo(ExecResult.Outcome.CLOSED);
            assertThat(hostProcessesWith("987.6")).isEmpty();
            assertThat(hostProcessesWith("987.7")).isEmpty();
            for (long pid : pids) assertThat(ProcessHandle.of(pid)).as("pid " + pid).isEmpty();
            OUTCOMES.put("processes running when the sandbox closes", "gone (" + pids.size() + " host pids killed)");
        }
        cgroups.values().forEach(d -> assertThat(d).doesNotExist());
        assertThat(workspace).as("private workspace removed").doesNotExist();
        sb.close(); // idempotent
        assertThatThrownBy(() -> sb.shell("true")).isInstanceOf(SandboxException.class).hasMessageContaining("closed");
    }

    @Test
    void nothingLeaksBetweenTwoSandboxes() throws Exception {
        // The executor is closed last (it waits for A's exec, which A's close ends).
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor();
             Sandbox a = SUB.create(spec()); Sandbox b = SUB.create(spec())) {
            assertThat(a.shell("echo a-secret > secret.txt; echo a-tmp > /tmp/t").ok()).isTrue();
            Future<ExecResult> longRunning = ex.submit(() -> a.shell("n=555; sleep $n.5"));
            awaitHostProcess("555.5");
            ExecResult look = b.shell("ls -A /workspace; cat /tmp/t; grep -l '55[5].5' /proc/[0-9]*/cmdline;"
                    + " find / -xdev -name secret.txt 2>/dev/null; echo end");
            assertThat(look.stdout()).isEqualTo("end\n");
            assertThat(b.workspace()).isNotEqualTo(a.workspace());
            // Each exec is its own pid namespace, so B cannot signal A's processes even by guessing.
            ExecResult kill = b.shell("kill -9 -1; echo still-here");
            assertThat(kill.stdout()).contains("still-here");
            assertThat(hostProcessesWith("555.5")).as("A's process survives B's kill -1").isNotEmpty();
            a.close();
            assertThat(longRunning.get().outcome()).isEqualTo(ExecResult.Outcome.CLOSED);
            OUTCOMES.put("see/signal another sandbox's files and processes", "contained");
        }
    }

    @Test
    void givenWorkspaceIsKeptAndUnreachableOnesAreRefused() throws IOException {
        Path ws = base.resolve("given");
        try (Sandbox sb = SUB.create(spec().withWorkspace(ws))) {
            assertThat(sb.shell("echo kept > f").ok()).isTrue();
        }
        assertThat(ws.resolve("f")).hasContent("kept");
        Path closedDir = Files.createTempDirectory("ds4j-700-"); // rwx------ by default
        try {
            assertThatThrownBy(() -> SUB.create(spec().withWorkspace(closedDir.resolve("ws"))))
                    .isInstanceOf(SandboxException.class).hasMessageContaining("not searchable");
        } finally {
            ProcessSandbox.deleteTree(closedDir);
        }
    }

    /** A runtime to kill: creates a sandbox under args[0], prints its id, and runs a marked sleep in it. */
    public static final class Crasher {
        public static void main(String[] args) {
            Sandbox sb = new ProcessSubstrate(Path.of(args[0])).create(SandboxSpec.defaults());
            System.out.println(sb.id());
            System.out.flush();
            sb.shell("n=4321; sleep $n.9");
        }
    }

    @Test
    void runtimeKilledWithSigkillTakesItsSandboxesAlong() throws Exception {
        Path stateRoot = Files.createDirectory(base.resolve("crash-state"));
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process runtime = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                Crasher.class.getName(), stateRoot.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String id;
        try {
            id = new java.io.BufferedReader(new java.io.InputStreamReader(runtime.getInputStream())).readLine();
            assertThat(id).as("the child runtime created a sandbox").startsWith(CgroupV1.PREFIX + runtime.pid() + "-");
            awaitHostProcess("4321.9");
        } finally {
            runtime.destroyForcibly(); // kill -9: no close(), no shutdown hook
            runtime.waitFor();
        }
        for (int i = 0; i < 300 && !hostProcessesWith("4321.9").isEmpty(); i++) Thread.sleep(10);
        assertThat(hostProcessesWith("4321.9")).as("sandbox processes die with their runtime").isEmpty();
        Path cg = CgroupV1.ownParents().get("pids").resolve(id);
        assertThat(cg).as("control: the dead runtime's cgroup is still there").isDirectory();
        assertThat(new ProcessSubstrate(stateRoot).availability().available()).isTrue();
        assertThat(cg).as("reaped by the next runtime").doesNotExist();
        for (String c : CgroupV1.CONTROLLERS) assertThat(CgroupV1.ownParents().get(c).resolve(id)).doesNotExist();
        assertThat(stateRoot.resolve(id)).doesNotExist();
        OUTCOMES.put("runtime killed with SIGKILL mid-exec", "sandbox processes gone; cgroups and state reaped at next start");
    }

    @Test
    void leftoversOfADeadRuntimeAreReapedAtStart() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long deadOwner = gone.pid(); // a JVM that died without closing its sandboxes
        String name = CgroupV1.PREFIX + deadOwner + "-1";
        Path staleCgroup = CgroupV1.ownParents().get("pids").resolve(name);
        Files.createDirectory(staleCgroup);
        Process orphan = new ProcessBuilder("sleep", "600").start();
        Files.writeString(staleCgroup.resolve("cgroup.procs"), Long.toString(orphan.pid()));
        Path stateRoot = Files.createDirectory(base.resolve("state"));
        Path staleState = Files.createDirectories(stateRoot.resolve(name).resolve("workspace"));
        Path liveState = Files.createDirectories(stateRoot.resolve(CgroupV1.PREFIX + ProcessHandle.current().pid() + "-999"));
        try {
            assertThat(new ProcessSubstrate(stateRoot).availability().available()).isTrue();
            assertThat(orphan.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).as("process in the stale cgroup killed").isTrue();
            assertThat(staleCgroup).doesNotExist();
            assertThat(stateRoot.resolve(name)).doesNotExist();
            assertThat(liveState).as("a live runtime's state is left alone").isDirectory();
        } finally {
            orphan.destroyForcibly();
            orphan.waitFor();
            if (Files.exists(staleCgroup)) Files.delete(staleCgroup);
        }
        assertThat(staleState).doesNotExist();
    }

    @Test
    void thirtyTwoConcurrentSandboxesLeaveNothingBehind() throws Exception {
        List<String> ids = new ArrayList<>();
        List<Map<String, Path>> cgroups = new ArrayList<>();
        List<Path> workspaces = new ArrayList<>();
        long t0 = System.nanoTime();
        try (ExecutorService ex = Executors.newFixedThreadPool(8)) {
            List<Future<String>> fs = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                int n = i;
                fs.add(ex.submit(() -> {
                    Sandbox sb = SUB.create(spec());
                    synchronized (ids) {
                        ids.add(sb.id());
                        cgroups.add(((ProcessSandbox) sb).cgroupDirs());
                        workspaces.add(sb.workspace());
                    }
                    try (sb) {
                        ExecResult r = sb.shell("echo " + n + " > n; sleep 777." + n + " & cat n");
                        return r.stdout().trim();
                    }
                }));
            }
            for (int i = 0; i < 32; i++) assertThat(fs.get(i).get()).isEqualTo(Integer.toString(i));
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ids).hasSize(32).doesNotHaveDuplicates();
        assertThat(hostProcessesWith("sleep 777.")).isEmpty();
        for (var m : cgroups) m.values().forEach(d -> assertThat(d).doesNotExist());
        workspaces.forEach(w -> assertThat(w).doesNotExist());
        String mounts = Files.readString(Path.of("/proc/self/mountinfo"));
        for (String id : ids) assertThat(mounts).doesNotContain(id);
        for (String c : CgroupV1.CONTROLLERS) {
            Path parent = CgroupV1.ownParents().get(c);
            try (var s = Files.list(parent)) {
                assertThat(s.map(p -> p.getFileName().toString()).filter(ids::contains).toList()).isEmpty();
            }
        }
        OUTCOMES.put("32 concurrent sandboxes", "no processes, cgroups, mounts or workspaces left (" + ms + " ms)");
    }
}
