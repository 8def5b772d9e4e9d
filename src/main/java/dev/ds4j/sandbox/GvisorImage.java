package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * A layered image under a gvisor sandbox: the same mounted image as the process substrate's ({@link ImageRoot}:
 * shared read-only EROFS layers, a per-sandbox overlay on a tmpfs), given to runsc as OCI bind mounts built from
 * {@link ImageRoot#entries()}.
 *
 * <p>The container's root is a read-only directory of our own holding only mount points (and the image's top-level
 * links), and each top-level entry of the merged tree is bound onto it, exactly as the process substrate binds them
 * into bwrap. Making the merged tree itself the root would let runsc create its mount points (/proc, /dev, /tmp,
 * /workspace) in the overlay's upper, and every snapshot would carry them.
 *
 * <p>The mount itself (and its release, and snapshots) is {@link CgroupSandbox}'s, as for the process substrate.
 *
 * <p>Under this runsc, glibc's {@code ls}/{@code stat} fail with EINVAL (see {@link GvisorSubstrate}); the shim that
 * fixes it is bound at {@code /.ds4j} and preloaded through {@code LD_PRELOAD} when the image has glibc's loader
 * (the image's own /etc is left as it is).
 */
final class GvisorImage {
    /** One OCI bind mount. */
    record Bind(Path source, String destination, boolean writable) {}

    private static final String SHIM_DIR = "/.ds4j";

    private final Path root;
    private final List<Bind> binds;
    private final String preload;

    private GvisorImage(Path root, List<Bind> binds, String preload) {
        this.root = root;
        this.binds = List.copyOf(binds);
        this.preload = preload;
    }

    /**
     * The OCI form of the mounted {@code image} for the sandbox with state directory {@code state};
     * {@code jvmRoot} is the substrate's shared root, which holds the statx shim.
     */
    static GvisorImage of(ImageRoot image, Path state, Path jvmRoot) throws IOException {
        Path root = Files.createDirectory(state.resolve("oci-root"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        for (String d : List.of("proc", "dev", "tmp", "workspace", SHIM_DIR.substring(1)))
            Files.createDirectory(root.resolve(d));
        List<Bind> binds = new ArrayList<>();
        for (ImageRoot.Entry e : image.entries()) {
            switch (e.kind()) {
                case SYMLINK -> Files.createSymbolicLink(root.resolve(e.to().substring(1)), Path.of(e.from()));
                case BIND, READ_ONLY_BIND, READ_ONLY_BIND_IF_PRESENT -> {
                    Path src = Path.of(e.from());
                    if (e.kind() == ImageRoot.Entry.Kind.READ_ONLY_BIND_IF_PRESENT && !Files.exists(src)) continue;
                    if (e.to().lastIndexOf('/') == 0) mountPoint(root.resolve(e.to().substring(1)), src);
                    binds.add(new Bind(src, e.to(), e.kind() == ImageRoot.Entry.Kind.BIND));
                }
            }
        }
        String preload = null;
        Path shim = jvmRoot.resolve(GvisorSubstrate.COMPAT_SO.substring(1));
        if (Files.exists(shim) && hasGlibcLoader(image.merged())) {
            binds.add(new Bind(shim.getParent(), SHIM_DIR, false));
            preload = SHIM_DIR + "/" + shim.getFileName();
        }
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("r-xr-xr-x"));
        return new GvisorImage(root, binds, preload);
    }

    private static void mountPoint(Path at, Path source) throws IOException {
        if (Files.exists(at, LinkOption.NOFOLLOW_LINKS)) return;
        if (Files.isDirectory(source)) Files.createDirectory(at);
        else Files.createFile(at);
    }

    private static boolean hasGlibcLoader(Path merged) {
        for (String p : List.of("lib64/ld-linux-x86-64.so.2", "usr/lib64/ld-linux-x86-64.so.2",
                "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"))
            if (Files.exists(merged.resolve(p))) return true;
        return false;
    }

    /** The container's read-only root of mount points. */
    Path root() { return root; }

    /** The image's top-level entries (writable: writes land in the overlay's upper) and /etc files, in order. */
    List<Bind> binds() { return binds; }

    /** LD_PRELOAD for the statx shim, or null (no glibc in the image, or no shim). */
    String preload() { return preload; }
}
