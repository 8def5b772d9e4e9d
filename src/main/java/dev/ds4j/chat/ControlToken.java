package dev.ds4j.chat;

/**
 * The protocol's control tokens (CHAT_FORMAT §1). Only the renderer places these: text that comes
 * from a user, a tool, a document or a schema is tokenised as plain text even when it spells one of
 * these literals, so nobody can forge a turn or a tool call by typing it.
 */
public enum ControlToken {
    BOS("<｜begin▁of▁sentence｜>"),
    EOS("<｜end▁of▁sentence｜>"),
    USER("<｜User｜>"),
    ASSISTANT("<｜Assistant｜>"),
    THINK("<think>"),
    THINK_END("</think>"),
    DSML("｜DSML｜"),
    LATEST_REMINDER("<｜latest_reminder｜>"),
    TASK_ACTION("<｜action｜>"),
    TASK_QUERY("<｜query｜>"),
    TASK_AUTHORITY("<｜authority｜>"),
    TASK_DOMAIN("<｜domain｜>"),
    TASK_TITLE("<｜title｜>"),
    TASK_READ_URL("<｜read_url｜>"),
    EXTRACTED_URL("<｜extracted_url｜>");

    public final String literal;

    ControlToken(String literal) { this.literal = literal; }

    /** The token a quick-instruction task (§3.8) appends, or null for an unknown task name. */
    static ControlToken forTask(String task) {
        return switch (task) {
            case "action" -> TASK_ACTION;
            case "query" -> TASK_QUERY;
            case "authority" -> TASK_AUTHORITY;
            case "domain" -> TASK_DOMAIN;
            case "title" -> TASK_TITLE;
            case "read_url" -> TASK_READ_URL;
            default -> null;
        };
    }
}
