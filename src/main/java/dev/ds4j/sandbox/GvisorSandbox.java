package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A sandbox of the gvisor substrate: each exec is a {@code runsc run} container of its own (id: the sandbox's
 * id and the exec's number) over the same workspace; the shared exec, limit, pause and close logic is
 * {@link CgroupSandbox}'s. When a run ends normally runsc removes its container; after a kill, {@link #afterExec}
 * does it with {@code runsc delete --force}.
 */
final class GvisorSandbox extends CgroupSandbox {

    private final GvisorSubstrate substrate;
    /** How runsc is given the image (null without one). */
    private final GvisorImage oci;

    GvisorSandbox(GvisorSubstrate substrate, String id, SandboxSpec spec, Path workspace, boolean ownWorkspace,
                  Path state, CgroupV1 cgroup, ImageRoot image, GvisorImage oci) {
        super(id, spec, workspace, ownWorkspace, state, cgroup, image);
        this.substrate = substrate;
        this.oci = oci;
    }

    @Override
    Map<String, String> environment() {
        Map<String, String> env = super.environment();
        if (oci != null && oci.preload() != null) env.put("LD_PRELOAD", oci.preload());
        return env;
    }

    @Override
    public String substrate() {
        return "gvisor";
    }

    String containerId(long exec) {
        return id + "-" + exec;
    }

    @Override
    Launch launch(List<String> command, long exec) {
        try {
            substrate.writeBundle(state, command, environment(), workspace, spec, oci);
        } catch (IOException e) {
            throw new SandboxException("sandbox " + id + ": cannot write the OCI bundle: " + e, e);
        }
        Path pidFile = state.resolve("exec-" + exec + ".pid"); // written by runsc once the container exists
        List<String> cmd = new ArrayList<>(substrate.runscArgs(spec.network()));
        cmd.addAll(List.of("run", "--bundle", state.toString(), "--pid-file", pidFile.toString(), containerId(exec)));
        return new Launch(cmd, null, pidFile, "runsc");
    }

    @Override
    void afterExec(long exec) {
        substrate.delete(containerId(exec));
    }

    /** Container ids of this sandbox that runsc still holds state for (none between execs). For tests. */
    List<String> runscContainers() {
        List<String> l = new ArrayList<>();
        try (var s = java.nio.file.Files.list(substrate.runscRoot())) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(id + "-") && n.endsWith(".state")) l.add(n.split("_sandbox:")[0]);
            }
        } catch (IOException e) {
            throw new SandboxException("cannot list " + substrate.runscRoot() + ": " + e, e);
        }
        return l;
    }

    @Override
    void onClose() {
        for (String c : runscContainers()) substrate.delete(c);
    }
}
