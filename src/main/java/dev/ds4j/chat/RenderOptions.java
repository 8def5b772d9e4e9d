package dev.ds4j.chat;

/**
 * How to render: reasoning mode, effort, whether earlier reasoning is dropped, and which encoder
 * revision's effort rule applies (CHAT_FORMAT §2.5).
 */
public record RenderOptions(ThinkingMode thinkingMode, String reasoningEffort, boolean dropThinking, Revision revision) {

    public enum ThinkingMode {
        CHAT, THINKING;

        public static ThinkingMode parse(String s, String path) {
            if ("chat".equals(s)) return CHAT;
            if ("thinking".equals(s)) return THINKING;
            throw new ChatFormatException(path + ": must be \"chat\" or \"thinking\", got " + (s == null ? "null" : "\"" + s + "\""));
        }
    }

    /** The original V4 release, or the 0731 refresh whose effort levels are low / high / max. */
    public enum Revision {
        ORIGINAL, R0731;

        public static Revision parse(String s, String path) {
            if ("original".equals(s)) return ORIGINAL;
            if ("0731".equals(s)) return R0731;
            throw new ChatFormatException(path + ": must be \"original\" or \"0731\", got \"" + s + "\"");
        }
    }

    static final String EFFORT_ABSOLUTE_MAX = "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
            + "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\n"
            + "Explicitly write out your entire deliberation process, documenting every intermediate step, considered alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";

    static final String EFFORT_BEYOND_MAX = "Reasoning Effort: Beyond maximum \u2014 exhaustive, relentless, and uncompromising.\n"
            + "You MUST reason with the utmost depth and rigor, leaving absolutely nothing to chance: exhaustively decompose the problem into its most fundamental components, trace every causal chain to its root, and resolve the underlying cause rather than any surface symptom.\n"
            + "Do not stop reasoning until you have independently verified the solution from multiple angles and are certain that no assumption remains unchecked and no error remains undiscovered.\n\n";

    public RenderOptions {
        if (thinkingMode == null) throw new ChatFormatException("thinking_mode: is required (\"chat\" or \"thinking\")");
        if (revision == null) revision = Revision.ORIGINAL;
        effortPrefix(reasoningEffort, revision); // validates
    }

    public static RenderOptions chat() { return new RenderOptions(ThinkingMode.CHAT, null, true, Revision.ORIGINAL); }

    public static RenderOptions thinking(String effort) { return new RenderOptions(ThinkingMode.THINKING, effort, true, Revision.ORIGINAL); }

    /** The text placed after BOS in thinking mode; empty for none. Effort values outside the revision's set are errors. */
    static String effortPrefix(String effort, Revision revision) {
        if (revision == Revision.ORIGINAL) {
            if (effort == null || effort.equals("high")) return "";
            if (effort.equals("max")) return EFFORT_ABSOLUTE_MAX;
            throw new ChatFormatException("reasoning_effort: the original V4 encoder accepts null, \"high\" or \"max\", got \"" + effort
                    + "\"" + (effort.equals("low") ? " (\"low\" exists in the 0731 revision)" : ""));
        }
        if (effort == null || effort.equals("low")) return "";
        if (effort.equals("high")) return EFFORT_ABSOLUTE_MAX;
        if (effort.equals("max")) return EFFORT_BEYOND_MAX;
        throw new ChatFormatException("reasoning_effort: the 0731 encoder accepts \"low\", \"high\" or \"max\" (null means low), got \"" + effort + "\"");
    }

    String effortPrefix() { return effortPrefix(reasoningEffort, revision); }
}
