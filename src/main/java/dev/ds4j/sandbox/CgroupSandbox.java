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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

/**
 * What the process and gvisor sandboxes share: each exec is one host process tree (bwrap, or runsc and its
 * sentry and gofer) started inside the sandbox's cgroup v1 directories, so limits, timeouts, close and
 * pause act on the cgroup and never depend on what the launcher does. Execs run one at a time (concurrent
 * callers wait): the cgroup then holds exactly one exec's processes, so a timeout can kill the whole cgroup
 * without touching anything else. Only /workspace persists between execs; no process outlives its exec.
 */
abstract sealed class CgroupSandbox implements Sandbox permits ProcessSandbox, GvisorSandbox {

    /**
     * Runs as root before the launcher: joins the sandbox's cgroups (so the launcher and everything under it
     * is counted and killable from the start), optionally opens fd 6 on a file the launcher reports to, then
     * execs the launcher. Arguments: cgroup.procs files joined by ':', that file (or ""), then the command.
     */
    private static final String WRAPPER = """
            cgs=$1; info=$2; shift 2
            IFS=:
            for f in $cgs; do echo $$ > "$f" || { echo "ds4j-sandbox: cannot join cgroup $f" >&2; exit 125; }; done
            unset IFS
            if [ -n "$info" ]; then exec 6>"$info" || exit 125; fi
            exec "$@"
            """;
    static final long KILL_WAIT_MS = 5000;

    final String id;
    final SandboxSpec spec;
    final Path workspace;
    final boolean ownWorkspace;
    final Path state;
    final CgroupV1 cgroup;
    /** The mounted layered image, or null when the sandbox runs on the host's /usr. */
    final ImageRoot image;
    private final ReentrantLock execLock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicLong execs = new AtomicLong();
    /** The running exec's launcher (this JVM's child), which a kill leaves to exit by itself (see CgroupV1.killAll). */
    private volatile Process current;
    /** The running exec's clocks and the pause state that stops them. */
    private final ExecClock clock = new ExecClock();

    CgroupSandbox(String id, SandboxSpec spec, Path workspace, boolean ownWorkspace, Path state, CgroupV1 cgroup,
                  ImageRoot image) {
        this.id = id;
        this.spec = spec;
        this.workspace = workspace;
        this.ownWorkspace = ownWorkspace;
        this.state = state;
        this.cgroup = cgroup;
        this.image = image;
    }

    /** One exec's launcher command line, run as root after the wrapper joined the cgroups. */
    abstract Launch launch(List<String> command, long exec);

    /**
     * @param command   host command line (bwrap or runsc …)
     * @param infoFd6   file the wrapper opens as fd 6 for the launcher, or null
     * @param startedAt a file that is non-empty once the launcher has set the sandbox up; an exec that ends
     *                  without it failed to start, which is the sandbox's failure and not the command's
     * @param launcher  the launcher's name for error messages
     */
    record Launch(List<String> command, Path infoFd6, Path startedAt, String launcher) {
    }

