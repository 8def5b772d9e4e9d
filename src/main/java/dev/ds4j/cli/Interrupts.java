package dev.ds4j.cli;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Ctrl-C (SIGINT) while a reply is generated: the first one raises a flag that the decode loop polls,
 * so the reply stops and the chat goes on; a second one exits as Ctrl-C normally does. Outside a reply
 * the JVM's own handler applies (Ctrl-C quits).
 *
 * <p>Java has no public signal API. This uses {@code sun.misc.Signal} from the {@code jdk.unsupported}
 * module, present in every OpenJDK build on Linux, macOS and Windows; it is reached by reflection so
 * that javac does not warn, and where it is missing (or the JVM runs with {@code -Xrs}) Ctrl-C simply
 * quits, as before.
 */
final class Interrupts implements AutoCloseable {
    private static final Method HANDLE;
    private static final Class<?> HANDLER;
    private static final Object SIGINT;

    static {
        Method handle = null;
        Class<?> handler = null;
        Object sigint = null;
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            handler = Class.forName("sun.misc.SignalHandler");
            handle = signal.getMethod("handle", signal, handler);
            sigint = signal.getConstructor(String.class).newInstance("INT");
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            handle = null;
        }
        HANDLE = handle;
        HANDLER = handler;
        SIGINT = sigint;
    }

    private final Object previous;

    private Interrupts(Object previous) { this.previous = previous; }

    /** Routes Ctrl-C to {@code flag} until {@link #close}; does nothing where signals cannot be handled. */
    static Interrupts routeTo(AtomicBoolean flag) {
        if (HANDLE == null) return new Interrupts(null);
        Object handler = Proxy.newProxyInstance(Interrupts.class.getClassLoader(), new Class<?>[]{HANDLER}, (proxy, method, args) -> {
            switch (method.getName()) {
                case "handle" -> {
                    if (!flag.compareAndSet(false, true)) {
                        System.err.println();
                        System.exit(130); // a second Ctrl-C: the user wants out now
                    }
                    return null;
                }
                case "hashCode" -> { return System.identityHashCode(proxy); }
                case "equals" -> { return proxy == args[0]; }
                case "toString" -> { return "ds4j chat Ctrl-C handler"; }
                default -> throw new UnsupportedOperationException(method.getName());
            }
        });
        try {
            return new Interrupts(HANDLE.invoke(null, SIGINT, handler));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return new Interrupts(null); // e.g. the signal is reserved (-Xrs): keep the default
        }
    }

    @Override
    public void close() {
        if (previous == null) return;
        try {
            HANDLE.invoke(null, SIGINT, previous);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // the handler stays; it only sets a flag nobody polls, so Ctrl-C is ignored until exit
        }
    }
}
