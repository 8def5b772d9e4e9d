package dev.ds4j.sandbox;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

/**
 * A sandbox of the process substrate. Execs run one at a time (concurrent callers wait): the sandbox's
 * cgroup then holds exactly one exec's process tree, so a timeout can kill the whole cgroup without touching
 * anything else. Each exec gets fresh namespaces, /tmp and /proc; only /workspace persists between execs, so
 * no process outlives the exec that started it.
 */
final class ProcessSandbox implements Sandbox {

    /**
     * Runs as root before bwrap: joins the sandbox's cgroups (so bwrap and everything under it is counted and
     * killable from the start), opens the file bwrap reports the started sandbox to, then execs
     * setpriv → bwrap. Arguments: cgroup.procs files joined by ':', the info file, then the command.
     */
    private static final String WRAPPER = """
            cgs=$1; info=$2; shift 2
            IFS=:
            for f in $cgs; do echo $$ > "$f" || { echo "ds4j-sandbox: cannot join cgroup $f" >&2; exit 125; }; done
            unset IFS
            exec 6>"$info" || exit 125
            exec "$@"
            """;
    private static final long KILL_WAIT_MS = 5000;

    private final ProcessSubstrate substrate;
    private final String id;
    private final SandboxSpec spec;
    private final Path workspace;
    private final boolean ownWorkspace;
    private final Path state;
    private final CgroupV1 cgroup;
    /** The mounted image, or null when the sandbox runs on the host's /usr. */
    private final ImageRoot root;
    private final ReentrantLock execLock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicLong execs = new AtomicLong();
    /** The running exec's outer bwrap, which a close must leave to exit by itself (see CgroupV1.killAll). */
    private volatile Process current;
    /** Pause state; the exec's clocks (when it last wrote, how long it has been paused) are shifted on resume. */
    private final Object pauseLock = new Object();
    private volatile long pausedAt; // System.nanoTime() of pause(), 0 when running
    private final AtomicLong pausedNanos = new AtomicLong();
    private final AtomicLong lastOutput = new AtomicLong();

