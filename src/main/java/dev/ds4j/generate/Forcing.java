package dev.ds4j.generate;

/**
 * Tokens emitted instead of sampled, while the model still runs every step: a {@code prefix} at the start of
 * the output, and/or {@code afterTrigger} right after the model itself emits the {@code trigger} token (once).
 * The first serves forced outputs and chat-mode tool_choice; the second thinking-mode tool_choice, where the
 * tool-call block must begin right after {@code </think>}.
 */
public record Forcing(int[] prefix, int trigger, int[] afterTrigger) {
    public static final Forcing NONE = new Forcing(null, -1, null);

    public static Forcing prefix(int[] tokens) { return tokens == null || tokens.length == 0 ? NONE : new Forcing(tokens, -1, null); }

    public static Forcing after(int trigger, int[] tokens) { return new Forcing(null, trigger, tokens); }
}
