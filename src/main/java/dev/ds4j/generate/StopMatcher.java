package dev.ds4j.generate;

import java.util.List;

/**
 * Finds stop strings in streamed text. Text that could still be the start of a stop string is held
 * back, so a caller never shows a user the first half of a stop string that is then cut off.
 */
final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;
    private String matched;

    StopMatcher(List<String> stops) { this.stops = stops; }

    /** Adds text; returns what is safe to emit. After a stop string is found, {@link #stopped()} is true and the rest is dropped. */
    String accept(String text) {
        if (stopped) return "";
        held.append(text);
        int at = -1;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && (at < 0 || i < at)) { at = i; matched = s; }
        }
        if (at >= 0) {
            stopped = true;
            String out = held.substring(0, at);
            held.setLength(0);
            return out;
        }
        int keep = 0;
        for (String s : stops)
            for (int k = Math.min(s.length() - 1, held.length()); k > keep; k--)
                if (held.substring(held.length() - k).equals(s.substring(0, k))) { keep = k; break; }
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** The held-back text at the end of generation (it turned out not to be a stop string). */
    String flush() {
        String out = stopped ? "" : held.toString();
        held.setLength(0);
        return out;
    }

    boolean stopped() { return stopped; }

    /** The stop string that ended the text (the earliest one), or null. */
    String matched() { return matched; }
}
