package dev.ds4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ds4j} command line. */
@Command(name = "ds4j", mixinStandardHelpOptions = true, version = "ds4j 0.1.0",
        description = "DeepSeek-V4 for the JVM.",
        subcommands = {InitCommand.class, ChatCommand.class, GenerateCommand.class, ServeCommand.class, VerifyCommand.class, InfoCommand.class, BenchCommand.class, RenderCommand.class, ParseCommand.class, SandboxCommand.class, AgentCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) { System.exit(run(args)); }

    /** Runs the CLI and returns its exit code; errors from bad input are one line on stderr, never a stack trace. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            String msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
            cmd.getErr().println("ds4j: error: " + msg);
            if (System.getenv("DS4J_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            return ex instanceof dev.ds4j.checkpoint.CheckpointException || ex instanceof IllegalArgumentException ? 2 : 1;
        });
        return cl.execute(args);
    }
}
