package dev.ds4j.sandbox;

/**
 * One way of running sandboxed work (DSec's "execution substrate"). The caller picks the substrate on
 * purpose, since isolation strength and cost differ by orders of magnitude; {@link Substrates} says which
 * ones this machine can run and why not.
 */
public interface Substrate {

    String name();

    Availability availability();

    /** Creates a sandbox, or throws {@link SubstrateUnavailableException} with the reason. */
    Sandbox create(SandboxSpec spec);

    /** Whether a substrate can run here; when it cannot, {@code reason} says what is missing. */
    record Availability(boolean available, String reason) {
        public static Availability yes(String detail) {
            return new Availability(true, detail);
        }

        public static Availability no(String reason) {
            return new Availability(false, reason);
        }
    }
}
