package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A sandbox of the process substrate: each exec is a bwrap sandbox with fresh namespaces, /tmp and /proc
 * (the shared exec, limit, pause and close logic is {@link CgroupSandbox}'s).
 */
final class ProcessSandbox extends CgroupSandbox {

    /** Only the parts of /etc that programs need to start; the host's /etc stays hidden. */
    static final List<String> ETC_ALWAYS = List.of("/etc/alternatives", "/etc/ld.so.cache");
    /** What name resolution and TLS need, shown only to sandboxes that have the network. */
    static final List<String> ETC_NETWORK = List.of("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
            "/etc/gai.conf", "/etc/ssl", "/etc/ca-certificates");

    private final ProcessSubstrate substrate;

    ProcessSandbox(ProcessSubstrate substrate, String id, SandboxSpec spec, Path workspace, boolean ownWorkspace,
                   Path state, CgroupV1 cgroup, ImageRoot image) {
        super(id, spec, workspace, ownWorkspace, state, cgroup, image);
        this.substrate = substrate;
    }

    @Override
    public String substrate() {
        return "process";
    }

    List<String> bwrapArgs(List<String> command) {
        List<String> a = new ArrayList<>(List.of(substrate.bwrap(), "--unshare-all"));
        if (spec.network()) a.add("--share-net");
        // A user namespace mapping the sandbox uid to the unprivileged host uid; nested user namespaces are
        // refused, which closes off most of the kernel surface that unprivileged namespaces open.
        a.addAll(List.of("--unshare-user", "--uid", "" + ProcessSubstrate.SANDBOX_UID, "--gid",
                "" + ProcessSubstrate.SANDBOX_UID, "--disable-userns", "--die-with-parent", "--new-session",
                "--hostname", "sandbox"));
        if (image != null) a.addAll(image.bwrapArgs());
        else a.addAll(hostRootArgs());
        a.addAll(List.of("--proc", "/proc", "--dev", "/dev",
                "--size", Long.toString(spec.memoryMb() << 20), "--tmpfs", "/tmp",
                "--bind", workspace.toString(), "/workspace",
                // The root is bwrap's tmpfs; read-only, so / (and without an image /etc) cannot be written.
                "--remount-ro", "/",
                "--chdir", "/workspace", "--clearenv"));
        environment().forEach((k, v) -> a.addAll(List.of("--setenv", k, v)));
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
        for (String f : ETC_ALWAYS) a.addAll(List.of("--ro-bind-try", f, f));
        a.addAll(List.of("--ro-bind", state.resolve("etc/passwd").toString(), "/etc/passwd",
                "--ro-bind", state.resolve("etc/group").toString(), "/etc/group"));
        if (spec.network()) {
            for (String f : ETC_NETWORK)
                a.addAll(List.of("--ro-bind-try", f, f));
        }
        return a;
    }

    @Override
    Launch launch(List<String> command, long exec) {
        Path info = state.resolve("exec-" + exec + ".info");
        List<String> cmd = new ArrayList<>(substrate.dropPrivileges());
        cmd.addAll(bwrapArgs(command));
        return new Launch(cmd, info, info, "bwrap");
    }

    /** The image's merged tree as the host sees it (null without an image); for tests. */
    Path imageRoot() {
        return image == null ? null : image.merged();
    }
}
