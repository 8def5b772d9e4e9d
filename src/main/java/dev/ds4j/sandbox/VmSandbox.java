package dev.ds4j.sandbox;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A sandbox of the vm substrate: one QEMU process, booted once, serving execs over three virtio-serial ports
 * (the guest agent is the /init of tools/vm-image.sh, which documents the protocol). The host workspace is
 * shared into the guest at /workspace by 9p, so files written there appear on the host at once and persist
 * between execs; each exec's script and stdin travel by a second 9p share of a private state directory.
 * Output comes back as base64 frames, one stream per port, so no byte a command writes can be mistaken for
 * protocol. Execs run one at a time.
 *
 * <p>Each command runs in its own guest cgroup (memory.max = the spec's memory, pids.max = its pids) and its
 * own session; when it ends, times out or is killed, the guest kills the whole cgroup, so nothing it started
 * outlives the exec (as in the process substrate). Commands run as root inside the guest: the VM boundary is
 * the isolation here, and files they create in the workspace belong to root on the host. A guest that does
 * not answer a kill within {@link #KILL_WAIT_MS} gets its QEMU killed and the sandbox is marked broken.
 *
 * <p>QEMU cannot outlive this JVM: it runs under {@code setpriv --pdeathsig KILL} from a thread that lives as
 * long as the VM, a shutdown hook kills every VM still open, and the guest powers off when its control
 * channel closes.
 */
final class VmSandbox implements Sandbox {

    /** Under TCG on a loaded machine a kill and the reply take a while; a live guest answers well within this. */
    static final long KILL_WAIT_MS = 15_000;
    /** Memory the guest kernel, the initramfs and the agent need besides the command's {@code memoryMb}. */
    static final long GUEST_OVERHEAD_MB = 128;
    private static final int MAX_FRAME = 1 << 20;
    private static final String GUEST_PATH = "/bin:/usr/bin:/sbin:/usr/sbin";
    private static final Set<VmSandbox> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (VmSandbox s : LIVE) s.qemu.destroyForcibly();
        }, "ds4j-vm-shutdown"));
    }

    private final String id;
    private final SandboxSpec spec;
    private final Path workspace;
    private final boolean ownWorkspace;
    private final Path state;
    private final Process qemu;
    private final ReentrantLock execLock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final LinkedBlockingQueue<String> ctlLines = new LinkedBlockingQueue<>();
    private OutputStream ctlOut;
    private final List<SocketChannel> channels = new ArrayList<>();
    private volatile String broken;
    private volatile Stream outStream, errStream;
    /** The running exec's clocks; a pause (SIGSTOP to QEMU) stops them. */
    private final ExecClock clock = new ExecClock();
    private String guestKernel;
    private Duration bootTime;
    private long execs;

    /** Where one exec's output goes; {@code end} falls when the guest says the stream ended (or the VM died). */
    private record Stream(CappedOutput sink, CountDownLatch end) {
    }

    private VmSandbox(String id, SandboxSpec spec, Path workspace, boolean ownWorkspace, Path state, Process qemu) {
        this.id = id;
        this.spec = spec;
        this.workspace = workspace;
        this.ownWorkspace = ownWorkspace;
        this.state = state;
        this.qemu = qemu;
    }

    static VmSandbox boot(String id, SandboxSpec spec, String qemuPath, VmImage img, boolean kvm, Duration bootTimeout) {
        long t0 = System.nanoTime();
        Path state;
        try {
            state = Files.createTempDirectory(id + "-");
        } catch (IOException e) {
            throw new SandboxException("cannot create the state directory of sandbox " + id + ": " + e, e);
        }
        VmSandbox vm = null;
        try {
            boolean own = spec.workspace() == null;
            Path ws = own ? state.resolve("workspace") : spec.workspace().toAbsolutePath().normalize();
            Files.createDirectories(ws);
            Path ctl = Files.createDirectory(state.resolve("ctl"));
            if (spec.network()) Files.writeString(ctl.resolve("network"), "user\n");
            List<String> cmd = qemuCommand(qemuPath, img, kvm, spec, ws, state);
            vm = new VmSandbox(id, spec, ws, own, state, start(cmd, id, state));
            LIVE.add(vm);
            vm.connect(t0 + bootTimeout.toNanos());
            vm.bootTime = Duration.ofNanos(System.nanoTime() - t0);
            return vm;
        } catch (IOException | RuntimeException e) {
            String console = consoleTail(state);
            if (vm != null) vm.close();
            else ProcessSandbox.deleteTree(state);
            String msg = e instanceof SandboxException ? e.getMessage() : "cannot boot sandbox " + id + ": " + e;
            throw new SandboxException(msg + (console.isEmpty() ? "" : "; guest console ends with:\n" + console), e);
        }
    }

    static List<String> qemuCommand(String qemuPath, VmImage img, boolean kvm, SandboxSpec spec, Path ws, Path state) {
        List<String> c = new ArrayList<>();
        String setpriv = Substrates.onPath("setpriv");
        if (setpriv != null) c.addAll(List.of(setpriv, "--pdeathsig", "KILL", "--"));
        int vcpus = (int) Math.max(1, Math.min(Math.ceil(spec.cpus()), Runtime.getRuntime().availableProcessors()));
        c.addAll(List.of(qemuPath, "-accel", kvm ? "kvm" : "tcg", "-machine", "pc", "-cpu", kvm ? "host" : "qemu64",
                "-m", Long.toString(spec.memoryMb() + GUEST_OVERHEAD_MB), "-smp", Integer.toString(vcpus),
                "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot",
                // QEMU's own seccomp filter: an escape from the emulator still cannot exec, setuid or fork.
                "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                "-kernel", img.vmlinuz().toString(), "-initrd", img.initrd().toString(),
                // cryptomgr.notests and acpi=noirq save seconds of emulated boot (crypto self-tests, ACPI
                // interrupt routing per PCI device); panic=-1 with -no-reboot turns a guest panic into an exit.
                "-append", "console=ttyS0 quiet panic=-1 cryptomgr.notests acpi=noirq",
                "-serial", "file:" + opt(state.resolve("console.log")),
                "-virtfs", "local,path=" + opt(ws) + ",mount_tag=ws,security_model=none,id=ws",
                "-virtfs", "local,path=" + opt(state.resolve("ctl")) + ",mount_tag=ctl,security_model=none,id=ctl",
                "-device", "virtio-serial-pci"));
        // User-mode networking (slirp): outbound TCP/UDP through the host's stack, NAT'ed; the host's own
        // 127.0.0.1 is reachable at 10.0.2.2, as with the process substrate's shared network.
        c.addAll(spec.network() ? List.of("-nic", "user,model=virtio-net-pci") : List.of("-nic", "none"));
        for (String port : List.of("ctl", "out", "err"))
            c.addAll(List.of("-chardev", "socket,id=" + port + ",path=" + opt(state.resolve(port + ".sock"))
                    + ",server=on,wait=on", "-device", "virtserialport,chardev=" + port + ",name=" + port));
        return c;
    }

    /** QEMU option values separate fields with commas; a literal comma is doubled. */
    private static String opt(Path p) {
        return p.toString().replace(",", ",,");
    }

    /**
     * Starts QEMU from a thread that then waits for it: the parent-death signal fires when the thread that
     * forked the process ends, so that thread must live exactly as long as the VM.
     */
    private static Process start(List<String> cmd, String id, Path state) throws IOException {
        CompletableFuture<Process> started = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name(id + "-qemu").start(() -> {
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(state.resolve("qemu.log").toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            } catch (IOException | RuntimeException e) {
                started.completeExceptionally(e);
                return;
            }
            started.complete(p);
            while (true) {
                try {
                    p.waitFor();
                    return;
                } catch (InterruptedException e) {
                    // keep waiting: this thread's life is the VM's
                }
            }
        });
        try {
            return started.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw new SandboxException("cannot start QEMU: " + e.getCause().getMessage(), e.getCause());
        }
    }

    /** Connects the three ports (QEMU waits for each in turn), starts their readers, waits for READY. */
    private void connect(long deadline) throws IOException {
        List<InputStream> ins = new ArrayList<>();
        for (String port : List.of("ctl", "out", "err")) {
            Path sock = state.resolve(port + ".sock");
            while (true) {
                if (!qemu.isAlive()) throw new SandboxException("QEMU exited with " + qemu.exitValue() + " at startup: "
                        + qemuLog());
                if (System.nanoTime() > deadline) throw new SandboxException("QEMU did not open " + sock + " in time");
                if (Files.exists(sock)) {
                    try {
                        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                        ch.connect(UnixDomainSocketAddress.of(sock));
                        channels.add(ch);
                        ins.add(new BufferedInputStream(Channels.newInputStream(ch), 1 << 16));
                        if (port.equals("ctl")) ctlOut = Channels.newOutputStream(ch);
                        break;
                    } catch (IOException e) {
                        // socket file there, listener not yet: retry
                    }
                }
                sleep(10);
            }
        }
        Thread.ofPlatform().daemon().name(id + "-ctl").start(() -> readCtl(ins.get(0)));
        Thread.ofPlatform().daemon().name(id + "-out").start(() -> readFrames(ins.get(1), "out"));
        Thread.ofPlatform().daemon().name(id + "-err").start(() -> readFrames(ins.get(2), "err"));
        while (true) {
            long left = deadline - System.nanoTime();
            String line;
            try {
                line = left <= 0 ? null : ctlLines.poll(left, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SandboxException("interrupted while sandbox " + id + " was booting");
            }
            if (line == null) throw new SandboxException("sandbox " + id + ": the VM did not boot within "
                    + Duration.ofNanos(deadline - System.nanoTime() + left).toSeconds() + " s");
            if (line.startsWith("READY ")) {
                guestKernel = line.substring(6);
                return;
            }
            throw new SandboxException("sandbox " + id + ": the guest said '" + line + "' instead of READY"
                    + (line.equals("EOF") ? " (QEMU exited: " + qemuLog() + ")" : ""));
        }
    }

    private void readCtl(InputStream in) {
        try {
            byte[] line;
            while ((line = readLine(in, 4096)) != null) ctlLines.add(new String(line, StandardCharsets.US_ASCII));
        } catch (IOException e) {
            // the VM is gone; the EOF below says so
        }
        ctlLines.add("EOF");
    }

    private void readFrames(InputStream in, String port) {
        try {
            byte[] line;
            while ((line = readLine(in, MAX_FRAME)) != null) {
                Stream s = port.equals("out") ? outStream : errStream;
                if (line.length == 1 && line[0] == 'E') {
                    if (s != null) s.end().countDown();
                } else if (line.length > 0 && line[0] == 'D') {
                    byte[] data = Base64.getDecoder().decode(java.util.Arrays.copyOfRange(line, 1, line.length));
                    clock.output(System.nanoTime());
                    if (s != null) s.sink().write(data, 0, data.length);
                } else {
                    markBroken("protocol error on port " + port + ": a line starting with " + (line.length == 0 ? "nothing"
                            : "byte " + (line[0] & 0xff)));
                    return;
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            if (!closed.get()) markBroken("port " + port + " failed: " + e.getMessage());
        } finally {
            Stream s = port.equals("out") ? outStream : errStream;
            if (s != null) s.end().countDown();
        }
    }

    /** One line without its '\n'; null at end of stream; longer than {@code max} is a protocol error. */
    private static byte[] readLine(InputStream in, int max) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) return null;
            if (b.size() >= max) throw new IOException("frame longer than " + max + " bytes");
            b.write(c);
        }
        return b.toByteArray();
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String substrate() {
        return "vm";
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

    /** The guest kernel's release, as the guest reported it at boot. */
    String guestKernel() {
        return guestKernel;
    }

    /** From starting QEMU to the agent's READY. */
    Duration bootTime() {
        return bootTime;
    }

    ProcessHandle qemuProcess() {
        return qemu.toHandle();
    }

    /** Why the sandbox can no longer run commands, or null. */
    String broken() {
        return broken;
    }

    @Override
    public ExecResult exec(List<String> command, byte[] stdin) {
        if (command.isEmpty()) throw new IllegalArgumentException("empty command");
        String script = script(command);
        execLock.lock();
        try {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
            if (broken != null) throw new SandboxException("sandbox " + id + " is broken: " + broken);
            return run(script, stdin == null ? new byte[0] : stdin);
        } finally {
            execLock.unlock();
        }
    }

    /** The shell script the guest runs: a clean environment, then the argv exactly as given. */
    String script(List<String> command) {
        StringBuilder s = new StringBuilder("exec env -i PATH=" + GUEST_PATH
                + " HOME=/workspace USER=root LANG=C.UTF-8 TMPDIR=/tmp");
        spec.env().forEach((k, v) -> s.append(' ').append(quote(k + "=" + v, "environment variable " + k)));
        s.append(" /bin/sh -c 'exec \"$@\"' sh"); // argv[0] may contain '=', which env would take as a variable
        for (String a : command) s.append(' ').append(quote(a, "command argument"));
        return s.append('\n').toString();
    }

    private static String quote(String s, String what) {
        if (s.indexOf('\0') >= 0) throw new IllegalArgumentException(what + " contains a NUL byte");
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private ExecResult run(String script, byte[] stdin) {
        long n = ++execs;
        Path dir = state.resolve("ctl").resolve(Long.toString(n));
        try {
            Files.createDirectory(dir);
            Files.writeString(dir.resolve("cmd"), script);
            Files.write(dir.resolve("in"), stdin);
        } catch (IOException e) {
            throw new SandboxException("sandbox " + id + ": cannot write the exec's files in " + dir + ": " + e, e);
        }
        Stream out = new Stream(new CappedOutput(spec.outputCapBytes()), new CountDownLatch(1));
        Stream err = new Stream(new CappedOutput(spec.outputCapBytes()), new CountDownLatch(1));
        outStream = out;
        errStream = err;
        ctlLines.removeIf(l -> !l.equals("EOF"));
        long start = clock.start();
        // Sent even while paused: the socket holds it, and the guest reads it once QEMU runs again.
        send("RUN " + n + " " + (spec.memoryMb() << 20) + " " + spec.pids());
        ExecResult.Outcome outcome = ExecResult.Outcome.EXITED;
        String detail = null;
        long timeoutNs = spec.timeout().toNanos();
        long idleNs = spec.idleTimeout() == null ? Long.MAX_VALUE : spec.idleTimeout().toNanos();
        long killedAt = 0;
        boolean interrupted = false;
        String done = null;
        while (done == null) {
            String line = null;
            try {
                line = ctlLines.poll(10, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                interrupted = true;
                if (killedAt == 0) {
                    outcome = ExecResult.Outcome.CLOSED;
                    detail = "killed: the calling thread was interrupted";
                }
            }
            if (line != null && line.startsWith("DONE " + n + " ")) {
                done = line;
                break;
            }
            if (line != null && line.equals("EOF") || closed.get()) {
                outcome = ExecResult.Outcome.CLOSED;
                detail = closed.get() ? "killed: the sandbox was closed"
                        : "the VM died: " + (broken != null ? broken : "QEMU exited (" + qemuLog() + ")");
                if (!closed.get()) markBroken(detail);
                break;
            }
            long now = System.nanoTime();
            if (clock.paused()) continue; // a paused VM runs nothing, so the exec's clocks stand still
            if (killedAt == 0) {
                if (detail != null) {
                    // interrupted: the command is killed like at a timeout
                } else if (clock.running(now) > timeoutNs) {
                    outcome = ExecResult.Outcome.TIMED_OUT;
                    detail = "killed: wall-clock timeout of " + spec.timeout().toMillis() + " ms";
                } else if (clock.silent(now) > idleNs) {
                    outcome = ExecResult.Outcome.IDLE_TIMED_OUT;
                    detail = "killed: no output for " + spec.idleTimeout().toMillis() + " ms";
                }
                if (detail != null) {
                    send("KILL " + n);
                    killedAt = now;
                }
            } else if (now - killedAt > TimeUnit.MILLISECONDS.toNanos(KILL_WAIT_MS)) {
                markBroken("the guest did not end exec " + n + " within " + KILL_WAIT_MS + " ms of being told to");
                detail += "; " + broken + ", so QEMU was killed and the sandbox is broken";
                break;
            }
        }
        int exit = 137;
        long oom = 0, pidsHits = 0;
        if (done != null) {
            String[] f = done.split(" ");
            if (f.length != 5) markBroken("malformed reply '" + done + "'");
            else {
                exit = Integer.parseInt(f[2]);
                oom = Long.parseLong(f[3]);
                pidsHits = Long.parseLong(f[4]);
            }
            // The guest ends both streams before it says DONE, but the ports are independent channels.
            if (!await(out.end()) || !await(err.end()))
                markBroken("exec " + n + " ended but its output streams did not within " + KILL_WAIT_MS + " ms");
        }
        outStream = null;
        errStream = null;
        ProcessSandbox.deleteTree(dir);
        if (interrupted) Thread.currentThread().interrupt();
        if (detail == null) {
            detail = oom > 0 && exit == 137 ? "killed by the memory limit of " + spec.memoryMb() + " MB"
                    : exit > 128 ? "ended by signal " + (exit - 128) : "exited with " + exit;
            if (oom > 0 && exit != 137) detail += " (the memory limit killed " + oom + " of its processes)";
            if (pidsHits > 0) detail += "; the pids limit of " + spec.pids() + " refused " + pidsHits + " forks";
        }
        CappedOutput o = out.sink(), e = err.sink();
        return new ExecResult(exit, o.text(), e.text(), o.truncated(), e.truncated(), o.total(), e.total(), outcome,
                oom, pidsHits, Duration.ofNanos(System.nanoTime() - start), detail);
    }

    private static boolean await(CountDownLatch l) {
        try {
            return l.await(KILL_WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return l.getCount() == 0;
        }
    }

    private void send(String line) {
        try {
            synchronized (this) {
                ctlOut.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
                ctlOut.flush();
            }
        } catch (IOException e) {
            markBroken("cannot write to the control channel: " + e.getMessage());
        }
    }

    /** The VM cannot be trusted to serve another exec: kill it now, keep the reason for the next caller. */
    private void markBroken(String why) {
        if (broken == null) broken = why;
        qemu.destroyForcibly();
    }

    private String qemuLog() {
        try {
            return Files.readString(state.resolve("qemu.log")).strip();
        } catch (IOException e) {
            return "no QEMU log";
        }
    }

    private static String consoleTail(Path state) {
        try {
            List<String> lines = Files.readAllLines(state.resolve("console.log"), StandardCharsets.ISO_8859_1);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException e) {
            return "";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SandboxException("interrupted");
        }
    }

    /**
     * Stops the whole VM where it stands (SIGSTOP to QEMU: vCPUs, devices and the guest's clock all stop), keeping
     * its memory and state, as DSec pauses the sandboxes of a preempted job. A running exec's timeouts stop counting.
     */
    @Override
    public void pause() {
        clock.pause(() -> {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
            if (broken != null) throw new SandboxException("sandbox " + id + " is broken: " + broken);
        }, () -> signal("STOP"));
    }

    @Override
    public void resume() {
        clock.resume(closed::get, () -> signal("CONT"));
    }

    /** True between {@link #pause} and {@link #resume}. */
    boolean isPaused() {
        return clock.paused();
    }

    /** Java cannot send SIGSTOP/SIGCONT itself; kill(1) can. */
    private void signal(String sig) {
        try {
            Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(qemu.pid())).redirectErrorStream(true).start();
            String out = new String(k.getInputStream().readAllBytes()).strip();
            if (k.waitFor() != 0) throw new SandboxException("sandbox " + id + ": kill -" + sig + " " + qemu.pid() + " failed: " + out);
        } catch (IOException e) {
            throw new SandboxException("sandbox " + id + ": cannot run kill -" + sig + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SandboxException("sandbox " + id + ": interrupted while sending SIG" + sig, e);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        // Nothing in the guest needs a clean shutdown: the workspace is written through to the host (9p,
        // cache=none), everything else dies with the VM.
        qemu.destroyForcibly();
        boolean gone = false;
        try {
            gone = qemu.waitFor(KILL_WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (SocketChannel c : channels) {
            try {
                c.close();
            } catch (IOException e) {
                // closing a dead VM's socket
            }
        }
        execLock.lock(); // a running exec notices the close and returns CLOSED
        try {
            LIVE.remove(this);
            if (ownWorkspace) ProcessSandbox.deleteTree(workspace);
            ProcessSandbox.deleteTree(state);
        } finally {
            execLock.unlock();
        }
        if (!gone) throw new SandboxException("sandbox " + id + ": QEMU (pid " + qemu.pid() + ") survived SIGKILL");
    }
}
