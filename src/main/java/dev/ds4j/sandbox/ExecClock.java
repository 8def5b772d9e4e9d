package dev.ds4j.sandbox;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The two clocks an exec's limits read (running time, which a pause stops, and time since its last output) and
 * the pause state that stops them. A sandbox pauses by some means of its own (the cgroup freezer, SIGSTOP to QEMU);
 * what pausing does to the clocks is the same for all, so it lives here.
 */
final class ExecClock {
    private final Object lock = new Object();
    private volatile long start;
    private volatile long pausedAt; // System.nanoTime() of pause(), 0 when running
    private final AtomicLong pausedNanos = new AtomicLong();
    private final AtomicLong lastOutput = new AtomicLong();

    /** An exec starts now: both clocks from zero. Returns the start time. */
    long start() {
        long now = System.nanoTime();
        start = now;
        lastOutput.set(now);
        pausedNanos.set(0);
        return now;
    }

    /** The exec wrote something at {@code now}. */
    void output(long now) {
        lastOutput.set(now);
    }

    /** How long the exec has run by {@code now}, paused time left out. */
    long running(long now) {
        return now - start - pausedNanos.get();
    }

    /** How long the exec has been silent by {@code now}. */
    long silent(long now) {
        return now - lastOutput.get();
    }

    boolean paused() {
        return pausedAt != 0;
    }

    /**
     * Under the pause lock: {@code check} (throws when the sandbox cannot pause), nothing more if already paused,
     * else {@code stop}; if {@code stop} throws, the sandbox counts as running.
     */
    void pause(Runnable check, Runnable stop) {
        synchronized (lock) {
            check.run();
            if (pausedAt != 0) return;
            pausedAt = System.nanoTime();
            try {
                stop.run();
            } catch (RuntimeException e) {
                pausedAt = 0;
                throw e;
            }
        }
    }

    /** Under the pause lock: nothing if not paused or {@code skip}, else {@code cont}, and the clocks go on. */
    void resume(BooleanSupplier skip, Runnable cont) {
        synchronized (lock) {
            if (pausedAt == 0 || skip.getAsBoolean()) return;
            cont.run();
            long now = System.nanoTime();
            pausedNanos.addAndGet(now - pausedAt);
            lastOutput.set(now); // silence while paused is not the command's
            pausedAt = 0;
        }
    }
}
