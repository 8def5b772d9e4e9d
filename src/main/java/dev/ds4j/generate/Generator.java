package dev.ds4j.generate;

import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.StreamDecoder;
import dev.ds4j.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The decode loop for one sequence: prefill the prompt into the session's cache, then sample, decode and
 * stream text until EOS, a stop string or max_tokens. Special tokens are decoded as their text (the DSML
 * parser needs them); the EOS itself is not part of the text.
 *
 * <p>A forced output replaces sampling with a given token sequence while the model still runs every
 * step, so the cache and timings are those of real generation. Tests use it to make a random model
 * emit real DSML tool calls; users get it too (continuations, scripted agents).
 */
public final class Generator {
    public enum Finish { STOP, LENGTH }

    /**
     * What one generation produced. {@code eos} is whether it ended on the end-of-sentence token,
     * {@code stopSequence} the stop string that ended it (or null); {@code cachedTokens} of the prompt
     * were already in the session (a reused prefix) and not computed again.
     */
    public record Result(int[] tokens, String text, Finish finish, boolean eos, String stopSequence, int promptTokens,
                         int cachedTokens, long prefillNanos, long decodeNanos) {
        public int completionTokens() { return tokens.length; }
    }

    private final Tokenizer tokenizer;
    private final int eos;

    public Generator(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.eos = tokenizer.requireAddedTokenId("<｜end▁of▁sentence｜>");
    }

    public int eosId() { return eos; }

    /**
     * Generates after {@code prompt}, which is appended to whatever the session already holds. Afterwards
     * the session holds the prompt and every generated token but the last (which was never fed back).
     *
     * @param forced token ids to emit instead of sampling (null or empty: sample)
     * @param onText receives text as soon as it is certain (complete characters, no partial stop string)
     */
    public Result generate(Session session, int[] prompt, SamplingParams params, int[] forced, Consumer<String> onText) {
        return generate(session, prompt, params, forced, onText, null);
    }

    /** As above; {@code cancelled} is polled before every step and ends generation with a {@link java.util.concurrent.CancellationException}. */
    public Result generate(Session session, int[] prompt, SamplingParams params, int[] forced, Consumer<String> onText,
                           java.util.function.BooleanSupplier cancelled) {
        return generate(session, prompt, params, forced, onText, cancelled, null);
    }

    /** As above; {@code prefillProgress} (if not null) gets the prompt tokens done after each prefill chunk. */
    public Result generate(Session session, int[] prompt, SamplingParams params, int[] forced, Consumer<String> onText,
                           java.util.function.BooleanSupplier cancelled, java.util.function.IntConsumer prefillProgress) {
        int vocab = session.model().config().vocabSize();
        check(session.position(), prompt, params, vocab, session.model().config().maxPositions());
        Run run = new Run(prompt, 0, params, Forcing.prefix(forced), onText, vocab);
        long t0 = System.nanoTime();
        float[][] rows = session.prefill(prompt, false, prefillProgress);
        run.prefilled(System.nanoTime() - t0);
        int next = run.step(rows[rows.length - 1]);
        while (next >= 0) {
            if (cancelled != null && cancelled.getAsBoolean()) throw new java.util.concurrent.CancellationException("generation cancelled");
            next = run.step(session.decode(next));
        }
        return run.result();
    }

    /** Rejects what cannot run: an empty prompt, ids outside the vocabulary, more positions than the model has. */
    static void check(long cached, int[] prompt, SamplingParams params, int vocab, long maxPos) {
        if (prompt.length == 0) throw new IllegalArgumentException("prompt: empty");
        if (cached + prompt.length + params.maxTokens() > maxPos)
            throw new IllegalArgumentException("context: " + cached + " cached + " + prompt.length + " prompt + "
                    + params.maxTokens() + " max_tokens exceeds the model's " + maxPos + " positions");
        for (int t : prompt) if (t < 0 || t >= vocab) throw new IllegalArgumentException("prompt: token id " + t + " outside [0, " + vocab + ")");
    }