    ProcessSandbox(ProcessSubstrate substrate, String id, SandboxSpec spec, Path workspace, boolean ownWorkspace,
                   Path state, CgroupV1 cgroup, ImageRoot root) {
        this.substrate = substrate;
        this.id = id;
        this.spec = spec;
        this.workspace = workspace;
        this.ownWorkspace = ownWorkspace;
        this.state = state;
        this.cgroup = cgroup;
        this.root = root;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String substrate() {
        return "process";
    }

    @Override
    public Path workspace() {
        return workspace;
    }

    @Override
    public SandboxSpec spec() {
        return spec;
    }

    @Override
    public boolean isClosed() {
        return closed.get();
    }

    /** Host pids now in this sandbox's cgroups (empty between execs). For tests and monitoring. */
    public List<Long> hostPids() {
        return closed.get() ? List.of() : cgroup.pids();
    }

    /** The cgroup directories by controller; they no longer exist once the sandbox is closed. */
    Map<String, Path> cgroupDirs() {
        return cgroup.dirs();
    }

    List<String> bwrapArgs(List<String> command) {
        List<String> a = new ArrayList<>(List.of(substrate.bwrap(), "--unshare-all"));
        if (spec.network()) a.add("--share-net");
        // A user namespace mapping the sandbox uid to the unprivileged host uid; nested user namespaces are
        // refused, which closes off most of the kernel surface that unprivileged namespaces open.
        a.addAll(List.of("--unshare-user", "--uid", "" + ProcessSubstrate.SANDBOX_UID, "--gid",
                "" + ProcessSubstrate.SANDBOX_UID, "--disable-userns", "--die-with-parent", "--new-session",
                "--hostname", "sandbox"));
        if (root != null) a.addAll(root.bwrapArgs());
        else a.addAll(hostRootArgs());
        a.addAll(List.of("--proc", "/proc", "--dev", "/dev",
                "--size", Long.toString(spec.memoryMb() << 20), "--tmpfs", "/tmp",
                "--bind", workspace.toString(), "/workspace",
                // The root is bwrap's tmpfs; read-only, so / (and without an image /etc) cannot be written.
                "--remount-ro", "/",
                "--chdir", "/workspace", "--clearenv",
                "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                "--setenv", "HOME", "/workspace", "--setenv", "USER", "sandbox", "--setenv", "LANG", "C.UTF-8",
                "--setenv", "TMPDIR", "/tmp"));
        spec.env().forEach((k, v) -> a.addAll(List.of("--setenv", k, v)));
        a.addAll(List.of("--info-fd", "6", "--"));
        a.addAll(command);
        return a;
    }

    /** The host's /usr read-only, its /bin … links, and only the parts of /etc programs need to start. */
    private List<String> hostRootArgs() {
        List<String> a = new ArrayList<>(List.of("--ro-bind", "/usr", "/usr"));
        for (String d : List.of("bin", "sbin", "lib", "lib32", "lib64", "libx32")) {
            Path p = Path.of("/" + d);
            if (Files.isSymbolicLink(p)) {
                try {
                    a.addAll(List.of("--symlink", Files.readSymbolicLink(p).toString(), "/" + d));
                } catch (IOException e) {
                    throw new SandboxException("cannot read symlink " + p + ": " + e, e);
                }
            } else if (Files.isDirectory(p)) {
                a.addAll(List.of("--ro-bind", p.toString(), p.toString()));
            }
        }
        // Only the parts of /etc that programs need to start; the host's /etc stays hidden.
        a.addAll(List.of("--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
                "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
                "--ro-bind", state.resolve("etc/passwd").toString(), "/etc/passwd",
                "--ro-bind", state.resolve("etc/group").toString(), "/etc/group"));
        if (spec.network()) {
            for (String f : List.of("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf",
                    "/etc/ssl", "/etc/ca-certificates"))
                a.addAll(List.of("--ro-bind-try", f, f));
        }
        return a;
    }

    @Override
    public ExecResult exec(List<String> command, byte[] stdin) {
        if (command.isEmpty()) throw new IllegalArgumentException("empty command");
        execLock.lock();
        try {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
            return run(command, stdin);
        } finally {
            execLock.unlock();
        }
    }

    private ExecResult run(List<String> command, byte[] stdin) {
        Path info = state.resolve("exec-" + execs.incrementAndGet() + ".info");
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", WRAPPER, "ds4j-sandbox",
                cgroup.procsFiles().stream().map(Path::toString).collect(Collectors.joining(":")), info.toString()));
        cmd.addAll(substrate.dropPrivileges());
        cmd.addAll(bwrapArgs(command));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().clear();
        pb.environment().put("PATH", "/usr/bin:/bin");
        if (stdin == null) pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        long oom0 = cgroup.oomKills(), pids0 = cgroup.pidsLimitHits();
        CappedOutput out = new CappedOutput(spec.outputCapBytes()), err = new CappedOutput(spec.outputCapBytes());
        long start = System.nanoTime();
        lastOutput.set(start);
        pausedNanos.set(0);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new SandboxException("sandbox " + id + ": cannot start /bin/sh: " + e.getMessage(), e);
        }
        current = p;
        Thread tOut = Thread.ofVirtual().start(() -> out.drain(p.getInputStream(), lastOutput::set));
        Thread tErr = Thread.ofVirtual().start(() -> err.drain(p.getErrorStream(), lastOutput::set));
        if (stdin != null) {
            Thread.ofVirtual().start(() -> {
                try (OutputStream o = p.getOutputStream()) {
                    o.write(stdin);
                } catch (IOException e) {
                    // The command need not read all its input.
                }
            });
        }
        ExecResult.Outcome outcome = ExecResult.Outcome.EXITED;
        String detail = null;
        long timeoutNs = spec.timeout().toNanos();
        long idleNs = spec.idleTimeout() == null ? Long.MAX_VALUE : spec.idleTimeout().toNanos();
        boolean interrupted = false;
        while (true) {
            try {
                if (p.waitFor(10, java.util.concurrent.TimeUnit.MILLISECONDS)) break;
            } catch (InterruptedException e) {
                interrupted = true; // the caller gave up: end the command like a close would, then report it
                outcome = ExecResult.Outcome.CLOSED;
                detail = "killed: the calling thread was interrupted";
                break;
            }
            long now = System.nanoTime();
            if (closed.get()) {
                outcome = ExecResult.Outcome.CLOSED;
                detail = "killed: the sandbox was closed";
                break;
            }
            if (pausedAt != 0) continue; // a paused command is not running, so its clocks stand still
            if (now - start - pausedNanos.get() > timeoutNs) {
                outcome = ExecResult.Outcome.TIMED_OUT;
                detail = "killed: wall-clock timeout of " + spec.timeout().toMillis() + " ms";
                break;
            }
            if (now - lastOutput.get() > idleNs) {
                outcome = ExecResult.Outcome.IDLE_TIMED_OUT;
                detail = "killed: no output for " + spec.idleTimeout().toMillis() + " ms";
                break;
            }
        }
        // Always sweep the cgroup: after a timeout it ends the command, after a normal exit it catches anything
        // the pid namespace teardown has not reaped yet. Either way nothing of this exec runs past here.
        int exit = -1;
        cgroup.killAll(KILL_WAIT_MS, p.pid());
        for (int attempt = 0; ; attempt++) {
            try {
                if (p.waitFor(attempt == 0 ? 2000 : KILL_WAIT_MS, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                    exit = p.exitValue();
                    break;
                }
                if (attempt > 0) throw new SandboxException("sandbox " + id + ": bwrap (pid " + p.pid()
                        + ") survived SIGKILL");
                p.destroyForcibly(); // bwrap did not exit when its sandbox died; should not happen
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        current = null;
        cgroup.killAll(KILL_WAIT_MS, -1);
        join(tOut);
        join(tErr);
        if (outcome == ExecResult.Outcome.EXITED && exit == 137 && closed.get()) {
            outcome = ExecResult.Outcome.CLOSED; // close() killed it before the wait loop noticed
            detail = "killed: the sandbox was closed";
        }
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        long oom = cgroup.oomKills() - oom0, pidsHits = cgroup.pidsLimitHits() - pids0;
        boolean started = info.toFile().length() > 0;
        try {
            Files.deleteIfExists(info);
        } catch (IOException e) {
            // the state directory goes on close anyway
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (!started && outcome == ExecResult.Outcome.EXITED)
            throw new SandboxException("sandbox " + id + ": bwrap could not set up the sandbox (exit " + exit
                    + "): " + err.text().trim());
        if (detail == null) {
            detail = oom > 0 && exit == 137 ? "killed by the memory limit of " + spec.memoryMb() + " MB"
                    : exit > 128 ? "ended by signal " + (exit - 128) : "exited with " + exit;
            if (oom > 0 && exit != 137) detail += " (the memory limit killed " + oom + " of its processes)";
            if (pidsHits > 0) detail += "; the pids limit of " + spec.pids() + " refused " + pidsHits + " forks";
        }
        return new ExecResult(exit, out.text(), err.text(), out.truncated(), err.truncated(), out.total(),
                err.total(), outcome, oom, pidsHits, took, detail);
    }

    private static void join(Thread t) {
        try {
            t.join(Duration.ofSeconds(5)); // every writer is dead by now, so the pipes are at EOF
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void pause() {
        synchronized (pauseLock) {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
            if (pausedAt != 0) return;
            pausedAt = System.nanoTime();
            if (!cgroup.freezeAll(KILL_WAIT_MS)) {
                cgroup.thawAll();
                pausedAt = 0;
                throw new SandboxException("sandbox " + id + ": processes did not freeze within " + KILL_WAIT_MS + " ms");
            }
        }
    }

    @Override
    public void resume() {
        synchronized (pauseLock) {
            if (pausedAt == 0 || closed.get()) return;
            cgroup.thawAll();
            long now = System.nanoTime();
            pausedNanos.addAndGet(now - pausedAt);
            lastOutput.set(now); // silence while paused is not the command's
            pausedAt = 0;
        }
    }

    /**
     * Packs the overlay's upper directory into {@code layer}. Taking the exec lock means no process of this
     * sandbox runs meanwhile (none outlives its exec), so the upper is not changing while mkfs.erofs reads
     * it; the overlay stays mounted and the sandbox usable. Owners are kept as they are in the upper.
     */
    @Override
    public Path snapshot(Path layer) {
        if (root == null)
            throw new SandboxException("sandbox " + id + " has no image (it runs on the host's /usr), so there is"
                    + " nothing outside /workspace to snapshot");
        execLock.lock();
        try {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
            return Layer.fromDirectory(root.upper(), layer, Layer.Owner.AS_IS);
        } finally {
            execLock.unlock();
        }
    }

    /** The image's merged tree as the host sees it (null without an image); for tests. */
    Path imageRoot() {
        return root == null ? null : root.merged();
    }

    /** True between {@link #pause} and {@link #resume}. */
    boolean isPaused() {
        return pausedAt != 0;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        SandboxException failure = null;
        try {
            Process p = current;
            cgroup.killAll(KILL_WAIT_MS, p == null ? -1 : p.pid()); // ends a running exec now; it reports CLOSED
        } catch (SandboxException e) {
            failure = e;
        }
        execLock.lock();
        try {
            try {
                cgroup.killAll(KILL_WAIT_MS, -1);
                cgroup.remove();
            } catch (SandboxException e) {
                if (failure == null) failure = e;
            }
            if (root != null) {
                try {
                    root.close();
                } catch (SandboxException e) {
                    if (failure == null) failure = e;
                }
            }
            if (ownWorkspace) deleteTree(workspace);
            // A mount left under the state directory would have its files deleted through it; detach first.
            Mounts.detachAllUnder(state);
            deleteTree(state);
        } finally {
            execLock.unlock();
        }
        if (failure != null) throw failure;
    }

    /** Deletes a tree without following symbolic links (a sandbox may have planted links to host files). */
    static void deleteTree(Path root) {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                    Files.delete(f);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    Files.delete(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new SandboxException("cannot delete " + root + ": " + e, e);
        }
    }
}
