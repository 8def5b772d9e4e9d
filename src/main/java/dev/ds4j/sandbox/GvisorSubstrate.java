package dev.ds4j.sandbox;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The "gvisor" substrate (DSec's hardened container class): each exec is its own {@code runsc run} container,
 * so the command talks to gVisor's user-space kernel (the sentry) and never to the host's. Measured on the
 * project's machines (runsc 20221219 from Debian, ptrace platform): about 0.25 s per exec, against 0.05 s for
 * {@code runsc exec} into a long-lived container; the per-exec container was chosen anyway because it gives
 * the process substrate's semantics for free (fresh /tmp and no surviving process after each exec, a memory
 * kill that costs one exec and not the sandbox) and keeps the cgroup the only thing that kills.
 *
 * <p>The OCI bundle shows the command only what the process substrate shows: a read-only root built here
 * (no host /etc, /root or /home), /usr read-only with the host's /bin, /lib… links, /proc, /dev, a tmpfs /tmp
 * of the memory limit's size, /etc/alternatives and ld.so.cache, and the workspace read-write. The command
 * runs as uid/gid 65534 with no capabilities and no_new_privs; files it writes in the workspace are owned
 * by 65534 on the host, as with the process substrate. Network: {@code --network=none} (gVisor's own
 * loopback only); {@code spec.network} gives {@code --network=host}, i.e. the host's network namespace
 * through the sentry's host sockets, as the process substrate's {@code --share-net} does.
 *
 * <p>Limits: runsc runs with {@code --ignore-cgroups} inside the sandbox's own {@link CgroupV1} directories
 * (the same code as the process substrate, so timeouts, close and pause act on a frozen cgroup). Measured
 * both ways: our cgroup kills a 200 MB allocation under 64 MB in 0.3 s (the sentry is OOM-killed, the exec
 * ends with 137); runsc applying {@code linux.resources} itself also kills it but puts the cgroups outside
 * this JVM's memory cgroup, and a pids limit there is hit by the runtime's own threads. The process count is
 * gVisor's {@code RLIMIT_NPROC} (enforced by the sentry: forks fail with EAGAIN, the sandbox goes on); the
 * host pids cgroup is only a backstop sized for the sentry's threads (a fork bomb of 32 processes made 600
 * host tasks), and hitting it crashes the exec's sentry rather than the host. The memory cgroup gets
 * {@link #RUNTIME_MB} on top of the spec for the sentry and gofer themselves.
 *
 * <p>Never {@code --platform=kvm} here: on the project's kvm-pvm hosts it hangs.
 */
public final class GvisorSubstrate extends DetectingSubstrate {

    /** Sandbox uid/gid, inside and (for workspace files) on the host. */
    static final int UID = ProcessSubstrate.HOST_UID;
    /** Memory for the sentry and gofer on top of the spec's (an idle sandbox peaks at about 20 MB). */
    static final long RUNTIME_MB = 32;

    /**
     * gVisor 20221219 rejects AT_NO_AUTOMOUNT with EINVAL in statx and fstatat, which Debian 12's coreutils
     * pass, so {@code ls} and {@code stat} fail on every path. gVisor has no automounts, so dropping the flag
     * changes nothing else. Preloaded through the sandbox's own /etc/ld.so.preload.
     */
    private static final String COMPAT_C = """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <sys/stat.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            int statx(int d, const char *p, int f, unsigned int m, struct statx *b) {
                return syscall(SYS_statx, d, p, f & ~AT_NO_AUTOMOUNT, m, b);
            }
            int fstatat(int d, const char *p, struct stat *b, int f) {
                return syscall(SYS_newfstatat, d, p, b, f & ~AT_NO_AUTOMOUNT);
            }
            int fstatat64(int d, const char *p, struct stat64 *b, int f) {
                return syscall(SYS_newfstatat, d, p, b, f & ~AT_NO_AUTOMOUNT);
            }
            """;
    static final String COMPAT_SO = "/etc/ds4j/gvisor-compat.so";

    private static final AtomicLong NEXT = new AtomicLong();
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Roots built by this JVM, with what the shim step said: substrates of one JVM share the root. */
    private static final Map<Path, String> ROOTFS = new java.util.concurrent.ConcurrentHashMap<>();

    private final Path stateRoot;
    private final LayerMounts layerMounts;
    private String runsc;

    /** State (rootfs, runsc's --root, bundles, private workspaces) under /run/ds4j-gvisor. */
    public GvisorSubstrate() {
        this(Path.of("/run/ds4j-gvisor"));
    }

    public GvisorSubstrate(Path stateRoot) {
        this.stateRoot = stateRoot;
        this.layerMounts = LayerMounts.forStateRoot(stateRoot);
    }

    @Override
    public String name() {
        return "gvisor";
    }

    /** Per JVM, so a starting runtime never rebuilds a root that another one's sandboxes are using. */
    Path rootfs() {
        return stateRoot.resolve(CgroupV1.PREFIX + ProcessHandle.current().pid() + "-rootfs");
    }

    /** runsc's --root: container state of every sandbox of this substrate. */
    Path runscRoot() {
        return stateRoot.resolve("runsc");
    }

    String runsc() {
        return runsc;
    }

    @Override
    Availability detect() {
        if (!System.getProperty("os.name", "").equals("Linux")) return Availability.no("needs Linux");
        runsc = Substrates.onPath("runsc");
        if (runsc == null) return Availability.no("runsc (gVisor) is not installed: apt-get install -y runsc");
        if (!ProcessSubstrate.isRoot())
            return Availability.no("must run as root: runsc needs it to create sandboxes, and the runtime creates"
                    + " and joins cgroup v1 directories");
        String cg = CgroupV1.unusableReason();
        if (cg != null) return Availability.no(cg);
        String compat;
        try {
            var traverse = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x"));
            Files.createDirectories(stateRoot, traverse);
            Files.createDirectories(runscRoot(), traverse);
            CgroupV1.reapStale();
            reapStale();
            compat = ROOTFS.computeIfAbsent(rootfs(), r -> {
                try {
                    // A JVM that exits normally removes its root itself; one killed with -9 leaves it to reapStale.
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> CgroupSandbox.deleteTree(r), "ds4j-gvisor-rootfs"));
                    return buildRootfs();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (IOException | RuntimeException e) {
            return Availability.no("cannot prepare " + stateRoot + ": " + e.getMessage());
        }
        String smoke = smokeTest();
        if (smoke != null) return Availability.no(smoke);
        return Availability.yes(runsc + " (ptrace platform) as uid " + UID + ", cgroup v1 memory/pids/cpu/freezer; "
                + compat);
    }

    /**
     * The read-only root shared by every sandbox of this substrate: mount points, the host's top-level links
     * into /usr, a synthetic passwd/group, and the statx shim. Built once per JVM (it is tiny); a dead JVM's is
     * reaped like its sandboxes' state.
     */
    private String buildRootfs() throws IOException {
        Path r = rootfs();
        CgroupSandbox.deleteTree(r);
        for (String d : List.of("usr", "proc", "dev", "tmp", "workspace", "sys", "etc/ds4j"))
            Files.createDirectories(r.resolve(d));
        for (String d : List.of("bin", "sbin", "lib", "lib32", "lib64", "libx32")) {
            Path host = Path.of("/" + d);
            if (Files.isSymbolicLink(host)) Files.createSymbolicLink(r.resolve(d), Files.readSymbolicLink(host));
            else if (Files.isDirectory(host)) Files.createDirectory(r.resolve(d));
        }
        for (String f : concat(ProcessSandbox.ETC_ALWAYS, ProcessSandbox.ETC_NETWORK)) {
            Path host = Path.of(f), inside = r.resolve(f.substring(1));
            if (Files.isDirectory(host)) Files.createDirectories(inside);
            else if (Files.exists(host)) Files.createFile(inside);
        }
        Files.writeString(r.resolve("etc/passwd"), "root:x:0:0:root:/nonexistent:/bin/sh\n"
                + "sandbox:x:" + UID + ":" + UID + ":sandbox:/workspace:/bin/sh\n");
        Files.writeString(r.resolve("etc/group"), "root:x:0:\nsandbox:x:" + UID + ":\n");
        String cc = Substrates.onPath("cc");
        if (cc == null)
            return "no C compiler for the statx shim: ls and stat fail with EINVAL (apt-get install -y gcc)";
        Path src = stateRoot.resolve("gvisor-compat.c");
        Files.writeString(src, COMPAT_C);
        String out = run(List.of(cc, "-shared", "-fPIC", "-O2", "-o", r.resolve(COMPAT_SO.substring(1)).toString(),
                src.toString()), 60);
        Files.delete(src);
        if (out != null) return "the statx shim did not build (" + out + "): ls and stat fail with EINVAL";
        Files.writeString(r.resolve("etc/ld.so.preload"), COMPAT_SO + "\n");
        return "statx shim preloaded";
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    /** Runs a host command; null when it exits 0, else its output. */
    private static String run(List<String> cmd, int timeoutSeconds) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
                    new java.io.File("/dev/null"))).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                return cmd.getFirst() + " did not finish within " + timeoutSeconds + " s";
            }
            String out = new String(p.getInputStream().readAllBytes()).trim();
            return p.exitValue() == 0 ? null : "exit " + p.exitValue() + ": " + out;
        } catch (IOException e) {
            return "cannot run " + cmd.getFirst() + ": " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** Starts one container with {@code ls /} (the shim's target), to catch a runsc that cannot run here. */
    private String smokeTest() {
        String id = CgroupV1.PREFIX + ProcessHandle.current().pid() + "-smoke";
        Path bundle = stateRoot.resolve(id);
        try {
            CgroupSandbox.deleteTree(bundle);
            Path ws = Files.createDirectories(bundle.resolve("workspace"));
            writeBundle(bundle, List.of("/bin/ls", "/"), Map.of("PATH", "/usr/bin:/bin"), ws,
                    SandboxSpec.defaults(), null);
            List<String> cmd = new ArrayList<>(runscArgs(false));
            cmd.addAll(List.of("run", "--bundle", bundle.toString(), id));
            String out = run(cmd, 30);
            delete(id);
            return out == null ? null : "runsc could not run a container here (" + out + ")";
        } catch (IOException | RuntimeException e) {
            return "runsc smoke test failed: " + e.getMessage();
        } finally {
            CgroupSandbox.deleteTree(bundle);
        }
    }

    /** runsc and its global flags, up to the subcommand. */
    List<String> runscArgs(boolean network) {
        return List.of(runsc, "--root", runscRoot().toString(), "--platform=ptrace",
                "--network=" + (network ? "host" : "none"), "--ignore-cgroups");
    }

    /** Whether runsc still holds state for this container (it removes it itself when a run ends normally). */
    boolean hasState(String containerId) {
        try (var s = Files.list(runscRoot())) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith(containerId + "_sandbox:"));
        } catch (IOException e) {
            return false;
        }
    }

    /** {@code runsc delete --force}, then whatever state files it left (a container killed mid-start). */
    void delete(String containerId) {
        if (!hasState(containerId)) return;
        List<String> cmd = new ArrayList<>(runscArgs(false));
        cmd.addAll(List.of("delete", "--force", containerId));
        run(cmd, 30);
        try (var s = Files.list(runscRoot())) {
            for (Path p : s.toList())
                if (p.getFileName().toString().startsWith(containerId + "_sandbox:")) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new SandboxException("cannot remove runsc state of " + containerId + ": " + e, e);
        }
    }

    /** Containers and bundles of JVMs that died without closing their sandboxes (ids carry the owner's pid). */
    private void reapStale() throws IOException {
        for (Path dir : List.of(runscRoot(), stateRoot)) {
            try (var s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    String n = p.getFileName().toString();
                    if (!CgroupV1.ownerDied(n)) continue;
                    if (dir.equals(runscRoot())) delete(n.split("_sandbox:")[0]);
                    else {
                        // Image overlays and layer mounts outlive their runtime; detached first, or deleting
                        // would reach into them.
                        Mounts.detachAllUnder(p);
                        CgroupSandbox.deleteTree(p);
                    }
                }
            }
        }
    }

    /** Writes {@code bundle/config.json} for one container running {@code args}. */
    void writeBundle(Path bundle, List<String> args, Map<String, String> env, Path workspace, SandboxSpec spec,
                     GvisorImage image) throws IOException {
        ObjectNode c = JSON.createObjectNode();
        c.put("ociVersion", "1.0.0");
        ObjectNode proc = c.putObject("process");
        proc.putObject("user").put("uid", UID).put("gid", UID);
        ArrayNode a = proc.putArray("args");
        args.forEach(a::add);
        ArrayNode e = proc.putArray("env");
        env.forEach((k, v) -> e.add(k + "=" + v));
        proc.put("cwd", "/workspace");
        ObjectNode caps = proc.putObject("capabilities");
        for (String set : List.of("bounding", "effective", "inheritable", "permitted", "ambient")) caps.putArray(set);
        proc.put("noNewPrivileges", true);
        // The sentry enforces RLIMIT_NPROC for the sandbox uid: this is the sandbox's process limit.
        proc.putArray("rlimits").addObject().put("type", "RLIMIT_NPROC").put("hard", spec.pids()).put("soft", spec.pids());
        c.putObject("root").put("path", image != null ? image.root().toString() : rootfs().toString()).put("readonly", true);
        c.put("hostname", "sandbox");
        ArrayNode m = c.putArray("mounts");
        m.addObject().put("destination", "/proc").put("type", "proc").put("source", "proc");
        m.addObject().put("destination", "/dev").put("type", "tmpfs").put("source", "tmpfs");
        m.addObject().put("destination", "/tmp").put("type", "tmpfs").put("source", "tmpfs").putArray("options")
                .add("size=" + spec.memoryMb() + "m").add("nosuid").add("nodev");
        if (image != null) {
            for (GvisorImage.Bind b : image.binds()) bind(m, b.source().toString(), b.destination(), b.writable());
        } else {
            bind(m, "/usr", "/usr", false);
            for (String d : List.of("lib32", "libx32", "bin", "sbin", "lib", "lib64")) {
                Path host = Path.of("/" + d);
                if (Files.isDirectory(host) && !Files.isSymbolicLink(host)) bind(m, host.toString(), host.toString(), false);
            }
            for (String f : spec.network() ? concat(ProcessSandbox.ETC_ALWAYS, ProcessSandbox.ETC_NETWORK)
                    : ProcessSandbox.ETC_ALWAYS)
                if (Files.exists(Path.of(f))) bind(m, f, f, false);
        }
        bind(m, workspace.toString(), "/workspace", true);
        ObjectNode linux = c.putObject("linux");
        ArrayNode ns = linux.putArray("namespaces");
        // With --network=host the sentry's host sockets must live in the host's network namespace, so the
        // sandbox gets none of its own (runsc would otherwise create an empty one: "Network is unreachable").
        for (String n : spec.network() ? List.of("pid", "ipc", "uts", "mount") : List.of("pid", "network", "ipc", "uts", "mount"))
            ns.addObject().put("type", n);
        JSON.writerWithDefaultPrettyPrinter().writeValue(bundle.resolve("config.json").toFile(), c);
    }

    private static void bind(ArrayNode mounts, String source, String destination, boolean writable) {
        mounts.addObject().put("destination", destination).put("type", "bind").put("source", source)
                .putArray("options").add("rbind").add(writable ? "rw" : "ro");
    }

    @Override
    public Sandbox create(SandboxSpec spec) {
        Availability a = availability();
        if (!a.available()) throw new SubstrateUnavailableException(name(), a.reason());
        // "g" keeps these ids apart from the process substrate's, which share the cgroup name space.
        String id = CgroupV1.PREFIX + ProcessHandle.current().pid() + "-g" + NEXT.incrementAndGet();
        Path state = stateRoot.resolve(id);
        CgroupV1 cg = null;
        ImageRoot image = null;
        try {
            Files.createDirectory(state, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
            boolean ownWorkspace = spec.workspace() == null;
            Path ws = ownWorkspace ? state.resolve("workspace") : spec.workspace().toAbsolutePath().normalize();
            Files.createDirectories(ws);
            ProcessSubstrate.chownTree(ws);
            // The host cgroup also holds the sentry and gofer: memory gets their share on top, and pids is a
            // backstop for their threads (the sandbox's own process limit is RLIMIT_NPROC in the sentry).
            cg = CgroupV1.create(id, spec.withMemoryMb(spec.memoryMb() + RUNTIME_MB)
                    .withPids((int) Math.min(Integer.MAX_VALUE, 128L + 32L * spec.pids())));
            GvisorImage oci = null;
            if (spec.image() != null) {
                image = ImageRoot.mount(layerMounts, spec.image(), state, rootfs().resolve("etc"), spec.network(),
                        spec.memoryMb() << 20);
                oci = GvisorImage.of(image, state, rootfs());
            }
            return new GvisorSandbox(this, id, spec, ws, ownWorkspace, state, cg, image, oci);
        } catch (IOException | RuntimeException e) {
            try {
                if (image != null) image.close();
            } finally {
                Mounts.detachAllUnder(state);
            }
            if (cg != null) cg.remove();
            CgroupSandbox.deleteTree(state);
            if (e instanceof SandboxException se) throw se;
            throw new SandboxException("cannot create sandbox " + id + ": " + e, e);
        }
    }
}
