package dev.ds4j.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Splits the output rows of one product between the cores. One pool for the whole JVM, with one worker fewer
 * than the machine has cores: the calling thread always takes a share of its own product.
 *
 * <p>The threading rule: a caller claims chunks of rows from a counter, and so do the helper tasks it hands
 * to the pool; it then waits only for its own helpers, which never block (a helper that starts after the
 * chunks are gone returns at once). Nothing in the pool ever waits on another pool, and a product requested
 * from a pool thread runs inline, so kernels can be called from any thread (the engine's step threads
 * included) without deadlock. Each output row is computed by the same code whichever thread takes it, so a
 * split product is bit-identical to an unsplit one.
 *
 * <p>Nothing is allocated per call: each calling thread reuses one {@link Job} with its helper tasks and its
 * input buffer.
 */
final class KernelPool {
    private KernelPool() {}

    /** Threads that share one product (the caller included); {@code -Dds4j.kernel.threads=N} overrides. */
    static final int THREADS = Math.max(1, Integer.getInteger("ds4j.kernel.threads", Runtime.getRuntime().availableProcessors()));
    /** Below this many weight bytes (times inputs) a product stays on the calling thread. */
    static final long MIN_SPLIT_BYTES = Long.getLong("ds4j.kernel.minSplitBytes", 256 << 10);
    private static final int CHUNKS_PER_THREAD = 4, ROW_ALIGN = 16;

    private static final ForkJoinPool POOL = THREADS > 1 ? new ForkJoinPool(THREADS - 1, pool -> {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("ds4j-kernel-" + t.getPoolIndex());
        return t;
    }, null, false) : null;

    private static final java.util.concurrent.atomic.AtomicLong SPLITS = new java.util.concurrent.atomic.AtomicLong();

    /** Products split so far (for tests). */
    static long splits() { return SPLITS.get(); }

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);

    /** The calling thread's job: its fields describe one product while the caller is inside it. */
    static Job job() { return JOBS.get(); }

    /**
     * Runs {@code job} over rows [r0, r1): split across the pool when it is big enough to pay and the caller
     * is not itself a pool thread, else inline.
     */
    static void run(Job job, int r0, int r1, long workBytes) {
        int rows = r1 - r0;
        if (POOL == null || workBytes < MIN_SPLIT_BYTES || rows < 2 * ROW_ALIGN
                || Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == POOL) {
            job.m.kernel(job, r0, r1);
            return;
        }
        split(job, r0, r1, ROW_ALIGN);
    }

    private static void split(Job job, int r0, int r1, int align) {
        int rows = r1 - r0;
        SPLITS.incrementAndGet();
        int target = THREADS * CHUNKS_PER_THREAD;
        int chunkRows = Math.max(align, (rows + target - 1) / target);
        chunkRows = (chunkRows + align - 1) / align * align;
        job.r0 = r0;
        job.r1 = r1;
        job.chunkRows = chunkRows;
        job.chunks = (rows + chunkRows - 1) / chunkRows;
        job.next.set(0);
        int helpers = Math.min(THREADS - 1, job.chunks - 1);
        for (int i = 0; i < helpers; i++) POOL.execute(job.helpers[i]);
        try {
            job.work();
        } finally {
            // Every helper must be done before the job (and its buffers) can serve the next call.
            RuntimeException failure = null;
            for (int i = 0; i < helpers; i++) {
                Helper h = job.helpers[i];
                h.quietlyJoin();
                if (h.isCompletedAbnormally() && failure == null)
                    failure = h.getException() instanceof RuntimeException r ? r : new IllegalStateException(h.getException());
                h.reinitialize();
            }
            if (failure != null) throw failure;
        }
    }

    /**
     * Runs {@code task} over [0, n) in chunks of {@code align}-multiples across the pool (the caller taking a
     * share) when {@code workBytes} is worth a split, else inline. Same threading rules as the products.
     */
    static void forRange(int n, int align, long workBytes, Vec.Range task) {
        if (POOL == null || workBytes < MIN_SPLIT_BYTES || n < 2 * align
                || Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == POOL) {
            task.run(0, n);
            return;
        }
        Job job = JOBS.get();
        job.range = task;
        try {
            split(job, 0, n, align);
        } finally {
            job.range = null;
        }
    }

    /** One product in flight: the matrix, the (prepared) inputs and outputs, and the chunk counter. */
    static final class Job {
        Vec.Range range;
        Matrix m;
        float[] x, y;
        int xOff, xStride, n, yOff, yStride;
        /** Scratch for inputs a kernel reorders (FP4), grown on demand and kept. */
        float[] buf = new float[0];
        private int r0, r1, chunkRows, chunks;
        private final AtomicInteger next = new AtomicInteger();
        private final Helper[] helpers = new Helper[Math.max(0, THREADS - 1)];

        Job() {
            for (int i = 0; i < helpers.length; i++) helpers[i] = new Helper(this);
        }

        float[] buf(int size) {
            if (buf.length < size) buf = new float[Math.max(size, buf.length * 2)];
            return buf;
        }

        private void work() {
            for (int c; (c = next.getAndIncrement()) < chunks; ) {
                int a = r0 + c * chunkRows, b = Math.min(a + chunkRows, r1);
                if (range != null) range.run(a, b);
                else m.kernel(this, a, b);
            }
        }
    }

    @SuppressWarnings("serial")
    private static final class Helper extends ForkJoinTask<Void> {
        private final Job job;

        Helper(Job job) { this.job = job; }

        @Override public Void getRawResult() { return null; }
        @Override protected void setRawResult(Void v) {}
        @Override protected boolean exec() {
            job.work();
            return true;
        }
    }
}
