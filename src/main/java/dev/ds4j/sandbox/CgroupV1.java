package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cgroups of one sandbox, written through cgroupfs v1 directly: the project's machines run a hybrid
 * hierarchy with the controllers on v1 and no systemd to delegate through (SANDBOX.md §2). Each controller
 * gets a directory under this JVM's own cgroup of that controller, so a sandbox's memory is also charged to
 * (and capped by) whatever limit the runtime itself runs under.
 */
final class CgroupV1 {
    static final Path ROOT = Path.of("/sys/fs/cgroup");
    /** memory, pids and cpu carry the limits; freezer makes killing everything race-free. */
    static final List<String> CONTROLLERS = List.of("memory", "pids", "cpu", "freezer");
    /** Directory names start with this, then the owning JVM's pid, so stale ones can be recognised. */
    static final String PREFIX = "ds4j-sb-";

    private static final long FREEZE_WAIT_NS = 100_000_000;

    private final Map<String, Path> dirs; // controller -> directory

    private CgroupV1(Map<String, Path> dirs) {
        this.dirs = dirs;
    }

    /** Where this process sits in each v1 controller, from /proc/self/cgroup ("4:memory:/a/b"). */
    static Map<String, Path> ownParents() throws IOException {
        Map<String, Path> parents = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
            String[] f = line.split(":", 3);
            if (f.length < 3) continue;
            for (String c : f[1].split(",")) {
                if (CONTROLLERS.contains(c)) parents.put(c, ROOT.resolve(c).resolve(f[2].substring(1)));
            }
        }
        return parents;
    }

    /** Null when usable; otherwise why not. Creates and removes a probe directory in each controller. */
    static String unusableReason() {
        Map<String, Path> parents;
        try {
            parents = ownParents();
        } catch (IOException e) {
            return "cannot read /proc/self/cgroup: " + e.getMessage();
        }
        for (String c : CONTROLLERS) {
            Path p = parents.get(c);
            if (p == null || !Files.isRegularFile(ROOT.resolve(c).resolve("cgroup.procs"))) {
                return Files.exists(ROOT.resolve("cgroup.controllers"))
                        ? "this host has a pure cgroup v2 hierarchy; only cgroup v1 (the project machines' hybrid"
                          + " layout) is implemented"
                        : "cgroup v1 controller '" + c + "' is not mounted at " + ROOT.resolve(c);
            }
            Path probe = p.resolve(PREFIX + "probe-" + ProcessHandle.current().pid());
            try {
                Files.createDirectories(probe);
                Files.delete(probe);
            } catch (IOException e) {
                return "cannot create a cgroup under " + p + " (" + e + "); managing limits needs root";
            }
        }
        return null;
    }

    /** Creates the directories and writes the limits; on any failure removes what it made. */
    static CgroupV1 create(String name, SandboxSpec spec) {
        Map<String, Path> dirs = new LinkedHashMap<>();
        try {
            Map<String, Path> parents = ownParents();
            for (String c : CONTROLLERS) {
                Path d = parents.get(c).resolve(name);
                Files.createDirectory(d);
                dirs.put(c, d);
            }
            CgroupV1 cg = new CgroupV1(dirs);
            long bytes = spec.memoryMb() << 20;
            cg.write("memory", "memory.limit_in_bytes", Long.toString(bytes));
            // There is no swap on these machines; where there is, the limit must cover memory + swap too,
            // or a hog would page out instead of being killed.
            if (Files.exists(dirs.get("memory").resolve("memory.memsw.limit_in_bytes")))
                cg.write("memory", "memory.memsw.limit_in_bytes", Long.toString(bytes));
            cg.write("pids", "pids.max", Integer.toString(spec.pids()));
            long period = 100_000;
            cg.write("cpu", "cpu.cfs_period_us", Long.toString(period));
            cg.write("cpu", "cpu.cfs_quota_us", Long.toString(Math.max(1000, Math.round(spec.cpus() * period))));
            return cg;
        } catch (IOException | RuntimeException e) {
            new CgroupV1(dirs).remove();
            throw new SandboxException("cannot set up cgroups for sandbox " + name + ": " + e, e);
        }
    }

    private void write(String controller, String file, String value) throws IOException {
        Files.writeString(dirs.get(controller).resolve(file), value);
    }

    private String read(String controller, String file) {
        try {
            return Files.readString(dirs.get(controller).resolve(file));
        } catch (IOException e) {
            return "";
        }
    }

    /** The cgroup.procs files a new process writes its pid to, to join every controller. */
    List<Path> procsFiles() {
        List<Path> l = new ArrayList<>();
        for (Path d : dirs.values()) l.add(d.resolve("cgroup.procs"));
        return l;
    }

    Map<String, Path> dirs() {
        return dirs;
    }

    /** Host pids of every process in the sandbox (the freezer group holds all of them). */
    List<Long> pids() {
        List<Long> l = new ArrayList<>();
        for (String s : read("freezer", "cgroup.procs").split("\n")) if (!s.isBlank()) l.add(Long.parseLong(s.trim()));
        return l;
    }

    /** Processes killed by this cgroup's memory limit so far ("oom_kill N" in memory.oom_control). */
    long oomKills() {
        return counter(read("memory", "memory.oom_control"), "oom_kill");
    }

    /** Forks refused by pids.max so far ("max N" in pids.events). */
    long pidsLimitHits() {
        return counter(read("pids", "pids.events"), "max");
    }

    private static long counter(String text, String key) {
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2 && f[0].equals(key)) return Long.parseLong(f[1]);
        }
        return 0;
    }

    /**
     * Kills every process in the sandbox except {@code spare} and waits until no other is left. Freezing first
     * means no process can fork or exit between reading the pid list and the kills, so no pid is missed and
     * none is reused. {@code spare} is the outer bwrap, this JVM's child: left alive, it reaps the namespace's
     * init (which reaps everything else in the namespace) and exits by itself, so no zombie is handed to the
     * host's PID 1, which on these machines reaps late (SANDBOX.md §2.2). Pass -1 to kill all.
     */
    synchronized void killAll(long waitMillis, long spare) {
        long deadline = System.nanoTime() + waitMillis * 1_000_000;
        while (true) {
            List<Long> pids = others(spare);
            if (pids.isEmpty()) return;
            // A group with dying members can stay FREEZING for seconds; the kill loop does not need FROZEN to be
            // correct (it repeats until the group is empty), only to be exact in one pass, so wait briefly.
            boolean frozen = freeze(Math.min(deadline, System.nanoTime() + FREEZE_WAIT_NS));
            for (long pid : others(spare)) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            if (frozen) thaw(); // SIGKILL is delivered to frozen tasks once thawed
            if (others(spare).isEmpty()) return;
            if (System.nanoTime() > deadline)
                throw new SandboxException("processes " + others(spare) + " of cgroup " + dirs.get("freezer")
                        + " survived SIGKILL for " + waitMillis + " ms");
            sleep(5);
        }
    }

    private List<Long> others(long spare) {
        List<Long> l = pids();
        l.remove(spare);
        return l;
    }

    /** Stops every process of the sandbox where it stands (DSec's pause); false if it did not settle in time. */
    synchronized boolean freezeAll(long waitMillis) {
        long deadline = System.nanoTime() + waitMillis * 1_000_000;
        return freeze(deadline) && read("freezer", "freezer.state").trim().equals("FROZEN");
    }

    synchronized void thawAll() {
        thaw();
    }

    private boolean freeze(long deadline) {
        try {
            write("freezer", "freezer.state", "FROZEN");
            while (!read("freezer", "freezer.state").trim().equals("FROZEN")) {
                if (System.nanoTime() > deadline) return true;
                sleep(1);
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void thaw() {
        try {
            write("freezer", "freezer.state", "THAWED");
        } catch (IOException e) {
            throw new SandboxException("cannot thaw " + dirs.get("freezer") + ": " + e, e);
        }
    }

    /** Removes the directories (they must be empty of processes); retries while the kernel still holds them. */
    void remove() {
        List<String> failed = new ArrayList<>();
        for (Path d : dirs.values()) {
            IOException last = null;
            for (int i = 0; i < 200 && Files.exists(d); i++) {
                try {
                    Files.delete(d);
                } catch (IOException e) {
                    last = e;
                    sleep(5);
                }
            }
            if (Files.exists(d)) failed.add(d + " (" + last + ")");
        }
        if (!failed.isEmpty()) throw new SandboxException("cannot remove cgroups: " + failed);
    }

    /**
     * Removes cgroups left by JVMs that died without closing their sandboxes (kill -9): their names carry the
     * owner's pid. Processes still inside are killed first; a live owner's cgroups are left alone.
     */
    static void reapStale() {
        Map<String, Path> parents;
        try {
            parents = ownParents();
        } catch (IOException e) {
            return;
        }
        for (Path parent : parents.values()) {
            try (var s = Files.list(parent)) {
                for (Path d : s.toList()) {
                    String n = d.getFileName().toString();
                    if (!Files.isDirectory(d) || !ownerDied(n)) continue;
                    try {
                        // SIGKILL is asynchronous: the directory can be removed only once the procs are gone.
                        for (int i = 0; i < 400; i++) {
                            String procs = Files.readString(d.resolve("cgroup.procs"));
                            if (procs.isBlank()) break;
                            for (String p : procs.split("\n"))
                                if (!p.isBlank()) ProcessHandle.of(Long.parseLong(p.trim())).ifPresent(ProcessHandle::destroyForcibly);
                            sleep(5);
                        }
                        Files.delete(d);
                    } catch (IOException | RuntimeException e) {
                        // Best effort: a busy stale group is retried by the next runtime that starts.
                    }
                }
            } catch (IOException e) {
                // unreadable parent: nothing of ours there
            }
        }
    }

    /** Whether {@code name} is one of ours (sandbox, cgroup, state) whose owning JVM, named in it, is gone. */
    static boolean ownerDied(String name) {
        if (!name.startsWith(PREFIX)) return false;
        try {
            return ProcessHandle.of(Long.parseLong(name.substring(PREFIX.length()).split("-")[0])).isEmpty();
        } catch (NumberFormatException e) {
            return false;
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
