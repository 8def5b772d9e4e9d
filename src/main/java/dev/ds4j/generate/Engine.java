package dev.ds4j.generate;

import dev.ds4j.model.Model;
import dev.ds4j.session.PrefixCache;
import dev.ds4j.session.Session;
import dev.ds4j.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Serves many generations with continuous batching: one scheduler thread runs steps, and every step feeds
 * each active sequence its next token (or its next prompt chunk) in one layer-outer pass over the model
 * ({@link Session#step}). Sequences join and leave between steps, so a new request never waits for others
 * to finish, and a long prompt is prefilled in chunks between other sequences' decode steps.
 *
 * <p>Prompts start from the longest cached prefix ({@link PrefixCache}): after the prompt minus its last
 * token (the part the next turn of a chat repeats) and at the end of each generation, the session is
 * snapshotted. Callers receive text through a callback that must not block (the server hands it to a
 * queue), so a slow client never stalls a step; a cancelled job leaves the batch at the next step and its
 * session is dropped.
 */
public final class Engine implements AutoCloseable {
    /**
     * @param threads          threads that share each step's per-sequence work (the scheduler is one of them)
     * @param maxBatch         sequences in one step; more wait in the queue
     * @param prefillChunk     prompt tokens a sequence feeds per step
     * @param prefixCacheBytes memory budget of the prefix cache (0: off)
     */
    public record Config(int threads, int maxBatch, int prefillChunk, long prefixCacheBytes) {
        public Config {
            if (threads < 1) throw new IllegalArgumentException("threads: must be at least 1");
            if (maxBatch < 1) throw new IllegalArgumentException("max batch: must be at least 1");
            if (prefillChunk < 1) throw new IllegalArgumentException("prefill chunk: must be at least 1");
            if (prefixCacheBytes < 0) throw new IllegalArgumentException("prefix cache budget: must be ≥ 0");
        }

        public static Config defaults(int threads) { return new Config(threads, 16, 256, 512L << 20); }
    }

    /** A submitted generation. */
    public static final class Job {
        private final CompletableFuture<Generator.Result> result = new CompletableFuture<>();
        private final AtomicBoolean cancelled = new AtomicBoolean();

        public CompletableFuture<Generator.Result> result() { return result; }

        /** Stops the generation at its next step and frees its session. */
        public void cancel() { cancelled.set(true); }

        boolean isCancelled() { return cancelled.get(); }
    }

    private record Request(Job job, int[] prompt, SamplingParams params, Forcing forcing, Consumer<String> onText) {}

    /** A sequence in the batch: its session, its run, and how much of the prompt is in the cache. */
    private static final class Sequence {
        final Request req;
        final Session session;
        final Generator.Run run;
        final int cached;
        final long start = System.nanoTime();
        int fed;      // prompt tokens in the session
        int next = -1; // the token to feed once the prompt is in

        Sequence(Request req, Session session, Generator.Run run, int cached) {
            this.req = req;
            this.session = session;
            this.run = run;
            this.cached = cached;
            this.fed = cached;
        }

        boolean prefilling() { return fed < req.prompt.length; }
    }

    private final Model model;
    private final Tokenizer tokenizer;
    private final Session.Options options;
    private final Config config;
    private final Generator generator;
    private final PrefixCache prefixCache;
    private final LinkedBlockingQueue<Request> queue = new LinkedBlockingQueue<>();
    private final ExecutorService pool;
    private final Thread scheduler;
    private volatile boolean closed;
    private volatile int activeCount;
    private final AtomicLong requests = new AtomicLong(), cancelledCount = new AtomicLong(), failed = new AtomicLong();
    private final AtomicLong promptTokens = new AtomicLong(), completionTokens = new AtomicLong(), cachedTokens = new AtomicLong();
    private final AtomicLong steps = new AtomicLong(), stepSequences = new AtomicLong();

    public Engine(Model model, Tokenizer tokenizer, Session.Options options, int threads) {
        this(model, tokenizer, options, Config.defaults(threads));
    }

    public Engine(Model model, Tokenizer tokenizer, Session.Options options, Config config) {
        if (tokenizer.vocabSize() > model.config().vocabSize())
            throw new IllegalArgumentException("tokenizer has " + tokenizer.vocabSize() + " ids but the model's vocabulary is " + model.config().vocabSize());
        if (options.mtp()) throw new IllegalArgumentException("the engine runs sessions without MTP");
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        this.config = config;
        this.generator = new Generator(tokenizer);
        this.prefixCache = config.prefixCacheBytes() > 0 ? new PrefixCache(model, options, config.prefixCacheBytes()) : null;
        AtomicInteger n = new AtomicInteger();
        this.pool = config.threads() > 1 ? Executors.newFixedThreadPool(config.threads() - 1, r -> {
            Thread t = new Thread(r, "ds4j-step-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        }) : null;
        this.scheduler = new Thread(this::schedule, "ds4j-scheduler");
        scheduler.setDaemon(true);
        scheduler.start();
    }

    public Tokenizer tokenizer() { return tokenizer; }

    public int contextLength() { return (int) Math.min(Integer.MAX_VALUE, model.config().maxPositions()); }

    public int vocabSize() { return model.config().vocabSize(); }

    /** The prefix cache, or null when its budget is 0. */
    public PrefixCache prefixCache() { return prefixCache; }

    public Job submit(int[] prompt, SamplingParams params, int[] forced, Consumer<String> onText) {
        return submit(prompt, params, Forcing.prefix(forced), onText);
    }

    public Job submit(int[] prompt, SamplingParams params, Forcing forcing, Consumer<String> onText) {
        Job job = new Job();
        requests.incrementAndGet();
        try {
            Generator.check(0, prompt, params, vocabSize(), model.config().maxPositions());
        } catch (IllegalArgumentException e) {
            failed.incrementAndGet();
            job.result.completeExceptionally(e);
            return job;
        }
        if (closed) {
            job.result.completeExceptionally(new IllegalStateException("engine is closed"));
            return job;
        }
        queue.add(new Request(job, prompt.clone(), params, forcing == null ? Forcing.NONE : forcing, onText));
        return job;
    }

    private void schedule() {
        List<Sequence> active = new ArrayList<>();
        while (!closed) {
            try {
                if (active.isEmpty()) {
                    Request r = queue.poll(100, TimeUnit.MILLISECONDS);
                    if (r != null) admit(r, active);
                }
                while (active.size() < config.maxBatch()) {
                    Request r = queue.poll();
                    if (r == null) break;
                    admit(r, active);
                }
                for (Iterator<Sequence> it = active.iterator(); it.hasNext(); ) {
                    Sequence s = it.next();
                    if (s.req.job.isCancelled()) {
                        it.remove();
                        cancelledCount.incrementAndGet();
                        s.req.job.result.completeExceptionally(new CancellationException("generation cancelled"));
                    }
                }
                activeCount = active.size();
                if (!active.isEmpty()) step(active);
                activeCount = active.size();
            } catch (InterruptedException e) {
                break;
            }
        }
        for (Sequence s : active) s.req.job.result.completeExceptionally(new CancellationException("engine closed"));
        Request r;
        while ((r = queue.poll()) != null) r.job.result.completeExceptionally(new CancellationException("engine closed"));
    }

    private void admit(Request r, List<Sequence> active) {
        if (r.job.isCancelled()) {
            cancelledCount.incrementAndGet();
            r.job.result.completeExceptionally(new CancellationException("cancelled before it started"));
            return;
        }
        try {
            Session session = new Session(model, options);
            int cached = prefixCache == null ? 0 : prefixCache.restoreLongest(r.prompt, session);
            Generator.Run run = generator.start(r.prompt, cached, r.params, r.forcing, r.onText, vocabSize(), model.config().maxPositions());
            active.add(new Sequence(r, session, run, cached));
        } catch (RuntimeException e) {
            failed.incrementAndGet();
            r.job.result.completeExceptionally(e);
        }
    }

    /** One batched step over every active sequence; finished ones complete and leave. */
    private void step(List<Sequence> active) {
        int B = active.size();
        Session[] sessions = new Session[B];
        int[][] tokens = new int[B][];
        boolean[] want = new boolean[B];
        for (int b = 0; b < B; b++) {
            Sequence s = active.get(b);
            sessions[b] = s.session;
            if (s.prefilling()) {
                int end = Math.min(s.req.prompt.length, s.fed + config.prefillChunk());
                // Stop at prompt length − 1 so the part a follow-up request repeats can be snapshotted.
                int snapAt = s.req.prompt.length - 1;
                if (prefixCache != null && s.fed < snapAt && end > snapAt) end = snapAt;
                tokens[b] = Arrays.copyOfRange(s.req.prompt, s.fed, end);
                want[b] = end == s.req.prompt.length;
            } else {
                tokens[b] = new int[]{s.next};
                want[b] = true;
            }
        }
        float[][] logits;
        try {
            logits = Session.step(sessions, tokens, want, pool);
        } catch (RuntimeException e) {
            for (Sequence s : active) {
                failed.incrementAndGet();
                s.req.job.result.completeExceptionally(e);
            }
            active.clear();
            return;
        }
        steps.incrementAndGet();
        stepSequences.addAndGet(B);
        List<Sequence> finished = new ArrayList<>();
        for (int b = 0; b < B; b++) {
            Sequence s = active.get(b);
            try {
                if (s.prefilling()) {
                    s.fed += tokens[b].length;
                    if (prefixCache != null && s.fed == s.req.prompt.length - 1 && s.fed > s.cached)
                        prefixCache.store(Arrays.copyOf(s.req.prompt, s.fed), s.session);
                    if (s.prefilling()) continue;
                    s.run.prefilled(System.nanoTime() - s.start);
                }
                s.next = s.run.step(logits[b]);
                if (s.next < 0) finished.add(s);
            } catch (RuntimeException e) {
                failed.incrementAndGet();
                s.req.job.result.completeExceptionally(e);
                finished.add(s);
            }
        }
        for (Sequence s : finished) {
            active.remove(s);
            if (s.req.job.result.isDone()) continue;
            Generator.Result r = s.run.result();
            if (prefixCache != null && r.tokens().length > 1) {
                // The session holds the prompt and every generated token but the last.
                int[] held = Arrays.copyOf(s.req.prompt, s.req.prompt.length + r.tokens().length - 1);
                System.arraycopy(r.tokens(), 0, held, s.req.prompt.length, r.tokens().length - 1);
                try {
                    prefixCache.store(held, s.session);
                } catch (RuntimeException e) { // a cache that cannot take it must not fail a finished generation
                    System.err.println("ds4j: prefix cache: " + e.getMessage());
                }
            }
            promptTokens.addAndGet(r.promptTokens());
            cachedTokens.addAndGet(r.cachedTokens());
            completionTokens.addAndGet(r.completionTokens());
            s.req.job.result.complete(r);
        }
    }

    /** Counters for /metrics. */
    public record Stats(int active, int queued, long requests, long cancelled, long failed, long promptTokens, long cachedTokens,
                        long completionTokens, long steps, long stepSequences, PrefixCache.Stats prefixCache) {}

    public Stats stats() {
        return new Stats(activeCount, queue.size(), requests.get(), cancelledCount.get(), failed.get(), promptTokens.get(),
                cachedTokens.get(), completionTokens.get(), steps.get(), stepSequences.get(),
                prefixCache == null ? null : prefixCache.stats());
    }

    @Override
    public void close() {
        closed = true;
        scheduler.interrupt();
        try {
            scheduler.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (pool != null) pool.shutdownNow();
    }
}
