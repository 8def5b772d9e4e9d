package dev.ds4j.sandbox;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a sandbox may use. Resources are declared per sandbox (as in DSec's SDK) and shared by every exec of
 * that sandbox.
 *
 * @param workspace       host directory bound read-write at {@code /workspace}; null lets the substrate make a
 *                        private one that is deleted on close. A given directory is kept on close.
 * @param network         false (the default): the sandbox has only its own loopback interface. true shares the
 *                        host's network namespace as it is: the internet, but also services listening on the
 *                        host's 127.0.0.1 and abstract Unix sockets (per-destination rules are not built yet)
 * @param memoryMb        memory limit of the whole sandbox (all its processes together)
 * @param pids            most processes/threads alive at once in the sandbox (fork bombs stop here)
 * @param cpus            CPU time per wall second, in cores (1.5 = one and a half cores)
 * @param timeout         wall-clock limit of one exec
 * @param idleTimeout     an exec that writes nothing to stdout or stderr for this long is killed; null: none
 * @param outputCapBytes  bytes kept of each of stdout and stderr per exec (the rest is counted, not kept)
 * @param env             extra environment variables (the host environment is never passed in)
 * @param image           the root filesystem as read-only layers with a private writable overlay; null (the
 *                        default): the host's /usr, read-only, with a minimal /etc
 */
public record SandboxSpec(Path workspace, boolean network, long memoryMb, int pids, double cpus,
                          Duration timeout, Duration idleTimeout, int outputCapBytes, Map<String, String> env,
                          Image image) {

    public SandboxSpec {
        if (memoryMb < 8) throw new IllegalArgumentException("memoryMb must be at least 8, got " + memoryMb);
        if (pids < 1) throw new IllegalArgumentException("pids must be at least 1, got " + pids);
        if (!(cpus > 0) || cpus > 1024) throw new IllegalArgumentException("cpus must be in (0, 1024], got " + cpus);
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive");
        if (idleTimeout != null && (idleTimeout.isNegative() || idleTimeout.isZero()))
            throw new IllegalArgumentException("idleTimeout must be positive (or null for none)");
        if (outputCapBytes < 2) throw new IllegalArgumentException("outputCapBytes must be at least 2");
        env = Map.copyOf(env == null ? Map.of() : env);
        for (String k : env.keySet())
            if (k.isEmpty() || k.contains("=") || k.indexOf('\0') >= 0)
                throw new IllegalArgumentException("bad environment variable name '" + k + "'");
    }

    /** 512 MB, 256 pids, 1 core, 60 s per exec, no idle timeout, 1 MB of each output, no network, no image. */
    public static SandboxSpec defaults() {
        return new SandboxSpec(null, false, 512, 256, 1.0, Duration.ofSeconds(60), null, 1 << 20, Map.of(), null);
    }

    public SandboxSpec withWorkspace(Path dir) {
        return new SandboxSpec(dir, network, memoryMb, pids, cpus, timeout, idleTimeout, outputCapBytes, env, image);
    }

    public SandboxSpec withNetwork(boolean allowed) {
        return new SandboxSpec(workspace, allowed, memoryMb, pids, cpus, timeout, idleTimeout, outputCapBytes, env, image);
    }

    public SandboxSpec withMemoryMb(long mb) {
        return new SandboxSpec(workspace, network, mb, pids, cpus, timeout, idleTimeout, outputCapBytes, env, image);
    }

    public SandboxSpec withPids(int max) {
        return new SandboxSpec(workspace, network, memoryMb, max, cpus, timeout, idleTimeout, outputCapBytes, env, image);
    }

    public SandboxSpec withCpus(double c) {
        return new SandboxSpec(workspace, network, memoryMb, pids, c, timeout, idleTimeout, outputCapBytes, env, image);
    }

    public SandboxSpec withTimeout(Duration t) {
        return new SandboxSpec(workspace, network, memoryMb, pids, cpus, t, idleTimeout, outputCapBytes, env, image);
    }

    public SandboxSpec withIdleTimeout(Duration t) {
        return new SandboxSpec(workspace, network, memoryMb, pids, cpus, timeout, t, outputCapBytes, env, image);
    }

    public SandboxSpec withOutputCapBytes(int cap) {
        return new SandboxSpec(workspace, network, memoryMb, pids, cpus, timeout, idleTimeout, cap, env, image);
    }

    /** Runs on {@code img} instead of the host's /usr; null goes back to the host's. */
    public SandboxSpec withImage(Image img) {
        return new SandboxSpec(workspace, network, memoryMb, pids, cpus, timeout, idleTimeout, outputCapBytes, env, img);
    }

    public SandboxSpec withEnv(String name, String value) {
        Map<String, String> m = new LinkedHashMap<>(env);
        m.put(name, value);
        return new SandboxSpec(workspace, network, memoryMb, pids, cpus, timeout, idleTimeout, outputCapBytes, m, image);
    }
}
