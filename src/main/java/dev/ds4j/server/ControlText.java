package dev.ds4j.server;

import dev.ds4j.chat.ControlToken;

/**
 * Finds control-token text in client-written content. {@code <think>} and {@code </think>} are left out on
 * purpose: people discuss reasoning models in plain words and tags, while nobody types the fullwidth-bar
 * tokens ({@code <｜User｜>}, {@code ｜DSML｜}) except to template a prompt by hand.
 */
final class ControlText {
    private ControlText() {}

    /** The first control literal in {@code text}, or null. */
    static String find(String text) {
        if (text.indexOf('｜') < 0) return null; // every literal we refuse contains U+FF5C
        for (ControlToken t : ControlToken.values()) {
            if (t == ControlToken.THINK || t == ControlToken.THINK_END) continue;
            if (text.contains(t.literal)) return t.literal;
        }
        return null;
    }
}
