package dev.ds4j.sandbox;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The substrates this build knows, by name, with whether each can run on this machine. Like DSec's SDK the
 * choice is explicit; unlike a runtime that falls back silently, asking for an unavailable substrate fails
 * with the reason (a typed preflight error), and {@link #report()} lists every reason up front.
 */
public final class Substrates {

    public static final List<String> NAMES = List.of("function", "process", "gvisor", "vm", "firecracker");

    private final Map<String, Substrate> byName = new LinkedHashMap<>();

    public Substrates(FunctionSubstrate functions, ProcessSubstrate process) {
        byName.put("function", functions);
        byName.put("process", process);
        byName.put("gvisor", new GvisorSubstrate());
        byName.put("vm", new VmSubstrate());
        byName.put("firecracker", new Detected("firecracker", Substrates::firecracker));
    }

    /** The function substrate with no tools yet, and the process substrate with its default state root. */
    public static Substrates standard() {
        return new Substrates(new FunctionSubstrate(), new ProcessSubstrate());
    }

    /** The named substrate whether or not it can run; unknown names are an error listing the known ones. */
    public Substrate get(String name) {
        Substrate s = byName.get(name);
        if (s == null) throw new IllegalArgumentException("unknown sandbox substrate '" + name + "'; known: " + NAMES);
        return s;
    }

    /** The named substrate, or {@link SubstrateUnavailableException} saying why it cannot run here. */
    public Substrate require(String name) {
        Substrate s = get(name);
        Substrate.Availability a = s.availability();
        if (!a.available()) throw new SubstrateUnavailableException(name, a.reason());
        return s;
    }

    /** Every substrate's availability, in {@link #NAMES} order. */
    public Map<String, Substrate.Availability> report() {
        Map<String, Substrate.Availability> m = new LinkedHashMap<>();
        byName.forEach((n, s) -> m.put(n, s.availability()));
        return m;
    }

    /** The executable's absolute path if it is on PATH (or in the sbin directories), else null. */
    static String onPath(String exe) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin";
        for (String d : path.split(File.pathSeparator)) {
            if (d.isEmpty()) continue;
            Path p = Path.of(d, exe);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return p.toString();
        }
        return null;
    }

    // Detection only: firecracker is not implemented (no package, and it would need a KVM that runs stock guest
    // kernels), so even where its binary is present it reports unavailable, naming what was found.

    static Substrate.Availability firecracker() {
        String fc = onPath("firecracker");
        if (fc == null)
            return Substrate.Availability.no("firecracker is not installed (no Debian package); it also needs KVM: "
                    + kvmState());
        return Substrate.Availability.no("firecracker found at " + fc + "; " + kvmState()
                + "; the firecracker substrate is not implemented yet");
    }

    /** What KVM offers: missing, unusable, or the PVM flavour that boots only guest kernels built for it. */
    static String kvmState() {
        Path kvm = Path.of("/dev/kvm");
        if (!Files.exists(kvm)) return "/dev/kvm is missing (no hardware virtualisation): software emulation only";
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) return "/dev/kvm is not accessible to this user";
        if (Files.isDirectory(Path.of("/sys/module/kvm_pvm")))
            return "/dev/kvm is kvm-pvm (pagetable-based, no VMX/SVM): stock guest kernels hang, use TCG";
        return "/dev/kvm is usable";
    }

    /** Availability computed by a function, for substrates this build detects but does not implement. */
    private record Detected(String name, java.util.function.Supplier<Substrate.Availability> check) implements Substrate {
        @Override
        public Availability availability() {
            return check.get();
        }

        @Override
        public Sandbox create(SandboxSpec spec) {
            throw new SubstrateUnavailableException(name, availability().reason());
        }
    }
}
