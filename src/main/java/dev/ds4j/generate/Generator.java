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
        long maxPos = session.model().config().maxPositions();
        if (session.position() + prompt.length + params.maxTokens() > maxPos)
            throw new IllegalArgumentException("context: " + session.position() + " cached + " + prompt.length + " prompt + "
                    + params.maxTokens() + " max_tokens exceeds the model's " + maxPos + " positions");
        if (prompt.length == 0) throw new IllegalArgumentException("prompt: empty");
        int vocab = session.model().config().vocabSize();
        for (int t : prompt) if (t < 0 || t >= vocab) throw new IllegalArgumentException("prompt: token id " + t + " outside [0, " + vocab + ")");

        Sampler sampler = new Sampler(params, vocab, prompt);
        StreamDecoder decoder = tokenizer.newStreamDecoder();
        StopMatcher stops = new StopMatcher(params.stop());
        StringBuilder text = new StringBuilder();
        int[] out = new int[Math.min(params.maxTokens(), 1024)];
        int n = 0;

        long t0 = System.nanoTime();
        float[][] rows = session.prefill(prompt, false);
        float[] logits = rows[rows.length - 1];
        long t1 = System.nanoTime();
        Finish finish = Finish.LENGTH;
        boolean hitEos = false;
        while (n < params.maxTokens()) {
            if (cancelled != null && cancelled.getAsBoolean()) throw new java.util.concurrent.CancellationException("generation cancelled");
            int token;
            if (forced != null && n < forced.length) {
                token = forced[n];
                sampler.accept(token);
            } else {
                token = sampler.sample(logits);
            }
            if (n == out.length) out = Arrays.copyOf(out, Math.min(params.maxTokens(), out.length * 2));
            out[n++] = token;
            if (token == eos) { hitEos = true; finish = Finish.STOP; break; }
            String piece = stops.accept(decoder.accept(token));
            emit(piece, text, onText);
            if (stops.stopped()) { finish = Finish.STOP; break; }
            if (n == params.maxTokens()) break;
            logits = session.decode(token);
        }
        if (!stops.stopped()) emit(stops.accept(decoder.finish()) + stops.flush(), text, onText);
        long t2 = System.nanoTime();
        return new Result(Arrays.copyOf(out, n), text.toString(), finish, hitEos, stops.matched(), prompt.length, 0, t1 - t0, t2 - t1);
    }

    private static void emit(String piece, StringBuilder text, Consumer<String> onText) {
        if (piece.isEmpty()) return;
        text.append(piece);
        if (onText != null) onText.accept(piece);
    }
}
