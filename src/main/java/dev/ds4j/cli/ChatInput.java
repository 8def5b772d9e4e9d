package dev.ds4j.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;

/**
 * What the user types into {@code ds4j chat}, one entry at a time. An entry is one line, or a
 * multi-line message between triple quotes: a line that starts with {@code """} opens the block and a
 * line that ends with {@code """} closes it. The quotes are not part of the message, and a line holding
 * only the quotes adds no empty line ({@code """one line"""} works too). A block is always a message,
 * even if it starts with "/".
 *
 * <p>On a terminal the prompt {@code >>> } (and {@code ... } inside a block) is shown before reading;
 * otherwise (piped input) each line is echoed after the prompt, so stdout reads as a transcript.
 */
final class ChatInput {
    static final String PROMPT = ">>> ", CONTINUATION = "... ", QUOTES = "\"\"\"";

    /** A typed entry: a message to send, or a line that starts with "/" (a command). */
    record Entry(String text, boolean block) {
        boolean isCommand() { return !block && text.strip().startsWith("/"); }
    }

    /** Raised at end of input inside an unclosed block. */
    static final class UnclosedBlock extends RuntimeException {
        UnclosedBlock() { super("end of input inside a \"\"\" block; that message was not sent"); }
    }

    private final BufferedReader in;
    private final PrintStream out;
    private final boolean interactive, echo;
    private final String promptStyle, reset;

    /** {@code echo}: on piped input, print each line read after the prompt (off for --json, whose stdout is JSON only). */
    ChatInput(BufferedReader in, PrintStream out, boolean interactive, boolean echo, boolean color) {
        this.in = in;
        this.out = out;
        this.interactive = interactive;
        this.echo = echo && !interactive;
        this.promptStyle = color ? Ansi.BOLD : "";
        this.reset = color ? Ansi.RESET : "";
    }

    /** The next entry, or null at end of input. */
    Entry next() {
        String line = readLine(PROMPT);
        if (line == null) return null;
        if (!line.startsWith(QUOTES)) return new Entry(line, false);
        String rest = line.substring(QUOTES.length());
        if (rest.length() >= QUOTES.length() && rest.endsWith(QUOTES))
            return new Entry(rest.substring(0, rest.length() - QUOTES.length()), true);
        // The quotes' own lines add no empty line: """ + text + """ on three lines is just the text.
        java.util.List<String> lines = new java.util.ArrayList<>();
        if (!rest.isEmpty()) lines.add(rest);
        while (true) {
            String more = readLine(CONTINUATION);
            if (more == null) throw new UnclosedBlock();
            if (more.endsWith(QUOTES)) {
                String last = more.substring(0, more.length() - QUOTES.length());
                if (!last.isEmpty()) lines.add(last);
                return new Entry(String.join("\n", lines), true);
            }
            lines.add(more);
        }
    }

    private String readLine(String prompt) {
        if (interactive) {
            out.print(promptStyle + prompt + reset);
            out.flush();
        }
        String line;
        try {
            line = in.readLine();
        } catch (IOException e) {
            throw new UncheckedIOException("stdin: " + e.getMessage(), e);
        }
        if (line == null) {
            if (interactive) out.println(); // leave the terminal on a fresh line after Ctrl-D
            return null;
        }
        if (echo) out.println(prompt + line);
        return line;
    }
}
