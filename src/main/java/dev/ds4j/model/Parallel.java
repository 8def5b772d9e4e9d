package dev.ds4j.model;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/** Runs independent per-sequence work of one batch step on a pool, this thread taking a share. */
public final class Parallel {
    private Parallel() {}

    /** Calls {@code task} for 0 … n−1, spread over the pool's threads and this one; returns when all are done. */
    public static void forEach(ExecutorService pool, int n, IntConsumer task) {
        if (pool == null || n <= 1) {
            for (int i = 0; i < n; i++) task.accept(i);
            return;
        }
        List<Future<?>> fs = new ArrayList<>(n - 1);
        for (int i = 1; i < n; i++) {
            int k = i;
            fs.add(pool.submit(() -> task.accept(k)));
        }
        RuntimeException failure = null;
        try {
            task.accept(0);
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Future<?> f : fs) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = new IllegalStateException("interrupted", e);
            }
        }
        if (failure != null) throw failure;
    }
}
