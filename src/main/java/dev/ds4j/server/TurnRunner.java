package dev.ds4j.server;

import dev.ds4j.generate.Engine;
import dev.ds4j.generate.Generator;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Runs one assistant turn on the engine and passes its text through a {@link ChatTurn}, for every API
 * shape (chat completions, responses, Anthropic messages). Streaming turns hand each delta to a sink as
 * it is parsed; the engine's worker only ever appends to a queue, so a slow client never stalls it, and a
 * sink that fails (the client left) cancels the generation.
 */
final class TurnRunner {
    private TurnRunner() {}

    /** Receives parsed deltas of a streaming turn; throwing IOException means the client is gone. */
    interface Sink {
        void accept(ChatTurn.Delta d) throws IOException;
    }

    /** Generates without streaming and feeds the whole text to {@code turn} (and its deltas to {@code sink}, if any). */
    static Generator.Result complete(Engine.Job job, ChatTurn turn, Sink sink) {
        Generator.Result res = await(job);
        try {
            for (ChatTurn.Delta d : turn.feed(res.text())) if (sink != null) sink.accept(d);
            for (ChatTurn.Delta d : turn.finish(res.eos())) if (sink != null) sink.accept(d);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // sinks of whole responses write nowhere
        }
        return res;
    }

    /**
     * Streams a job submitted with {@code pieces::add} as its text callback. Returns the result, or null
     * when the client went away (the job is then cancelled).
     */
    static Generator.Result stream(Engine.Job job, LinkedBlockingQueue<String> pieces, ChatTurn turn, Sink sink) {
        try {
            CompletableFuture<Generator.Result> done = job.result();
            while (true) {
                String piece = pieces.poll(50, TimeUnit.MILLISECONDS);
                if (piece == null) {
                    if (done.isDone() && pieces.isEmpty()) break;
                    continue;
                }
                for (ChatTurn.Delta d : turn.feed(piece)) sink.accept(d);
            }
            Generator.Result res = await(job);
            for (ChatTurn.Delta d : turn.finish(res.eos())) sink.accept(d);
            return res;
        } catch (IOException e) {
            job.cancel();
            return null;
        } catch (InterruptedException e) {
            job.cancel();
            Thread.currentThread().interrupt();
            return null;
        }
    }

    static Generator.Result await(Engine.Job job) {
        try {
            return job.result().get();
        } catch (InterruptedException e) {
            job.cancel();
            Thread.currentThread().interrupt();
            throw new ApiException(503, "server_error", null, null, "interrupted");
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IllegalArgumentException iae) throw ApiException.badRequest(null, iae.getMessage());
            throw new IllegalStateException("generation failed: " + e.getCause(), e.getCause());
        }
    }
}
