package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The "process" substrate: each exec is a bubblewrap sandbox (new user, pid, mount, net, ipc, uts and cgroup
 * namespaces) started by {@link ProcessBuilder}, running as an unprivileged host uid inside cgroup v1 limits.
 * This is what SANDBOX.md §2 measured to work on the project's machines (Debian 12, root, hybrid cgroups,
 * no systemd); on anything else {@link #availability()} says what is missing instead of running unconfined.
 *
 * <p>Needs root: cgroup directories are created and joined by the runtime, and only root can drop to the
 * sandbox uid. bubblewrap comes from Debian ({@code apt-get install -y bubblewrap}, 0.8.0 here).
 */
public final class ProcessSubstrate extends DetectingSubstrate {

    /**
     * Host uid/gid the sandboxed processes run as: "nobody", so even a process that got out of its mount
     * namespace would own nothing and could read only world-readable files. As host root with a user
     * namespace, bwrap would keep uid 0 and full capabilities inside, which lets a command read root-only
     * files that are visible in the sandbox, such as /proc/kpageflags (the file DSec saw crash a kernel).
     */
    static final int HOST_UID = 65534;
    /** uid/gid shown inside the sandbox (mapped to {@link #HOST_UID}); a regular user id, so tools behave. */
    static final int SANDBOX_UID = 1000;

    private static final AtomicLong NEXT = new AtomicLong();

    private final Path stateRoot;
    private final LayerMounts layerMounts;
    private String bwrap;
    private String setpriv;

    /** State (per-sandbox /etc files, default workspaces) under /run/ds4j-sandbox. */
    public ProcessSubstrate() {
        this(Path.of("/run/ds4j-sandbox"));
    }

    public ProcessSubstrate(Path stateRoot) {
        this.stateRoot = stateRoot;
        this.layerMounts = LayerMounts.forStateRoot(stateRoot);
    }

    @Override
    public String name() {
        return "process";
    }

    @Override
    Availability detect() {
        if (!System.getProperty("os.name", "").equals("Linux")) return Availability.no("needs Linux namespaces");
        bwrap = Substrates.onPath("bwrap");
        if (bwrap == null) return Availability.no("bubblewrap (bwrap) is not installed: apt-get install -y bubblewrap");
        setpriv = Substrates.onPath("setpriv");
        if (setpriv == null) return Availability.no("setpriv (util-linux) is not installed");
        if (!isRoot())
            return Availability.no("must run as root: the runtime creates and joins cgroup v1 directories and drops"
                    + " to uid " + HOST_UID + " for the sandbox");
        String cg = CgroupV1.unusableReason();
        if (cg != null) return Availability.no(cg);
        String smoke = smokeTest();
        if (smoke != null) return Availability.no(smoke);
        CgroupV1.reapStale();
        reapStaleState();
        return Availability.yes(bwrap + " as uid " + HOST_UID + ", cgroup v1 memory/pids/cpu/freezer");
    }

    /**
     * Deletes state directories (and private workspaces) of sandboxes whose JVM died without closing them:
     * their processes died with the JVM (--die-with-parent) and {@link CgroupV1#reapStale} took their cgroups.
     */
    private void reapStaleState() {
        if (!Files.isDirectory(stateRoot)) return;
        try (var s = Files.list(stateRoot)) {
            for (Path d : s.toList()) {
                try {
                    if (!CgroupV1.ownerDied(d.getFileName().toString())) continue;
                    // Its image overlays and shared layer mounts outlived it (mounts belong to the host's
                    // namespace, not to the process); detached first, or deleting would reach into them.
                    Mounts.detachAllUnder(d);
                    ProcessSandbox.deleteTree(d);
                } catch (RuntimeException e) {
                    // not one of ours, or busy: left for the next start
                }
            }
        } catch (IOException e) {
            // unreadable state root: create() will report it
        }
    }

    static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("Uid:")) return line.split("\\s+")[2].equals("0"); // effective uid
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** Runs bwrap with the namespace flags the sandboxes use, to catch e.g. disabled user namespaces. */
    private String smokeTest() {
        List<String> cmd = new ArrayList<>(dropPrivileges());
        cmd.addAll(List.of(bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "/bin/true"));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "bwrap did not start a sandbox within 10 s";
            }
            String out = new String(p.getInputStream().readAllBytes()).trim();
            return p.exitValue() == 0 ? null : "bwrap cannot create namespaces here (exit " + p.exitValue() + "): " + out;
        } catch (IOException e) {
            return "cannot run bwrap: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while testing bwrap";
        }
    }

    List<String> dropPrivileges() {
        return List.of(setpriv, "--reuid=" + HOST_UID, "--regid=" + HOST_UID, "--clear-groups", "--inh-caps=-all");
    }

    String bwrap() {
        return bwrap;
    }

    @Override
    public Sandbox create(SandboxSpec spec) {
        Availability a = availability();
        if (!a.available()) throw new SubstrateUnavailableException(name(), a.reason());
        String id = CgroupV1.PREFIX + ProcessHandle.current().pid() + "-" + NEXT.incrementAndGet();
        Path state = stateRoot.resolve(id);
        CgroupV1 cg = null;
        ImageRoot root = null;
        try {
            // 0711: the sandbox uid must traverse to bind sources, but not list other sandboxes' state.
            var traverse = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x"));
            if (!Files.isDirectory(stateRoot)) Files.createDirectories(stateRoot, traverse);
            Files.createDirectory(state, traverse);
            Path etc = Files.createDirectory(state.resolve("etc"), traverse);
            Files.writeString(etc.resolve("passwd"), "root:x:0:0:root:/nonexistent:/bin/sh\n"
                    + "sandbox:x:" + SANDBOX_UID + ":" + SANDBOX_UID + ":sandbox:/workspace:/bin/sh\n"
                    + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
            Files.writeString(etc.resolve("group"), "root:x:0:\nsandbox:x:" + SANDBOX_UID + ":\nnogroup:x:65534:\n");
            boolean ownWorkspace = spec.workspace() == null;
            Path ws = ownWorkspace ? state.resolve("workspace") : spec.workspace().toAbsolutePath().normalize();
            Files.createDirectories(ws);
            String unreachable = unreachableAncestor(ws);
            if (unreachable != null)
                throw new SandboxException("workspace " + ws + " cannot be reached by the sandbox uid " + HOST_UID
                        + ": " + unreachable + " is not searchable by others (chmod o+x it, or leave the"
                        + " workspace unset to get a private one)");
            chownTree(ws);
            if (spec.image() != null) root = ImageRoot.mount(layerMounts, spec.image(), state, etc, spec.network(),
                    spec.memoryMb() << 20);
            cg = CgroupV1.create(id, spec);
            return new ProcessSandbox(this, id, spec, ws, ownWorkspace, state, cg, root);
        } catch (IOException | RuntimeException e) {
            if (cg != null) cg.remove();
            try {
                if (root != null) root.close();
            } finally {
                Mounts.detachAllUnder(state);
            }
            ProcessSandbox.deleteTree(state);
            if (e instanceof SandboxException se) throw se;
            throw new SandboxException("cannot create sandbox " + id + ": " + e, e);
        }
    }

    /** Layers of this runtime mounted now under this state root (shared by the sandboxes using them); for tests. */
    int mountedLayers() {
        return layerMounts.size();
    }

    /** The first ancestor of {@code dir} that uid {@link #HOST_UID} may not search, or null. */
    private static String unreachableAncestor(Path dir) throws IOException {
        for (Path p = dir.getParent(); p != null; p = p.getParent()) {
            int mode = (Integer) Files.getAttribute(p, "unix:mode");
            int uid = (Integer) Files.getAttribute(p, "unix:uid");
            boolean ok = (mode & 0001) != 0 || (uid == HOST_UID && (mode & 0100) != 0);
            if (!ok) return p.toString();
        }
        return null;
    }

    /** Hands the workspace to the sandbox uid, so commands can write everywhere in it. */
    static void chownTree(Path ws) throws IOException {
        try (var s = Files.walk(ws)) {
            for (Path p : s.toList()) {
                if (Files.isSymbolicLink(p)) continue; // chown through a link could hand over a host file
                Files.setAttribute(p, "unix:uid", HOST_UID);
                Files.setAttribute(p, "unix:gid", HOST_UID);
            }
        }
    }
}
