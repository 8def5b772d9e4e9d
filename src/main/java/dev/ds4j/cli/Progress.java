package dev.ds4j.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.LongConsumer;

/**
 * Progress of a long task on stderr, for any command: a redrawn bar when stderr is a terminal, otherwise (a
 * log, a pipe, CI) or with {@code quiet} a plain line every {@link #LINE_INTERVAL}, so logs stay readable.
 * Lower layers never see this class: they report through the {@link LongConsumer} it implements.
 * {@link #accept} adds done units; call it from one thread.
 */
final class Progress implements LongConsumer, AutoCloseable {
    static final Duration LINE_INTERVAL = Duration.ofSeconds(10);

    private final String task, unit, barUnit;
    private final long total, unitSize, barUnitSize;
    private final ProgressBar bar;          // null in line mode
    private final PrintStream err;
    private final long startNanos = System.nanoTime();
    private long done, lastLineNanos = startNanos;
    private boolean closed;

    private Progress(String task, long total, String unit, long unitSize, boolean bar, String barUnit, long barUnitSize, PrintStream err) {
        this.task = task;
        this.total = total;
        this.unit = unit;
        this.unitSize = unitSize;
        this.barUnit = barUnit;
        this.barUnitSize = barUnitSize;
        this.err = err;
        this.bar = !bar ? null : new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setUnit(" " + barUnit, barUnitSize)
                .showSpeed().setUpdateIntervalMillis(250).continuousUpdate()
                .setStyle(err.charset().equals(StandardCharsets.UTF_8) ? ProgressBarStyle.COLORFUL_UNICODE_BLOCK : ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(err)).build();
    }

    /** Progress in bytes: the bar counts MB (it shows whole units), the lines GB. */
    static Progress bytes(String task, long total, boolean quiet) {
        return new Progress(task, total, "GB", 1_000_000_000L, !quiet && stderrIsTerminal(), "MB", 1_000_000L, System.err);
    }

    /** Prompts shorter than this prefill in a moment; longer ones get a bar. */
    static final int PREFILL_BAR_MIN_TOKENS = 1024;

    /** Progress in tokens (prefills). */
    static Progress tokens(String task, long total) {
        return new Progress(task, total, "k tokens", 1000, stderrIsTerminal(), "tok", 1, System.err);
    }

    /** Adapts a counter of tokens done so far (what Session.prefill reports) to this progress. */
    java.util.function.IntConsumer cumulative() {
        long[] last = {0};
        return doneSoFar -> {
            accept(doneSoFar - last[0]);
            last[0] = doneSoFar;
        };
    }

    /** Progress in plain lines on {@code err} whatever it is connected to (tests, logs). */
    static Progress lines(String task, long total, String unit, long unitSize, PrintStream err) {
        return new Progress(task, total, unit, unitSize, false, unit, unitSize, err);
    }

    @Override
    public void accept(long n) {
        if (closed) return;
        done += n;
        if (bar != null) {
            bar.stepBy(n);
            return;
        }
        long now = System.nanoTime();
        if (now - lastLineNanos >= LINE_INTERVAL.toNanos()) {
            lastLineNanos = now;
            err.println(line(now));
        }
    }

    long done() { return done; }

    /** "init: 4.21 / 20.01 GB (21%), 310 MB/s, ETA 51 s": amounts in the line unit, the rate in the bar's. */
    String line(long now) {
        double s = (now - startNanos) / 1e9, rate = done / Math.max(1e-9, s);
        String eta = done == 0 ? "?" : Math.round((total - done) / rate) + " s";
        return String.format("%s: %.2f / %.2f %s (%d%%), %.0f %s/s, ETA %s", task, done / (double) unitSize, total / (double) unitSize, unit,
                total == 0 ? 100 : Math.round(100.0 * done / total), rate / barUnitSize, barUnit, eta);
    }

    @Override
    /** Ends the display; calling it again does nothing. */
    public void close() {
        if (closed) return;
        closed = true;
        if (bar != null) bar.close();
        else if (done > 0) err.println(line(System.nanoTime()));
    }

    /**
     * Whether file descriptor 2 is a terminal. System.console() only looks at stdin and stdout, which are often
     * redirected while stderr still shows on the terminal (ds4j generate ... > out.txt).
     */
    @SuppressWarnings("restricted")   // isatty is a pure query; ./ds4j enables native access
    static boolean stderrIsTerminal() {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle isatty = linker.downcallHandle(linker.defaultLookup().find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) isatty.invokeExact(2) == 1;
        } catch (Throwable e) {
            // No libc symbol or native access refused: fall back to the JDK's weaker check.
            return System.console() != null && System.console().isTerminal();
        }
    }
}
