package dev.ds4j.sandbox;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The guest image of the vm substrate: a Debian kernel and an initramfs whose /init is the guest agent, as
 * built by {@code tools/vm-image.sh}. The runtime never downloads it: a kernel fetched behind the caller's back
 * would be an unreviewed dependency, so a missing image makes the substrate unavailable with the command to run.
 *
 * @param dir    the directory holding {@code vmlinuz}, {@code initrd.gz} and {@code image.properties}
 * @param kernel the guest kernel's release (e.g. 6.1.0-50-amd64)
 */
record VmImage(Path dir, String kernel) {

    /** The agent protocol's version; tools/vm-image.sh writes the same number, and images of others are refused. */
    static final String FORMAT = "1";

    Path vmlinuz() {
        return dir.resolve("vmlinuz");
    }

    Path initrd() {
        return dir.resolve("initrd.gz");
    }

    /** $DS4J_HOME/vm/FORMAT, else ~/.cache/ds4j/vm/FORMAT (where tools/vm-image.sh puts it by default). */
    static Path defaultDir() {
        String home = System.getenv("DS4J_HOME");
        Path base = home != null && !home.isBlank() ? Path.of(home) : Path.of(System.getProperty("user.home"), ".cache", "ds4j");
        return base.resolve("vm").resolve(FORMAT);
    }

    /** The image in {@code dir}, or an exception whose message says what is wrong and how to build it. */
    static VmImage load(Path dir) {
        String build = "run tools/vm-image.sh" + (dir.equals(defaultDir()) ? "" : " " + dir);
        Path props = dir.resolve("image.properties");
        if (!Files.isRegularFile(props))
            throw new SandboxException("no vm guest image in " + dir + ": " + build);
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(props)) {
            p.load(r);
        } catch (IOException e) {
            throw new SandboxException("cannot read " + props + ": " + e.getMessage() + "; " + build, e);
        }
        if (!FORMAT.equals(p.getProperty("format")))
            throw new SandboxException("vm guest image " + dir + " has format " + p.getProperty("format")
                    + ", this runtime needs " + FORMAT + ": " + build);
        VmImage img = new VmImage(dir, p.getProperty("kernel", "?"));
        for (Path f : new Path[]{img.vmlinuz(), img.initrd()})
            if (!Files.isRegularFile(f)) throw new SandboxException("vm guest image " + dir + " lacks " + f.getFileName() + ": " + build);
        return img;
    }
}
