package dev.ds4j.session;


import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The KV state a chat keeps between turns, and when it may be reused. A session cannot rewind, so a
 * state is reusable only if every token it holds begins the new prompt; otherwise the turn starts a
 * fresh session.
 *
 * <p>Two states are kept. The <em>live</em> session holds, after a reply, the prompt and the reply's
 * tokens but the last (Generator's contract). It matches the next prompt only if the re-rendered reply
 * tokenises to exactly the tokens the model sampled, and in thinking mode it never does: the next
 * prompt renders the earlier turn as {@code <｜Assistant｜></think>content} where the model saw
 * {@code <｜Assistant｜><think>reasoning</think>content}. So a <em>checkpoint</em> is also taken just
 * before each prompt's last token (the {@code <think>} or {@code </think>} after {@code <｜Assistant｜>}):
 * everything up to there is the start of every later prompt of the same conversation and mode. It
 * costs one copy of the cache per turn, which is far cheaper than prefilling the conversation again.
 */
public final class PrefixReuse {
    private final Supplier<Session> newSession;
    private Session live, checkpoint;
    /** Tokens each state holds, in order; null when unknown (a reply was stopped mid-way) or absent. */
    private int[] liveHeld, checkpointHeld;

    public PrefixReuse(Supplier<Session> newSession) { this.newSession = newSession; }

    /**
     * How many tokens of {@code prompt} a state holding {@code held} saves: all of them when {@code held}
     * is a proper prefix of {@code prompt} (at least one prompt token must remain to be fed), else none.
     */
    public static int reusable(int[] held, int[] prompt) {
        if (held == null || held.length >= prompt.length) return 0;
        return Arrays.equals(held, 0, held.length, prompt, 0, held.length) ? held.length : 0;
    }

    /**
     * Makes the live session hold the longest cached prefix of {@code prompt} (possibly none: a fresh
     * session) and returns that prefix's length.
     */
    public int prepare(int[] prompt) {
        int fromLive = reusable(liveHeld, prompt);
        int fromCheckpoint = reusable(checkpointHeld, prompt);
        if (fromLive > 0 && fromLive >= fromCheckpoint) return fromLive;
        if (fromCheckpoint > 0) {
            live.copyFrom(checkpoint);
            liveHeld = checkpointHeld;
            return fromCheckpoint;
        }
        live = newSession.get();
        liveHeld = new int[0];
        return 0;
    }

    /**
     * Feeds {@code prompt[held .. end)} to the live session in chunks of {@code chunk} tokens, polling
     * {@code cancelled} before each; what was fed before a cancellation stays known.
     */
    public void feed(int[] prompt, int end, int chunk, BooleanSupplier cancelled) { feed(prompt, end, chunk, cancelled, null); }

    /** As above; {@code progress} (if not null) gets the tokens fed by each chunk. */
    public void feed(int[] prompt, int end, int chunk, BooleanSupplier cancelled, java.util.function.LongConsumer progress) {
        int at = liveHeld.length;
        while (at < end) {
            if (cancelled.getAsBoolean()) throw new CancellationException("prefill cancelled");
            int to = Math.min(end, at + chunk);
            live.prefill(Arrays.copyOfRange(prompt, at, to), false);
            if (progress != null) progress.accept(to - at);
            at = to;
            liveHeld = Arrays.copyOf(prompt, at);
        }
    }

    /** Remembers the live state as the checkpoint (after {@link #feed}, before generating). */
    public void checkpoint() {
        if (checkpoint == null) checkpoint = newSession.get();
        checkpoint.copyFrom(live);
        checkpointHeld = liveHeld;
    }

    /** After a finished generation after {@code prompt}: the session holds it and every generated token but the last. */
    public void generated(int[] prompt, int[] tokens) {
        int n = Math.max(0, tokens.length - 1);
        int[] held = Arrays.copyOf(prompt, prompt.length + n);
        System.arraycopy(tokens, 0, held, prompt.length, n);
        liveHeld = held;
    }

    /** After a stopped generation: what the live session holds beyond the prompt is unknown, so it is not reused. */
    public void liveUnknown() { liveHeld = null; }

    /** Forgets both states (/reset, or reuse switched off); the next turn starts a fresh session. */
    public void forget() {
        live = null;
        checkpoint = null;
        liveHeld = checkpointHeld = null;
    }

    public Session live() { return live; }
}
