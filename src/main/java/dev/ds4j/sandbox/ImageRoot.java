package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * One sandbox's view of an {@link Image}: an overlay of the shared read-only layer mounts with a writable
 * upper directory of its own (SANDBOX.md §2.1). The upper holds exactly what the sandbox changed outside
 * /workspace, which is what {@link ProcessSandbox#snapshot} packs.
 *
 * <p>Upper, work directory, the overlay's mount point and the sandbox's passwd/group sit on a tmpfs mounted
 * for the sandbox (state/image), the size of its memory limit: its pages are charged to the sandbox's
 * memory cgroup (the writing process faults them in, as for /tmp), and close is two unmounts and one
 * rmdir. On the state root's ext4 (this machine's /run) deleting those few entries took 10–20 ms.
 *
 * <p>bwrap's root stays its own read-only tmpfs, and each top-level entry of the merged tree is bound onto
 * it (symbolic links recreated as links). Binding the merged tree itself as / would make bwrap create its
 * mount points (/proc, /dev, /tmp, /workspace) and the files it binds over (/etc/passwd) in the upper
 * whenever the image lacks them, and every snapshot would carry them.
 */
final class ImageRoot implements AutoCloseable {
    /** Top-level names the sandbox gets from bwrap, never from the image. */
    private static final List<String> RESERVED = List.of("proc", "dev", "tmp", "workspace");
    /** Host files a networked sandbox needs to resolve names; bound only over files the image has. */
    private static final List<String> NETWORK_ETC = List.of("resolv.conf", "hosts");

    private final LayerMounts layers;
    private final List<Path> layerDirs;
    private final Path rw, upper, merged;
    private final List<Entry> entries;
    private boolean closed;

    /**
     * One piece of the sandbox's root: a link recreated as a link ({@code from} is its target), or a host path
     * bound at {@code to}; {@code ifPresent} binds are skipped when the source is missing. The substrates turn these
     * into their own terms (bwrap flags, OCI mounts), so the choice of what the root holds is made here once.
     */
    record Entry(Kind kind, String from, String to) {
        enum Kind { SYMLINK, BIND, READ_ONLY_BIND, READ_ONLY_BIND_IF_PRESENT }
    }

    private ImageRoot(LayerMounts layers, List<Path> layerDirs, Path rw, Path upper, Path merged, List<Entry> entries) {
        this.layers = layers;
        this.layerDirs = layerDirs;
        this.rw = rw;
        this.upper = upper;
        this.merged = merged;
        this.entries = List.copyOf(entries);
    }

    /**
     * Mounts {@code image} for the sandbox whose state directory is {@code state}, in state/image: upper/,
     * work/, merged/ and etc/. {@code etc} holds the runtime's passwd and group, which are extended with the
     * image's users into image/etc.
     */
    static ImageRoot mount(LayerMounts layers, Image image, Path state, Path etc, boolean network, long sizeBytes) {
        List<Path> dirs = new ArrayList<>();
        Path rw = state.resolve("image"), merged = rw.resolve("merged");
        boolean tmpfs = false, overlay = false;
        try {
            for (Path l : image.layers()) dirs.add(layers.acquire(l));
            Files.createDirectory(rw);
            // 0711 as the state directory: the sandbox uid traverses to merged/ and etc/, lists nothing.
            Mounts.mount("tmpfs", rw, "tmpfs", Mounts.MS_NOSUID | Mounts.MS_NODEV, "mode=0711,size=" + sizeBytes);
            tmpfs = true;
            Path upper = Files.createDirectory(rw.resolve("upper"));
            Path work = Files.createDirectory(rw.resolve("work"));
            Files.createDirectory(merged);
            Path ownEtc = Files.createDirectory(rw.resolve("etc"));
            // redirect_dir, index and metacopy off: the upper then refers to nothing in the lowers by file
            // handle or path, so it stays valid packed as a layer over the same lowers.
            String opts = "lowerdir=" + dirs.stream().map(Path::toString).collect(Collectors.joining(":"))
                    + ",upperdir=" + upper + ",workdir=" + work + ",redirect_dir=off,index=off,metacopy=off";
            Mounts.mount("overlay", merged, "overlay", Mounts.MS_NOSUID | Mounts.MS_NODEV, opts);
            overlay = true;
            return new ImageRoot(layers, dirs, rw, upper, merged, rootEntries(merged, etc, ownEtc, network));
        } catch (IOException | RuntimeException e) {
            if (overlay) Mounts.unmount(merged);
            if (tmpfs) Mounts.unmount(rw);
            for (Path d : dirs) layers.release(d);
            if (e instanceof SandboxException se) throw se;
            throw new SandboxException("cannot mount image " + image.layers() + ": " + e, e);
        }
    }

