package dev.ds4j.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * EROFS layers mounted read-only once per runtime and shared by every sandbox that uses them, counted by
 * reference and unmounted when the last one closes. Sharing keeps one decompressed page cache per layer
 * however many sandboxes read it (what DSec's pre-mounted layers give), and a second sandbox on the same
 * image mounts only its overlay. The mount points live in {@code <state root>/ds4j-sb-<pid>-layers}, so a
 * runtime that died with layers mounted is recognised by its pid and cleaned up by the next one.
 */
final class LayerMounts {
    private record Key(Object dev, Object ino, long size, long mtimeNanos) {
    }

    private static final class Mounted {
        final Path dir;
        int users;

        Mounted(Path dir) {
            this.dir = dir;
        }
    }

    /** One per state root in this JVM: substrates sharing a state root share the mounts and their names. */
    private static final Map<Path, LayerMounts> BY_STATE_ROOT = new ConcurrentHashMap<>();

    private final Path root;
    private final Map<Key, Mounted> mounted = new HashMap<>();
    private long next;

    private LayerMounts(Path stateRoot) {
        this.root = stateRoot.resolve(CgroupV1.PREFIX + ProcessHandle.current().pid() + "-layers");
    }

    static LayerMounts forStateRoot(Path stateRoot) {
        return BY_STATE_ROOT.computeIfAbsent(stateRoot.toAbsolutePath().normalize(), LayerMounts::new);
    }

    /** The mount point of {@code layer}, mounting it if no sandbox uses it yet. Pair with {@link #release}. */
    synchronized Path acquire(Path layer) {
        Layer.requireErofs(layer);
        Key k = key(layer);
        Mounted m = mounted.get(k);
        if (m == null) {
            Path dir = root.resolve(Long.toString(next++));
            try {
                Files.createDirectories(root);
                Files.createDirectory(dir);
            } catch (IOException e) {
                throw new SandboxException("cannot create mount point " + dir + ": " + e, e);
            }
            try {
                Mounts.mount(layer.toString(), dir, "erofs", Mounts.MS_RDONLY | Mounts.MS_NODEV, null);
            } catch (SandboxException e) {
                dir.toFile().delete();
                throw e;
            }
            m = new Mounted(dir);
            mounted.put(k, m);
        }
        m.users++;
        return m.dir;
    }

    synchronized void release(Path mountDir) {
        for (var it = mounted.entrySet().iterator(); it.hasNext(); ) {
            Mounted m = it.next().getValue();
            if (!m.dir.equals(mountDir)) continue;
            if (--m.users > 0) return;
            it.remove();
            Mounts.unmount(m.dir);
            try {
                Files.delete(m.dir);
                if (mounted.isEmpty()) Files.deleteIfExists(root);
            } catch (IOException e) {
                // an empty directory; the next runtime's stale-state sweep takes it
            }
            return;
        }
    }

    /** Number of layers mounted now; for tests. */
    synchronized int size() {
        return mounted.size();
    }

    /**
     * Identity of the file's contents as far as the file system tells: a layer rebuilt in place (a new inode
     * from {@link Layer#fromDirectory}'s rename, or a changed size or time) is mounted afresh.
     */
    private static Key key(Path layer) {
        try {
            Map<String, Object> a = Files.readAttributes(layer, "unix:dev,ino,size,lastModifiedTime");
            return new Key(a.get("dev"), a.get("ino"), (Long) a.get("size"),
                    ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS));
        } catch (IOException e) {
            throw new SandboxException("cannot read image layer " + layer + ": " + e, e);
        }
    }
}
