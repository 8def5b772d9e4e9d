package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The "vm" substrate (DSec's full-VM class): one QEMU virtual machine per sandbox, booted at {@link #create}
 * from the image of {@code tools/vm-image.sh} (a stock Debian 6.1 kernel and a busybox initramfs) and kept
 * running until close, so each exec costs a round trip on a virtio-serial channel, not a boot. The guest has
 * its own kernel, so a kernel exploit by a tool stays inside; the price is a boot of seconds.
 *
 * <p>Acceleration: KVM where {@code /dev/kvm} is usable; otherwise software emulation (TCG), which is
 * what the project's machines get: their /dev/kvm is kvm-pvm, under which stock kernels hang
 * (SANDBOX.md §2). Under TCG a boot costs ≈ 8 s of CPU and every guest instruction is emulated, so this
 * substrate is for isolation, not for heavy work.
 */
public final class VmSubstrate implements Substrate {

    static final String PREFIX = "ds4j-vm-";
    private static final AtomicLong NEXT = new AtomicLong();

    private final Path imageDir;
    private final Duration bootTimeout;

    /** The image in {@link VmImage#defaultDir()}; a boot may take up to 3 minutes (TCG on a loaded machine). */
    public VmSubstrate() {
        this(VmImage.defaultDir(), Duration.ofMinutes(3));
    }

    public VmSubstrate(Path imageDir, Duration bootTimeout) {
        this.imageDir = imageDir;
        this.bootTimeout = bootTimeout;
    }

    @Override
    public String name() {
        return "vm";
    }

    /** Where this substrate looks for its guest image. */
    public Path imageDir() {
        return imageDir;
    }

    @Override
    public Availability availability() {
        String qemu = Substrates.onPath("qemu-system-x86_64");
        if (qemu == null)
            return Availability.no("qemu-system-x86_64 is not installed: apt-get install -y qemu-system-x86");
        String accel = kvm() ? "KVM (" + Substrates.kvmState() + ")" : "TCG software emulation, slow ("
                + Substrates.kvmState() + ")";
        VmImage img;
        try {
            img = VmImage.load(imageDir);
        } catch (SandboxException e) {
            return Availability.no(e.getMessage() + " (QEMU found at " + qemu + "; would use " + accel + ")");
        }
        return Availability.yes("QEMU " + qemu + ", guest kernel " + img.kernel() + " from " + imageDir + ", " + accel);
    }

    /** KVM only where it runs stock kernels: not on kvm-pvm, which needs a guest kernel built for it. */
    static boolean kvm() {
        return Substrates.kvmState().equals("/dev/kvm is usable");
    }

    @Override
    public Sandbox create(SandboxSpec spec) {
        String qemu = Substrates.onPath("qemu-system-x86_64");
        if (qemu == null) throw new SubstrateUnavailableException(name(), availability().reason());
        if (spec.image() != null)
            throw new SandboxException("the vm substrate boots its own guest image and cannot use layered images yet ("
                    + spec.image().layers() + "); use the process or gvisor substrate");
        VmImage img;
        try {
            img = VmImage.load(imageDir);
        } catch (SandboxException e) {
            throw new SubstrateUnavailableException(name(), e.getMessage());
        }
        reapStale();
        String id = PREFIX + ProcessHandle.current().pid() + "-" + NEXT.incrementAndGet();
        return VmSandbox.boot(id, spec, qemu, img, kvm(), bootTimeout);
    }

    /**
     * Deletes the state directories (and private workspaces) of VMs whose JVM died without closing them; their
     * QEMU died with that JVM (parent-death signal, or the guest powering off when its channel closed).
     */
    private static void reapStale() {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try (var s = Files.list(tmp)) {
            for (Path d : s.toList()) {
                String n = d.getFileName().toString();
                if (!n.startsWith(PREFIX) || !Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) continue;
                try {
                    long owner = Long.parseLong(n.substring(PREFIX.length()).split("-")[0]);
                    if (ProcessHandle.of(owner).isEmpty()) ProcessSandbox.deleteTree(d);
                } catch (RuntimeException e) {
                    // not one of ours, or busy: left for the next create
                }
            }
        } catch (IOException e) {
            // an unreadable temp directory: boot will report it
        }
    }
}
