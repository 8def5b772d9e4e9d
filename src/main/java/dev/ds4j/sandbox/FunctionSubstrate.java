package dev.ds4j.sandbox;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The "function" substrate: tools are Java code in this JVM (DSec's FnCall class, the cheapest and weakest).
 * An exec's first word names a registered tool, the rest are its arguments. What it enforces: the wall-clock
 * and idle timeouts (by interrupting the tool's thread: a Java thread cannot be killed, so a tool that ignores
 * interrupts keeps running, reported as such), the output cap, and workspace confinement for paths resolved
 * through {@link Context#resolve}. Memory, pids, CPU and network limits cannot be enforced in-process and are
 * not: only trusted code belongs here.
 */
public final class FunctionSubstrate implements Substrate {

    /** A tool: returns its exit code; output goes to the context's streams. */
    @FunctionalInterface
    public interface Tool {
        int run(Context ctx) throws Exception;
    }

    /** What a tool gets: its arguments, input, output streams and the confined workspace. */
    public record Context(List<String> args, byte[] stdin, PrintStream out, PrintStream err, Path workspace,
                          Map<String, String> env) {
        /**
         * A path inside the workspace, or {@link SecurityException}: ".." and absolute paths may not leave it,
         * and neither may a symbolic link met on the way (its target is checked once resolved).
         */
        public Path resolve(String path) {
            Path p = path.startsWith("/workspace/") || path.equals("/workspace")
                    ? workspace.resolve(path.substring("/workspace".length()).replaceFirst("^/", ""))
                    : workspace.resolve(path);
            p = p.normalize();
            if (!p.startsWith(workspace)) throw new SecurityException("path '" + path + "' is outside the workspace");
            try {
                Path real = workspace.toRealPath();
                // Check the longest existing prefix with links followed: it must still be in the workspace.
                Path existing = p;
                while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) existing = existing.getParent();
                if (existing != null && !existing.toRealPath().startsWith(real))
                    throw new SecurityException("path '" + path + "' leads outside the workspace through a link");
            } catch (IOException e) {
                throw new SecurityException("cannot resolve '" + path + "': " + e.getMessage());
            }
            return p;
        }
    }

    private static final AtomicLong NEXT = new AtomicLong();
    private final Map<String, Tool> tools = new ConcurrentHashMap<>();

    public FunctionSubstrate register(String name, Tool tool) {
        if (tools.putIfAbsent(name, tool) != null) throw new IllegalArgumentException("tool '" + name + "' already registered");
        return this;
    }

    @Override
    public String name() {
        return "function";
    }

    @Override
    public Availability availability() {
        return Availability.yes("in-process Java tools: " + tools.keySet());
    }

    @Override
    public Sandbox create(SandboxSpec spec) {
        if (spec.image() != null)
            throw new SandboxException("the function substrate runs Java tools in this JVM and cannot use an image"
                    + " (" + spec.image().layers() + "); use the process substrate");
        Path ws;
        boolean own = spec.workspace() == null;
        try {
            ws = own ? Files.createTempDirectory("ds4j-fn-") : Files.createDirectories(spec.workspace());
            ws = ws.toAbsolutePath().normalize();
        } catch (IOException e) {
            throw new SandboxException("cannot create workspace: " + e, e);
        }
        return new FunctionSandbox("ds4j-fn-" + NEXT.incrementAndGet(), spec, ws, own);
    }

    private final class FunctionSandbox implements Sandbox {
        private final String id;
        private final SandboxSpec spec;
        private final Path workspace;
        private final boolean own;
        private final AtomicBoolean closed = new AtomicBoolean();
        private final Map<Thread, Boolean> running = new ConcurrentHashMap<>();

        FunctionSandbox(String id, SandboxSpec spec, Path workspace, boolean own) {
            this.id = id;
            this.spec = spec;
            this.workspace = workspace;
            this.own = own;
        }

        @Override public String id() { return id; }
        @Override public String substrate() { return "function"; }
        @Override public Path workspace() { return workspace; }
        @Override public SandboxSpec spec() { return spec; }
        @Override public boolean isClosed() { return closed.get(); }

        /** "/bin/sh -c 'tool a b'" is accepted as "tool a b", so callers can use {@link #shell} here too. */
        @Override
        public ExecResult exec(List<String> command, byte[] stdin) {
            if (closed.get()) throw new SandboxException("sandbox " + id + " is closed");
            if (command.size() == 3 && command.get(0).equals("/bin/sh") && command.get(1).equals("-c"))
                command = List.of(command.get(2).trim().split("\\s+"));
            if (command.isEmpty() || command.get(0).isEmpty()) throw new IllegalArgumentException("empty command");
            CappedOutput out = new CappedOutput(spec.outputCapBytes()), err = new CappedOutput(spec.outputCapBytes());
            long start = System.nanoTime();
            AtomicLong last = new AtomicLong(start);
            Tool tool = tools.get(command.get(0));
            if (tool == null) {
                byte[] msg = ("no such function tool '" + command.get(0) + "'; registered: " + tools.keySet() + "\n")
                        .getBytes(StandardCharsets.UTF_8);
                err.write(msg, 0, msg.length);
                return result(127, out, err, ExecResult.Outcome.EXITED, start, "no such tool");
            }
            Context ctx = new Context(List.copyOf(command.subList(1, command.size())),
                    stdin == null ? new byte[0] : stdin.clone(), stream(out, last), stream(err, last), workspace, spec.env());
            int[] code = {0};
            Thread t = Thread.ofVirtual().unstarted(() -> {
                try {
                    code[0] = tool.run(ctx);
                } catch (InterruptedException e) {
                    code[0] = 130;
                } catch (Exception | Error e) { // a tool's failure is the tool call's result, not ours
                    ctx.err().println(e.getClass().getSimpleName() + ": " + e.getMessage());
                    code[0] = 1;
                }
                ctx.out().flush();
                ctx.err().flush();
            });
            running.put(t, true);
            t.start();
            ExecResult.Outcome outcome = ExecResult.Outcome.EXITED;
            String detail = null;
            long idleNs = spec.idleTimeout() == null ? Long.MAX_VALUE : spec.idleTimeout().toNanos();
            try {
                while (!t.join(Duration.ofMillis(10))) {
                    long now = System.nanoTime();
                    if (closed.get()) { outcome = ExecResult.Outcome.CLOSED; detail = "interrupted: the sandbox was closed"; }
                    else if (now - start > spec.timeout().toNanos()) {
                        outcome = ExecResult.Outcome.TIMED_OUT;
                        detail = "interrupted: wall-clock timeout of " + spec.timeout().toMillis() + " ms";
                    } else if (now - last.get() > idleNs) {
                        outcome = ExecResult.Outcome.IDLE_TIMED_OUT;
                        detail = "interrupted: no output for " + spec.idleTimeout().toMillis() + " ms";
                    }
                    if (outcome != ExecResult.Outcome.EXITED) {
                        t.interrupt();
                        if (!t.join(Duration.ofSeconds(1))) detail += "; the tool ignored the interrupt and is still running";
                        break;
                    }
                }
            } catch (InterruptedException e) {
                t.interrupt();
                Thread.currentThread().interrupt();
                outcome = ExecResult.Outcome.CLOSED;
                detail = "interrupted: the calling thread was interrupted";
            } finally {
                running.remove(t);
            }
            int exit = outcome == ExecResult.Outcome.EXITED ? code[0] : 130;
            return result(exit, out, err, outcome, start, detail == null ? "exited with " + exit : detail);
        }

        private ExecResult result(int exit, CappedOutput out, CappedOutput err, ExecResult.Outcome o, long start, String detail) {
            return new ExecResult(exit, out.text(), err.text(), out.truncated(), err.truncated(), out.total(),
                    err.total(), o, 0, 0, Duration.ofNanos(System.nanoTime() - start), detail);
        }

        private static PrintStream stream(CappedOutput sink, AtomicLong last) {
            return new PrintStream(new OutputStream() {
                @Override
                public void write(int b) {
                    write(new byte[]{(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    last.set(System.nanoTime());
                    sink.write(b, off, len);
                }
            }, true, StandardCharsets.UTF_8);
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) return;
            running.keySet().forEach(Thread::interrupt);
            if (own) ProcessSandbox.deleteTree(workspace);
        }
    }
}
