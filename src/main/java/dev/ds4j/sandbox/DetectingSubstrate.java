package dev.ds4j.sandbox;

/**
 * A substrate that probes the machine once (binaries, root, cgroups, a smoke run) on the first question and
 * keeps the answer: probing starts real sandboxes, so it must not run per call.
 */
abstract class DetectingSubstrate implements Substrate {
    private volatile Availability availability;

    /** Probes the machine; also a good moment to reap what dead runtimes left behind. */
    abstract Availability detect();

    @Override
    public final Availability availability() {
        Availability a = availability;
        if (a == null) {
            synchronized (this) {
                if (availability == null) availability = detect();
                a = availability;
            }
        }
        return a;
    }
}
