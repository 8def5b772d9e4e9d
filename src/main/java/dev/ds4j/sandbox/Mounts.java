package dev.ds4j.sandbox;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * mount(2) and umount2(2) called through FFM. A system call instead of a mount(8) process per mount keeps a
 * sandbox's start in the milliseconds, and it mounts an EROFS layer straight from its file: util-linux 2.38
 * would set up a loop device for a regular file, while the kernel (6.12+, CONFIG_EROFS_FS_BACKED_BY_FILE)
 * reads the file itself, as DSec mounts its layers.
 */
final class Mounts {
    static final long MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4;
    private static final int MNT_DETACH = 2;
    private static final int EBUSY = 16, EINVAL = 22, ENOTBLK = 15;

    /**
     * The native handles, created on first use, so sandboxes without an image (which only read mountinfo
     * at close) never make a restricted FFM call.
     */
    private static final class Native {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        private static final MethodHandle MOUNT = downcall("mount", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
        private static final MethodHandle UMOUNT2 = downcall("umount2",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        private static final MethodHandle STRERROR = LINKER.downcallHandle(
                LINKER.defaultLookup().find("strerror").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

        private static MethodHandle downcall(String name, FunctionDescriptor fd) {
            return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd,
                    Linker.Option.captureCallState("errno"));
        }
    }

    private Mounts() {
    }

    /** Mounts {@code source} on {@code target}; throws with the kernel's reason (errno text) on failure. */
    static void mount(String source, Path target, String fsType, long flags, String data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Native.CALL_STATE);
            MemorySegment options = data == null ? MemorySegment.NULL : a.allocateFrom(data);
            int rc = (int) Native.MOUNT.invokeExact(state, a.allocateFrom(source), a.allocateFrom(target.toString()),
                    a.allocateFrom(fsType), flags, options);
            if (rc != 0) {
                int errno = (int) Native.ERRNO.get(state, 0L);
                String why = strerror(errno);
                if ("erofs".equals(fsType) && (errno == ENOTBLK || errno == EINVAL))
                    why += " (mounting EROFS from a file needs Linux 6.12+ with CONFIG_EROFS_FS_BACKED_BY_FILE,"
                            + " and the file must be an EROFS image)";
                throw new SandboxException("cannot mount " + fsType + " " + source + " on " + target + ": " + why);
            }
        } catch (SandboxException e) {
            throw e;
        } catch (Throwable t) {
            throw new SandboxException("mount(2) call failed: " + t, t);
        }
    }

    /**
     * Unmounts {@code target}. A busy mount (a process of a dying sandbox still has a file open) is detached
     * instead: it disappears from the tree now and the kernel frees it once the last user is gone.
     */
    static void unmount(Path target) {
        int errno = umount2(target, 0);
        if (errno == EBUSY) errno = umount2(target, MNT_DETACH);
        if (errno != 0) throw new SandboxException("cannot unmount " + target + ": " + strerror(errno));
    }

    /** Detaches every mount at or under {@code root}, innermost first; for cleanup, where nothing may stay. */
    static void detachAllUnder(Path root) {
        SandboxException failure = null;
        for (Path m : under(root)) {
            int errno = umount2(m, MNT_DETACH);
            if (errno != 0 && failure == null)
                failure = new SandboxException("cannot unmount " + m + ": " + strerror(errno));
        }
        if (failure != null) throw failure;
    }

    private static int umount2(Path target, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Native.CALL_STATE);
            int rc = (int) Native.UMOUNT2.invokeExact(state, a.allocateFrom(target.toString()), flags);
            return rc == 0 ? 0 : (int) Native.ERRNO.get(state, 0L);
        } catch (Throwable t) {
            throw new SandboxException("umount2(2) call failed: " + t, t);
        }
    }

    private static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Native.STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0) + " (errno " + errno + ")";
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /**
     * Mount points at or under {@code root} in this process's mount namespace, the most recently mounted
     * first (so an overlay comes before the layers beneath it, and a mount before the one it sits on).
     */
    static List<Path> under(Path root) {
        String prefix = root.toAbsolutePath().normalize().toString();
        List<Path> found = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length < 5) continue;
                String mp = unescape(f[4]);
                if (mp.equals(prefix) || mp.startsWith(prefix + "/")) found.add(Path.of(mp));
            }
        } catch (IOException e) {
            throw new SandboxException("cannot read /proc/self/mountinfo: " + e, e);
        }
        return found.reversed();
    }

    /** mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040 …). */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) return s;
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
