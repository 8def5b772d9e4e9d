package dev.ds4j.sandbox;

/** A substrate was asked for that cannot run on this machine; the message says why. */
public final class SubstrateUnavailableException extends SandboxException {
    private final String substrate;

    public SubstrateUnavailableException(String substrate, String reason) {
        super("sandbox substrate '" + substrate + "' is unavailable: " + reason);
        this.substrate = substrate;
    }

    public String substrate() {
        return substrate;
    }
}
