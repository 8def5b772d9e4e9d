package dev.ds4j.cli;

/** The few terminal styles the chat uses, and when it may use them. */
final class Ansi {
    private Ansi() {}

    static final String FAINT = "\033[2m", BOLD = "\033[1m", RESET = "\033[0m";

    /**
     * Whether to colour: {@code always}, {@code never}, or {@code auto}, which colours only on a terminal
     * and when the NO_COLOR convention (https://no-color.org: set and not empty) does not forbid it.
     */
    static boolean enabled(String when, String noColorEnv, boolean terminal) {
        return switch (when) {
            case "always" -> true;
            case "never" -> false;
            case "auto" -> terminal && (noColorEnv == null || noColorEnv.isEmpty());
            default -> throw new IllegalArgumentException("--color: must be auto, always or never, got " + when);
        };
    }

    /**
     * Whether stdin and stdout are both a terminal. Java can only tell both at once
     * ({@link java.io.Console#isTerminal}), so piped input also turns colours off in auto mode.
     */
    static boolean terminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }
}