    /** The whole environment of a command: a fixed minimum plus the spec's (the host's never gets in). */
    Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
        env.put("HOME", "/workspace");
        env.put("USER", "sandbox");
        env.put("LANG", "C.UTF-8");
        env.put("TMPDIR", "/tmp");
        env.putAll(spec.env());
        return env;
    }

    /** Runs after an exec's processes are all gone: removes what the launcher left behind for it. */
    void afterExec(long exec) {
    }

    /** Runs on close after every process is gone and before the state directory is deleted. */
    void onClose() {
    }

    /**
     * Packs the overlay's upper directory into {@code layer}. Under the exec lock no process of this sandbox runs
     * (none outlives its exec), so the upper is not changing while mkfs.erofs reads it; the overlay stays mounted
     * and the sandbox usable. Owners are kept as they are in the upper.
     */
    @Override
    public Path snapshot(Path layer) {
        if (image == null)
            throw new SandboxException("sandbox " + id + " has no image (it runs on the host's /usr), so there is"
                    + " nothing outside /workspace to snapshot");
        execLock.lock();
        try {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
            return Layer.fromDirectory(image.upper(), layer, Layer.Owner.AS_IS);
        } finally {
            execLock.unlock();
        }
    }

    @Override
    public String id() {
        return id;
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
        long n = execs.incrementAndGet();
        Launch launch = launch(command, n);
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", WRAPPER, "ds4j-sandbox",
                cgroup.procsFiles().stream().map(Path::toString).collect(Collectors.joining(":")),
                launch.infoFd6() == null ? "" : launch.infoFd6().toString()));
        cmd.addAll(launch.command());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().clear();
        pb.environment().put("PATH", "/usr/bin:/bin");
        if (stdin == null) pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        long oom0 = cgroup.oomKills(), pids0 = cgroup.pidsLimitHits();
        CappedOutput out = new CappedOutput(spec.outputCapBytes()), err = new CappedOutput(spec.outputCapBytes());
        long start = clock.start();
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new SandboxException("sandbox " + id + ": cannot start /bin/sh: " + e.getMessage(), e);
        }
        current = p;
        Thread tOut = Thread.ofVirtual().start(() -> out.drain(p.getInputStream(), clock::output));
        Thread tErr = Thread.ofVirtual().start(() -> err.drain(p.getErrorStream(), clock::output));
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
                if (p.waitFor(10, TimeUnit.MILLISECONDS)) break;
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
            if (clock.paused()) continue; // a paused command is not running, so its clocks stand still
            if (clock.running(now) > timeoutNs) {
                outcome = ExecResult.Outcome.TIMED_OUT;
                detail = "killed: wall-clock timeout of " + spec.timeout().toMillis() + " ms";
                break;
            }
            if (clock.silent(now) > idleNs) {
                outcome = ExecResult.Outcome.IDLE_TIMED_OUT;
                detail = "killed: no output for " + spec.idleTimeout().toMillis() + " ms";
                break;
            }
        }
        // Always sweep the cgroup: after a timeout it ends the command, after a normal exit it catches anything
        // the launcher's teardown has not reaped yet. Either way nothing of this exec runs past here.
        int exit = -1;
        cgroup.killAll(KILL_WAIT_MS, p.pid());
        for (int attempt = 0; ; attempt++) {
            try {
                if (p.waitFor(attempt == 0 ? 2000 : KILL_WAIT_MS, TimeUnit.MILLISECONDS)) {
                    exit = p.exitValue();
                    break;
                }
                if (attempt > 0) throw new SandboxException("sandbox " + id + ": " + launch.launcher() + " (pid "
                        + p.pid() + ") survived SIGKILL");
                p.destroyForcibly(); // the launcher did not exit when its sandbox died; should not happen
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        current = null;
        cgroup.killAll(KILL_WAIT_MS, -1);
        afterExec(n);
        join(tOut);
        join(tErr);
        if (outcome == ExecResult.Outcome.EXITED && exit == 137 && closed.get()) {
            outcome = ExecResult.Outcome.CLOSED; // close() killed it before the wait loop noticed
            detail = "killed: the sandbox was closed";
        }
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        long oom = cgroup.oomKills() - oom0, pidsHits = cgroup.pidsLimitHits() - pids0;
        boolean started = launch.startedAt().toFile().length() > 0;
        try {
            Files.deleteIfExists(launch.startedAt());
        } catch (IOException e) {
            // the state directory goes on close anyway
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (!started && outcome == ExecResult.Outcome.EXITED && oom == 0)
            throw new SandboxException("sandbox " + id + ": " + launch.launcher() + " could not set up the sandbox"
                    + " (exit " + exit + "): " + err.text().trim());
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
        clock.pause(() -> {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
        }, () -> {
            if (!cgroup.freezeAll(KILL_WAIT_MS)) {
                cgroup.thawAll();
                throw new SandboxException("sandbox " + id + ": processes did not freeze within " + KILL_WAIT_MS + " ms");
            }
        });
    }

    @Override
    public void resume() {
        clock.resume(closed::get, cgroup::thawAll);
    }

    /** True between {@link #pause} and {@link #resume}. */
    boolean isPaused() {
        return clock.paused();
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
            try {
                onClose();
            } catch (SandboxException e) {
                if (failure == null) failure = e;
            }
            try {
                if (image != null) image.close();
            } catch (SandboxException e) {
                if (failure == null) failure = e;
            }
            // A mount left under the state directory would have its files deleted through it; detach first.
            Mounts.detachAllUnder(state);
            if (ownWorkspace) deleteTree(workspace);
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
