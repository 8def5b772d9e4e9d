package dev.ds4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.sandbox.ExecResult;
import dev.ds4j.sandbox.Image;
import dev.ds4j.sandbox.Sandbox;
import dev.ds4j.sandbox.SandboxException;
import dev.ds4j.sandbox.SandboxSpec;
import dev.ds4j.sandbox.Substrate;
import dev.ds4j.sandbox.SubstrateUnavailableException;
import dev.ds4j.sandbox.Substrates;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ds4j sandbox}: run one command in a sandbox, or list the substrates and whether they can run here. */
@Command(name = "sandbox", mixinStandardHelpOptions = true,
        description = "Runs commands in the agent's sandboxes (see 'sandbox run --help') and lists the substrates.",
        subcommands = {SandboxCommand.Run.class, SandboxCommand.ListSubstrates.class})
final class SandboxCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    /** Exit code of a command killed at its timeout (as coreutils' timeout reports it). */
    static final int TIMEOUT_EXIT = 124;

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Creates a sandbox, runs CMD once in it, prints its stdout and stderr, and removes the sandbox.",
                    "Exits with CMD's exit code, 124 when a timeout killed it, 2 on bad input or when the substrate cannot run here."})
    static final class Run implements Callable<Integer> {
        @Option(names = "--substrate", defaultValue = "process", description = "substrate to use (default process; see 'sandbox substrates')")
        String substrate;

        @Option(names = "--workspace", paramLabel = "DIR", description = "host directory mounted read-write at /workspace and kept afterwards (default: a private one, deleted)")
        Path workspace;

        @Option(names = "--network", description = "share the host's network (default: loopback only)")
        boolean network;

        @Option(names = "--memory-mb", paramLabel = "N", description = "memory limit of the sandbox in MB (default 512)")
        Long memoryMb;

        @Option(names = "--pids", paramLabel = "N", description = "most processes alive at once (default 256)")
        Integer pids;

        @Option(names = "--cpus", paramLabel = "X", description = "CPU cores' worth of time per second (default 1)")
        Double cpus;

        @Option(names = "--timeout", paramLabel = "S", description = "wall-clock limit in seconds (default 60)")
        Double timeout;

        @Option(names = "--idle-timeout", paramLabel = "S", description = "kill the command after S seconds without output (default: none)")
        Double idleTimeout;

        @Option(names = "--json", description = "print one JSON object (exit code, outcome, duration, output, truncation) instead of the output")
        boolean json;

        @Option(names = "--image", paramLabel = "LAYER", split = ",", description = "run on a layered image instead of the host's /usr: EROFS layer files, top first (repeat or comma-separate; see tools/build-base-image.sh)")
        java.util.List<Path> image;

        @Option(names = "--snapshot", paramLabel = "OUT", description = "after CMD, pack what it changed outside /workspace into the EROFS layer OUT (needs --image); run later with --image OUT,LAYER…")
        Path snapshot;

        @Parameters(paramLabel = "CMD", arity = "1..*", description = "the command and its arguments (put them after --)")
        java.util.List<String> command;

        /** The layers of {@code --image}, top first; each must be a file (whether it is EROFS is checked at mount). */
        static Image image(java.util.List<Path> layers) {
            for (Path l : layers)
                if (!Files.isRegularFile(l)) throw new IllegalArgumentException("--image: " + l + " is not a file");
            try {
                return new Image(layers);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--image: " + e.getMessage());
            }
        }

        static long memoryMb(long mb) {
            if (mb < 8) throw new IllegalArgumentException("--memory-mb: must be at least 8, got " + mb);
            return mb;
        }

        static Duration seconds(String option, double s) {
            if (!(s > 0) || Double.isInfinite(s)) throw new IllegalArgumentException(option + ": must be a positive number of seconds, got " + s);
            return Duration.ofNanos(Math.round(s * 1e9));
        }

        SandboxSpec spec() {
            SandboxSpec s = SandboxSpec.defaults().withNetwork(network);
            if (workspace != null) {
                if (!Files.isDirectory(workspace)) throw new IllegalArgumentException("--workspace: " + workspace + " is not a directory");
                s = s.withWorkspace(workspace.toAbsolutePath());
            }
            if (memoryMb != null) s = s.withMemoryMb(memoryMb(memoryMb));
            if (pids != null) {
                if (pids < 1) throw new IllegalArgumentException("--pids: must be at least 1, got " + pids);
                s = s.withPids(pids);
            }
            if (cpus != null) {
                if (!(cpus > 0) || cpus > 1024) throw new IllegalArgumentException("--cpus: must be in (0, 1024], got " + cpus);
                s = s.withCpus(cpus);
            }
            if (image != null && !image.isEmpty()) s = s.withImage(image(image));
            if (snapshot != null) {
                if (image == null || image.isEmpty()) throw new IllegalArgumentException("--snapshot: needs --image (a sandbox on the host's /usr has nothing to pack)");
                if (Files.exists(snapshot)) throw new IllegalArgumentException("--snapshot: " + snapshot + " already exists");
            }
            if (timeout != null) s = s.withTimeout(seconds("--timeout", timeout));
            if (idleTimeout != null) s = s.withIdleTimeout(seconds("--idle-timeout", idleTimeout));
            return s;
        }

        @Override
        public Integer call() throws Exception {
            SandboxSpec s = spec();
            Substrates all = Substrates.standard();
            Substrate sub;
            try {
                sub = all.require(substrate);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--substrate: " + e.getMessage());
            } catch (SubstrateUnavailableException e) {
                System.err.println("ds4j: error: --substrate: " + e.getMessage());
                return 2;
            }
            long t0 = System.nanoTime();
            ExecResult r;
            String id;
            Sandbox created;
            try {
                created = sub.create(s);
            } catch (SandboxException e) {
                System.err.println("ds4j: error: " + e.getMessage());
                return 2;
            }
            try (Sandbox box = created) {
                id = box.id();
                long t1 = System.nanoTime();
                r = box.exec(command);
                long createMs = (t1 - t0) / 1_000_000;
                if (snapshot != null) {
                    long ts = System.nanoTime();
                    box.snapshot(snapshot.toAbsolutePath());
                    System.err.printf("ds4j: snapshot %s: %d bytes in %d ms%n", snapshot, Files.size(snapshot), (System.nanoTime() - ts) / 1_000_000);
                }
                int code = exitCode(r);
                if (json) {
                    ObjectNode o = new ObjectMapper().createObjectNode();
                    o.put("sandbox", id).put("substrate", sub.name()).put("exit_code", r.exitCode())
                            .put("outcome", r.outcome().name().toLowerCase()).put("detail", r.detail())
                            .put("create_ms", createMs).put("exec_ms", r.duration().toMillis())
                            .put("stdout", r.stdout()).put("stderr", r.stderr())
                            .put("stdout_bytes", r.stdoutBytes()).put("stderr_bytes", r.stderrBytes())
                            .put("stdout_truncated", r.stdoutTruncated()).put("stderr_truncated", r.stderrTruncated())
                            .put("oom_kills", r.oomKills()).put("pids_limit_hits", r.pidsLimitHits());
                    System.out.println(new ObjectMapper().writeValueAsString(o));
                } else {
                    System.out.print(r.stdout());
                    System.out.flush();
                    System.err.print(r.stderr());
                    if (r.stdoutTruncated() || r.stderrTruncated())
                        System.err.printf("ds4j: output truncated (stdout %d bytes, stderr %d bytes in all)%n", r.stdoutBytes(), r.stderrBytes());
                    if (r.outcome() != ExecResult.Outcome.EXITED || r.killedByMemoryLimit())
                        System.err.println("ds4j: " + r.detail());
                }
                System.out.flush();
                System.err.flush();
                return code;
            }
        }

        static int exitCode(ExecResult r) {
            return switch (r.outcome()) {
                case TIMED_OUT, IDLE_TIMED_OUT -> TIMEOUT_EXIT;
                default -> r.exitCode();
            };
        }
    }

    @Command(name = "substrates", mixinStandardHelpOptions = true,
            description = "Lists each sandbox substrate as available or unavailable here, with the reason.")
    static final class ListSubstrates implements Callable<Integer> {
        @Option(names = "--json", description = "print a JSON object: substrate name -> {available, reason}")
        boolean json;

        @Override
        public Integer call() throws Exception {
            Map<String, Substrate.Availability> report = Substrates.standard().report();
            if (json) {
                ObjectNode o = new ObjectMapper().createObjectNode();
                report.forEach((n, a) -> o.putObject(n).put("available", a.available()).put("reason", a.reason()));
                System.out.println(new ObjectMapper().writeValueAsString(o));
            } else {
                report.forEach((n, a) -> System.out.printf("%-12s %-12s %s%n", n, a.available() ? "available" : "unavailable",
                        a.reason() == null ? "" : a.reason()));
            }
            return 0;
        }
    }
}
