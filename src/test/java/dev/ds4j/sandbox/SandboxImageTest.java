package dev.ds4j.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Layered images on the process substrate, for real: EROFS layers built by mkfs.erofs, mounted under an
 * overlay, run through bwrap. The base layer is the host's static busybox with a few applet links, so no
 * network is needed (except by the build-script test, which skips without apt sources).
 */
class SandboxImageTest {
    private static final ProcessSubstrate SUB = new ProcessSubstrate();
    private static final String GREETING = "hello from the image";
    private static final List<String> APPLETS = List.of("sh", "cat", "echo", "ls", "rm", "mkdir", "true", "test",
            "id", "grep", "sed", "touch", "mv", "ln", "mkfifo", "readlink");
    private static Path tmp;
    private static Path base;
    private static String baseHash;

    @BeforeAll
    static void buildBase() throws Exception {
        var a = SUB.availability();
        assumeTrue(a.available(), () -> "process substrate unavailable here: " + a.reason());
        assumeTrue(Substrates.onPath("mkfs.erofs") != null, "mkfs.erofs missing: apt-get install -y erofs-utils");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/busybox")),
                "/usr/bin/busybox missing: apt-get install -y busybox-static");
        tmp = Files.createTempDirectory("ds4j-imgtest-");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
        Path dir = Files.createDirectories(tmp.resolve("base"));
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("/usr/bin/busybox"), bin.resolve("busybox"));
        for (String app : APPLETS) Files.createSymbolicLink(bin.resolve(app), Path.of("busybox"));
        Files.createDirectories(dir.resolve("usr/share"));
        Files.createSymbolicLink(dir.resolve("usr/bin"), Path.of("../bin"));
        Path etc = Files.createDirectories(dir.resolve("etc"));
        Files.writeString(etc.resolve("greeting"), GREETING + "\n");
        Files.writeString(etc.resolve("todelete"), "doomed\n");
        Files.writeString(etc.resolve("passwd"), "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/:/bin/false\n");
        Files.createDirectories(dir.resolve("opt/old"));
        Files.writeString(dir.resolve("opt/old/a"), "a\n");
        Files.writeString(dir.resolve("opt/keep"), "keep\n");
        Files.createDirectories(dir.resolve("opt/moved"));
        Files.writeString(dir.resolve("opt/moved/m"), "m\n");
        base = Layer.fromDirectory(dir, tmp.resolve("base.erofs"));
        baseHash = sha256(base);
    }

    @AfterAll
    static void cleanUp() {
        if (tmp != null) ProcessSandbox.deleteTree(tmp);
    }

    private static SandboxSpec spec(Image image) {
        return SandboxSpec.defaults().withMemoryMb(256).withPids(64).withImage(image);
    }

    private static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }

    private static String run(Sandbox sb, String script) {
        ExecResult r = sb.shell(script);
        assertThat(r.exitCode()).as("%s: %s", script, r.stderr()).isZero();
        return r.stdout();
    }

    /** Mount points of this JVM's sandboxes, read from mountinfo here rather than through {@link Mounts}. */
    private static List<String> ourMounts() throws IOException {
        String mine = CgroupV1.PREFIX + ProcessHandle.current().pid() + "-";
        return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().map(l -> l.split(" ")[4])
                .filter(mp -> mp.contains(mine)).toList();
    }

    private static List<String> ourStateDirs() throws IOException {
        String mine = CgroupV1.PREFIX + ProcessHandle.current().pid() + "-";
        Path root = Path.of("/run/ds4j-sandbox");
        if (!Files.isDirectory(root)) return List.of();
        try (var s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(mine)).toList();
        }
    }

    @Test
    void sandboxSeesTheImageAndNotTheHost() throws Exception {
        assertThat(Path.of("/usr/bin/bwrap")).exists(); // the host has it; the image does not
        try (Sandbox sb = SUB.create(spec(Image.of(base)))) {
            assertThat(run(sb, "cat /etc/greeting")).isEqualTo(GREETING + "\n");
            assertThat(sb.shell("test -e /usr/bin/bwrap || test -e /usr/bin/python3 || test -e /etc/hostname")
                    .exitCode()).isEqualTo(1);
            assertThat(run(sb, "ls /usr/bin")).contains("busybox", "cat").doesNotContain("bwrap");
            // The image's users stay, the sandbox uid gets its name from the runtime.
            assertThat(run(sb, "id -un; grep -c daemon /etc/passwd")).isEqualTo("sandbox\n1\n");
            // /workspace is still the host directory, /tmp bwrap's.
            run(sb, "echo ws > /workspace/f; echo t > /tmp/t");
            assertThat(sb.workspace().resolve("f")).hasContent("ws");
            assertThat(run(sb, "ls /")).doesNotContain("merged", "upper");
        }
    }

    @Test
    void writesStayInTheSandboxUpper() throws Exception {
        // b comes from a second substrate object on the same state root: it must share the layer mount too.
        try (Sandbox a = SUB.create(spec(Image.of(base))); Sandbox b = new ProcessSubstrate().create(spec(Image.of(base)))) {
            assertThat(Files.readAllLines(Path.of("/proc/self/mountinfo"))).as("one mount of the shared layer")
                    .filteredOn(l -> l.contains(" - erofs " + base + " ")).hasSize(1);
            assertThat(SUB.mountedLayers()).isEqualTo(1);
            run(a, "echo changed > /etc/greeting; echo new > /usr/share/new; rm /bin/ls");
            assertThat(run(a, "cat /etc/greeting /usr/share/new; test -e /bin/ls || echo gone"))
                    .isEqualTo("changed\nnew\ngone\n");
            assertThat(run(b, "cat /etc/greeting; test -e /usr/share/new || echo absent; test -e /bin/ls && echo ls"))
                    .isEqualTo(GREETING + "\nabsent\nls\n");
            Path upper = ((ProcessSandbox) a).imageRoot().resolveSibling("upper");
            assertThat(upper.resolve("etc/greeting")).hasContent("changed");
            assertThat(upper.resolve("usr/share/new")).hasContent("new");
        }
        assertThat(sha256(base)).as("layer file bytes").isEqualTo(baseHash);
        try (Sandbox c = SUB.create(spec(Image.of(base)))) {
            assertThat(run(c, "cat /etc/greeting")).isEqualTo(GREETING + "\n");
        }
    }

    @Test
    void snapshotCarriesAddedModifiedAndDeletedFiles() throws Exception {
        Path snap = tmp.resolve("snap.erofs");
        try (Sandbox a = SUB.create(spec(Image.of(base)))) {
            run(a, "echo added > /etc/added; echo modified > /etc/greeting; rm /etc/todelete;"
                    + " rm -r /opt/old; mkdir /opt/old; echo b > /opt/old/b; echo ws > /workspace/w;"
                    // A renamed image directory, a FIFO (mkfs.erofs must not open it) and a link to a host path.
                    + " mv /opt/moved /opt/renamed; mkfifo /etc/fifo; ln -s /etc/shadow /etc/link");
            long t0 = System.nanoTime();
            assertThat(a.snapshot(snap)).isEqualTo(snap);
            System.out.printf("snapshot: %d bytes in %.1f ms (base layer %d bytes)%n", Files.size(snap),
                    (System.nanoTime() - t0) / 1e6, Files.size(base));
            assertThat(run(a, "cat /etc/added")).as("still usable after a snapshot").isEqualTo("added\n");
        }
        assertThat(sha256(base)).isEqualTo(baseHash);
        try (Sandbox b = SUB.create(spec(Image.of(base).with(snap)))) {
            assertThat(run(b, "cat /etc/added /etc/greeting")).isEqualTo("added\nmodified\n");
            assertThat(b.shell("test -e /etc/todelete").exitCode()).as("whiteout hides the deleted file").isEqualTo(1);
            // The recreated directory is opaque: the old one's file stays hidden, the sibling is untouched.
            assertThat(run(b, "ls /opt/old; cat /opt/keep")).isEqualTo("b\nkeep\n");
            assertThat(run(b, "ls /opt/renamed; test -e /opt/moved || echo no-moved; test -p /etc/fifo && echo fifo;"
                    + " readlink /etc/link; test -e /etc/link || echo dangling"))
                    .isEqualTo("m\nno-moved\nfifo\n/etc/shadow\ndangling\n");
            assertThat(b.shell("test -e /workspace/w").exitCode()).as("the workspace is not in the image").isEqualTo(1);
            // The snapshot holds only the diff: no busybox binary in it.
            assertThat(Files.size(snap)).isLessThan(Files.size(base) / 10);
        }
        try (Sandbox c = SUB.create(spec(Image.of(base)))) {
            assertThat(run(c, "cat /etc/greeting /etc/todelete")).isEqualTo(GREETING + "\ndoomed\n");
        }
    }

    @Test
    void closeLeavesNoMountsOrState() throws Exception {
        List<String> before = ourMounts();
        Sandbox sb = SUB.create(spec(Image.of(base)));
        run(sb, "echo x > /etc/x");
        assertThat(ourMounts()).as("overlay and layer mounted").hasSizeGreaterThanOrEqualTo(before.size() + 2)
                .anyMatch(m -> m.contains(sb.id()));
        assertThat(ourStateDirs()).contains(sb.id());
        sb.close();
        assertThat(ourMounts()).noneMatch(m -> m.contains(sb.id()));
        assertThat(ourStateDirs()).doesNotContain(sb.id());
        if (before.isEmpty()) {
            assertThat(ourMounts()).isEmpty();
            assertThat(SUB.mountedLayers()).isZero();
        }
        assertThatThrownBy(() -> sb.snapshot(tmp.resolve("late.erofs"))).hasMessageContaining("closed");
    }

    @Test
    void staleMountsOfADeadRuntimeAreReaped() throws Exception {
        Path stateRoot = Files.createDirectories(tmp.resolve("stale-root"));
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long dead = gone.pid();
        assumeTrue(ProcessHandle.of(dead).isEmpty(), "pid reused at once");
        // What a runtime killed with -9 leaves: a shared layer mount, and a sandbox's tmpfs with its overlay.
        Path layer = Files.createDirectories(stateRoot.resolve(CgroupV1.PREFIX + dead + "-layers/0"));
        Path rw = Files.createDirectories(stateRoot.resolve(CgroupV1.PREFIX + dead + "-1/image"));
        Mounts.mount(base.toString(), layer, "erofs", Mounts.MS_RDONLY, null);
        Mounts.mount("tmpfs", rw, "tmpfs", 0, "size=1m");
        for (String d : List.of("upper", "work", "merged")) Files.createDirectories(rw.resolve(d));
        Mounts.mount("overlay", rw.resolve("merged"), "overlay", 0, "lowerdir=" + layer + ",upperdir="
                + rw.resolve("upper") + ",workdir=" + rw.resolve("work"));
        Files.writeString(rw.resolve("merged/etc/left"), "x");
        assertThat(Files.readAllLines(Path.of("/proc/self/mountinfo"))).filteredOn(l -> l.contains(stateRoot.toString()))
                .hasSize(3);
        ProcessSubstrate next = new ProcessSubstrate(stateRoot);
        assertThat(next.availability().available()).isTrue();
        assertThat(Files.readAllLines(Path.of("/proc/self/mountinfo"))).noneMatch(l -> l.contains(stateRoot.toString()));
        try (var s = Files.list(stateRoot)) {
            assertThat(s.toList()).isEmpty();
        }
    }

    @Test
    void startTimeWithAndWithoutImage() {
        int n = 20;
        long[][] img = new long[3][n], host = new long[3][n]; // create, exec of true, close
        for (int i = 0; i < n; i++) {
            createRunClose(SandboxSpec.defaults().withMemoryMb(256).withPids(64), host, i);
            createRunClose(spec(Image.of(base)), img, i);
        }
        for (long[] a : img) java.util.Arrays.sort(a);
        for (long[] a : host) java.util.Arrays.sort(a);
        System.out.printf("median of %d (create / exec true / close, ms): image %.1f / %.1f / %.1f, host /usr %.1f /"
                        + " %.1f / %.1f%n", n, img[0][n / 2] / 1e6, img[1][n / 2] / 1e6, img[2][n / 2] / 1e6,
                host[0][n / 2] / 1e6, host[1][n / 2] / 1e6, host[2][n / 2] / 1e6);
        // Mounting is a few system calls (the bwrap exec dominates); a bound that holds on a loaded 2-core machine.
        assertThat(img[0][n / 2] / 1e6).as("median create with an image, ms").isLessThan(50);
    }

    private static void createRunClose(SandboxSpec spec, long[][] t, int i) {
        long t0 = System.nanoTime();
        Sandbox sb = SUB.create(spec);
        long t1 = System.nanoTime();
        assertThat(sb.exec(List.of("true")).exitCode()).isZero();
        long t2 = System.nanoTime();
        sb.close();
        t[0][i] = t1 - t0;
        t[1][i] = t2 - t1;
        t[2][i] = System.nanoTime() - t2;
    }

    @Test
    void eightConcurrentImageSandboxesLeaveNothing() throws Exception {
        List<String> before = ourMounts();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int k = i;
                fs.add(pool.submit(() -> {
                    try (Sandbox sb = SUB.create(spec(Image.of(base)))) {
                        return run(sb, "echo " + k + " > /etc/mine; cat /etc/mine /etc/greeting");
                    }
                }));
            }
            for (int i = 0; i < 8; i++)
                assertThat(fs.get(i).get(60, TimeUnit.SECONDS)).isEqualTo(i + "\n" + GREETING + "\n");
        } finally {
            pool.shutdownNow();
        }
        assertThat(ourMounts()).containsExactlyInAnyOrderElementsOf(before);
        if (before.isEmpty()) assertThat(ourStateDirs()).isEmpty();
    }

    @Test
    void badLayersAreNamed() throws Exception {
        Path notErofs = Files.writeString(tmp.resolve("plain.erofs"), "x".repeat(4096));
        assertThatThrownBy(() -> SUB.create(spec(Image.of(notErofs))))
                .isInstanceOf(SandboxException.class).hasMessageContaining(notErofs.toString())
                .hasMessageContaining("not an EROFS image");
        Path missing = tmp.resolve("missing.erofs");
        assertThatThrownBy(() -> SUB.create(spec(Image.of(missing)))).hasMessageContaining(missing + " is not a file");
        assertThatThrownBy(() -> Layer.fromDirectory(tmp.resolve("nodir"), tmp.resolve("x.erofs")))
                .hasMessageContaining("nodir").hasMessageContaining("not a directory");
        assertThatThrownBy(() -> Layer.fromDirectory(tmp, tmp.resolve("no/such/dir/x.erofs")))
                .hasMessageContaining("mkfs.erofs failed");
        assertThatThrownBy(() -> Image.of(base, base)).hasMessageContaining("appears twice");
        try (Sandbox plain = SUB.create(SandboxSpec.defaults())) {
            assertThatThrownBy(() -> plain.snapshot(tmp.resolve("s.erofs"))).hasMessageContaining("has no image");
        }
        assertThatThrownBy(() -> new FunctionSubstrate().create(spec(Image.of(base))))
                .hasMessageContaining("cannot use an image");
    }

    /** The base-image script's busybox variant, end to end; it downloads busybox-static from the apt sources. */
    @Test
    void buildScriptMakesABootableBusyboxImage() throws Exception {
        Path out = tmp.resolve("script.erofs");
        Process p = new ProcessBuilder("tools/build-base-image.sh", out.toString(), "--variant", "busybox")
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assumeTrue(p.exitValue() != 3, () -> "apt-get download failed (no apt sources reachable): " + log);
        assertThat(p.exitValue()).as(log).isZero();
        System.out.print(log);
        try (Sandbox sb = SUB.create(spec(Image.of(out)))) {
            assertThat(run(sb, "awk 'BEGIN { print 6 * 7 }'; id -un; test -e /usr/bin/bwrap || echo no-host"))
                    .isEqualTo("42\nsandbox\nno-host\n");
        }
    }
}