    private static List<Entry> rootEntries(Path merged, Path etc, Path ownEtc, boolean network) throws IOException {
        List<Entry> a = new ArrayList<>();
        List<Path> top;
        try (var s = Files.list(merged)) {
            top = s.sorted().toList();
        }
        for (Path p : top) {
            String name = p.getFileName().toString();
            if (RESERVED.contains(name)) continue;
            if (Files.isSymbolicLink(p)) a.add(new Entry(Entry.Kind.SYMLINK, Files.readSymbolicLink(p).toString(), "/" + name));
            else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) || Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                a.add(new Entry(Entry.Kind.BIND, p.toString(), "/" + name));
        }
        Path imageEtc = merged.resolve("etc");
        if (!Files.isDirectory(imageEtc, LinkOption.NOFOLLOW_LINKS)) return a;
        for (String f : List.of("passwd", "group")) {
            Path theirs = imageEtc.resolve(f);
            if (!Files.isRegularFile(theirs, LinkOption.NOFOLLOW_LINKS)) continue; // binding would create it in the upper
            Path ours = Files.writeString(ownEtc.resolve(f),
                    withSandboxUser(Files.readString(theirs), Files.readString(etc.resolve(f))));
            Files.setPosixFilePermissions(ours, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            a.add(new Entry(Entry.Kind.READ_ONLY_BIND, ours.toString(), "/etc/" + f));
        }
        if (network) {
            for (String f : NETWORK_ETC)
                if (Files.isRegularFile(imageEtc.resolve(f), LinkOption.NOFOLLOW_LINKS))
                    a.add(new Entry(Entry.Kind.READ_ONLY_BIND_IF_PRESENT, "/etc/" + f, "/etc/" + f));
        }
        return a;
    }

    /**
     * The image's passwd (or group) plus the runtime's entries whose id the image does not define, so the
     * sandbox uid has a name and a home while the image's system users (apt's _apt …) stay as they are.
     */
    static String withSandboxUser(String image, String runtime) {
        List<String> ids = image.lines().map(l -> l.split(":", -1)).filter(f -> f.length > 2).map(f -> f[2]).toList();
        StringBuilder b = new StringBuilder(image);
        if (!image.isEmpty() && !image.endsWith("\n")) b.append('\n');
        for (String line : runtime.lines().toList()) {
            String[] f = line.split(":", -1);
            if (f.length > 2 && !ids.contains(f[2])) b.append(line).append('\n');
        }
        return b.toString();
    }

    /** What builds the root from the merged tree, in order (no /proc, /dev, /tmp or /workspace). */
    List<Entry> entries() {
        return entries;
    }

    /** {@link #entries} as bwrap arguments. */
    List<String> bwrapArgs() {
        List<String> a = new ArrayList<>();
        for (Entry e : entries) {
            String flag = switch (e.kind()) {
                case SYMLINK -> "--symlink";
                case BIND -> "--bind";
                case READ_ONLY_BIND -> "--ro-bind";
                case READ_ONLY_BIND_IF_PRESENT -> "--ro-bind-try";
            };
            a.addAll(List.of(flag, e.from(), e.to()));
        }
        return a;
    }

    /** The overlay's writable directory: the sandbox's changes to the image. */
    Path upper() {
        return upper;
    }

    Path merged() {
        return merged;
    }

    /** Unmounts the overlay and its tmpfs and lets go of the layers; the caller deletes the directories. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        SandboxException failure = null;
        for (Path m : List.of(merged, rw)) {
            try {
                Mounts.unmount(m);
            } catch (SandboxException e) {
                if (failure == null) failure = e;
            }
        }
        for (Path d : layerDirs) {
            try {
                layers.release(d);
            } catch (SandboxException e) {
                if (failure == null) failure = e;
            }
        }
        if (failure != null) throw failure;
    }
}