    /**
     * One sequence's generation as a state machine, so one thread can drive many sequences in a batch:
     * give it the logits after the prompt, then after each token it returns, until it returns −1.
     */
    public final class Run {
        private final int[] prompt;
        private final int cached;
        private final SamplingParams params;
        private final int[] forced, afterTrigger;
        private final int trigger;
        private int afterAt = -1; // next index into afterTrigger once the trigger was seen
        private final Consumer<String> onText;
        private final Sampler sampler;
        private final StreamDecoder decoder = tokenizer.newStreamDecoder();
        private final StopMatcher stops;
        private final StringBuilder text = new StringBuilder();
        private int[] out;
        private int n;
        private Finish finish = Finish.LENGTH;
        private boolean hitEos, done;
        private long prefillNanos, decodeStart, decodeNanos;

        /**
         * @param prompt the whole prompt (penalties see all of it)
         * @param cached how many of its first tokens the session already holds (a reused prefix)
         */
        Run(int[] prompt, int cached, SamplingParams params, Forcing forcing, Consumer<String> onText, int vocab) {
            this.prompt = prompt;
            this.cached = cached;
            this.params = params;
            this.forced = forcing.prefix();
            this.trigger = forcing.trigger();
            this.afterTrigger = forcing.afterTrigger();
            this.onText = onText;
            this.sampler = new Sampler(params, vocab, prompt);
            this.stops = new StopMatcher(params.stop());
            this.out = new int[Math.min(params.maxTokens(), 1024)];
        }

        public int[] prompt() { return prompt; }

        /** Records the time the prompt took; decoding time starts now. */
        public void prefilled(long nanos) {
            prefillNanos = nanos;
            decodeStart = System.nanoTime();
        }

        /** Picks the next token from {@code logits}; returns the token to feed next, or −1 when generation is over. */
        public int step(float[] logits) {
            if (done) throw new IllegalStateException("generation is over");
            int token;
            if (forced != null && n < forced.length) {
                token = forced[n];
                sampler.accept(token);
            } else if (afterAt >= 0 && afterAt < afterTrigger.length) {
                token = afterTrigger[afterAt++];
                sampler.accept(token);
            } else {
                token = sampler.sample(logits);
                if (token == trigger && afterAt < 0 && afterTrigger != null) afterAt = 0;
            }
            if (n == out.length) out = Arrays.copyOf(out, Math.min(params.maxTokens(), out.length * 2));
            out[n++] = token;
            if (token == eos) {
                hitEos = true;
                finish = Finish.STOP;
                return end();
            }
            emit(stops.accept(decoder.accept(token)), text, onText);
            if (stops.stopped()) {
                finish = Finish.STOP;
                return end();
            }
            if (n == params.maxTokens()) return end();
            return token;
        }

        private int end() {
            if (!stops.stopped()) emit(stops.accept(decoder.finish()) + stops.flush(), text, onText);
            decodeNanos = System.nanoTime() - decodeStart;
            done = true;
            return -1;
        }

        public boolean done() { return done; }

        /** The tokens generated so far. */
        public int[] generated() { return Arrays.copyOf(out, n); }

        public Result result() {
            if (!done) throw new IllegalStateException("generation is not over");
            return new Result(Arrays.copyOf(out, n), text.toString(), finish, hitEos, stops.matched(), prompt.length, cached,
                    prefillNanos, decodeNanos);
        }
    }

    /** A run over {@code prompt} whose first {@code cached} tokens the caller's session already holds. */
    public Run start(int[] prompt, int cached, SamplingParams params, Forcing forcing, Consumer<String> onText, int vocab, long maxPos) {
        if (cached < 0 || cached >= prompt.length) throw new IllegalArgumentException("cached prefix must leave at least one prompt token");
        check(0, prompt, params, vocab, maxPos);
        return new Run(prompt, cached, params, forcing == null ? Forcing.NONE : forcing, onText, vocab);
    }

    private static void emit(String piece, StringBuilder text, Consumer<String> onText) {
        if (piece.isEmpty()) return;
        text.append(piece);
        if (onText != null) onText.accept(piece);
    }
}
