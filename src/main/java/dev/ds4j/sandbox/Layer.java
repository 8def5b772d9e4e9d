package dev.ds4j.sandbox;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Builds and checks EROFS layer files (erofs-utils' {@code mkfs.erofs}, {@code apt-get install erofs-utils}). */
public final class Layer {
    /** EROFS superblock magic, little-endian at byte 1024 of the image. */
    private static final int EROFS_MAGIC = 0xE0F5E1E2;

    /** Who owns the files of a layer built from a directory. */
    public enum Owner {
        /**
         * The sandbox user: the image is the sandbox's own system, as a container's root filesystem belongs
         * to its root, so commands may change (and pip may write {@code __pycache__} into) any of its files.
         * The changes land in the sandbox's upper layer, never in the layer file.
         */
        SANDBOX,
        /** The owners the files have on the host (root-owned files are then read-only in the sandbox). */
        AS_IS
    }

    private Layer() {
    }

    /** {@link #fromDirectory(Path, Path, Owner)} with the files owned by the sandbox user. */
    public static Path fromDirectory(Path dir, Path out) {
        return fromDirectory(dir, out, Owner.SANDBOX);
    }

    /**
     * Packs {@code dir} into the EROFS layer {@code out} (lz4-compressed; replaced if it exists). Extended
     * attributes are kept, so overlayfs whiteouts (0/0 character devices) and opaque directories
     * ({@code trusted.overlay.opaque}) in {@code dir} keep hiding lower files when the layer is stacked.
     */
    public static Path fromDirectory(Path dir, Path out, Owner owner) {
        if (!Files.isDirectory(dir)) throw new SandboxException("layer source " + dir + " is not a directory");
        String mkfs = Substrates.onPath("mkfs.erofs");
        if (mkfs == null)
            throw new SandboxException("mkfs.erofs is not installed (apt-get install -y erofs-utils); cannot build"
                    + " layer " + out + " from " + dir);
        List<String> cmd = new ArrayList<>(List.of(mkfs, "-zlz4", "--quiet"));
        if (owner == Owner.SANDBOX)
            cmd.addAll(List.of("--force-uid=" + ProcessSubstrate.HOST_UID, "--force-gid=" + ProcessSubstrate.HOST_UID));
        Path target = out.toAbsolutePath().normalize();
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp" + ProcessHandle.current().pid());
        cmd.addAll(List.of(tmp.toString(), dir.toString()));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
                    new java.io.File("/dev/null"))).start();
            byte[] output = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new SandboxException("mkfs.erofs did not finish within 10 minutes building " + out);
            }
            if (p.exitValue() != 0)
                throw new SandboxException("mkfs.erofs failed (exit " + p.exitValue() + ") building " + out + " from "
                        + dir + ": " + new String(output).trim());
            // Renamed into place only when complete, so a sandbox never mounts a half-written layer.
            Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new SandboxException("cannot build layer " + out + " from " + dir + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SandboxException("interrupted while building layer " + out);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                // only a leftover temporary file
            }
        }
    }

    /** Throws a clear error unless {@code file} is a readable EROFS image. */
    static void requireErofs(Path file) {
        if (!Files.isRegularFile(file)) throw new SandboxException("image layer " + file + " is not a file");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            if (f.length() < 1028) throw new SandboxException("image layer " + file + " is not an EROFS image (only "
                    + f.length() + " bytes)");
            f.seek(1024);
            int magic = Integer.reverseBytes(f.readInt());
            if (magic != EROFS_MAGIC)
                throw new SandboxException("image layer " + file + " is not an EROFS image (magic "
                        + String.format("0x%08x", magic) + " at byte 1024, expected 0xe0f5e1e2)");
        } catch (IOException e) {
            throw new SandboxException("cannot read image layer " + file + ": " + e, e);
        }
    }
}
