package dev.ds4j.generate;

import dev.ds4j.model.Model;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Runs generations for many callers on a fixed set of worker threads, one session per request. The
 * model is shared and immutable; each session owns its cache and lives only as long as its request,
 * so a finished or cancelled request gives its memory back. Callers receive text through a callback
 * that must not block (the server hands it to a queue), so a slow client never stalls a worker.
 *
 * <p>Not yet here: batching several sessions into one weight pass per step, and prefix reuse across
 * requests (issue 4's scheduler work).
 */
public final class Engine implements AutoCloseable {
    /** A submitted generation. */
    public static final class Job {
        private final CompletableFuture<Generator.Result> result = new CompletableFuture<>();
        private final AtomicBoolean cancelled = new AtomicBoolean();

        public CompletableFuture<Generator.Result> result() { return result; }

        /** Stops the generation at its next step and frees its session. */
        public void cancel() { cancelled.set(true); }

        boolean isCancelled() { return cancelled.get(); }
    }

    private final Model model;
    private final Tokenizer tokenizer;
    private final Session.Options options;
    private final Generator generator;
    private final ExecutorService workers;
    private final AtomicInteger active = new AtomicInteger(), queued = new AtomicInteger();
    private final AtomicLong requests = new AtomicLong(), cancelledCount = new AtomicLong(), failed = new AtomicLong();
    private final AtomicLong promptTokens = new AtomicLong(), completionTokens = new AtomicLong();

    public Engine(Model model, Tokenizer tokenizer, Session.Options options, int workerThreads) {
        if (tokenizer.vocabSize() > model.config().vocabSize())
            throw new IllegalArgumentException("tokenizer has " + tokenizer.vocabSize() + " ids but the model's vocabulary is " + model.config().vocabSize());
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        this.generator = new Generator(tokenizer);
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newFixedThreadPool(workerThreads, r -> {
            Thread t = new Thread(r, "ds4j-engine-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public Tokenizer tokenizer() { return tokenizer; }

    public int contextLength() { return (int) Math.min(Integer.MAX_VALUE, model.config().maxPositions()); }

    public int vocabSize() { return model.config().vocabSize(); }

    public Job submit(int[] prompt, SamplingParams params, int[] forced, Consumer<String> onText) {
        Job job = new Job();
        requests.incrementAndGet();
        queued.incrementAndGet();
        workers.execute(() -> {
            queued.decrementAndGet();
            if (job.isCancelled()) {
                cancelledCount.incrementAndGet();
                job.result.completeExceptionally(new CancellationException("cancelled before it started"));
                return;
            }
            active.incrementAndGet();
            try {
                Session session = new Session(model, options);
                Generator.Result r = generator.generate(session, prompt, params, forced, onText, job::isCancelled);
                promptTokens.addAndGet(r.promptTokens());
                completionTokens.addAndGet(r.completionTokens());
                job.result.complete(r);
            } catch (CancellationException e) {
                cancelledCount.incrementAndGet();
                job.result.completeExceptionally(e);
            } catch (Throwable e) {
                failed.incrementAndGet();
                job.result.completeExceptionally(e);
            } finally {
                active.decrementAndGet();
            }
        });
        return job;
    }

    /** Counters for /metrics. */
    public record Stats(int active, int queued, long requests, long cancelled, long failed, long promptTokens, long completionTokens) {}

    public Stats stats() {
        return new Stats(active.get(), queued.get(), requests.get(), cancelledCount.get(), failed.get(), promptTokens.get(), completionTokens.get());
    }

    @Override
    public void close() { workers.shutdownNow(); }
}
