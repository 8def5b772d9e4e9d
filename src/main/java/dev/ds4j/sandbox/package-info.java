/**
 * Sandboxes for agent tool calls: one {@link dev.ds4j.sandbox.Sandbox} interface over several execution
 * substrates (DSec's design, ../shared/spec/SANDBOX.md), chosen explicitly through
 * {@link dev.ds4j.sandbox.Substrates}.
 *
 * <h2>Substrates in this slice</h2>
 * <ul>
 *   <li><b>process</b> ({@link dev.ds4j.sandbox.ProcessSubstrate}): bubblewrap + cgroup v1. Each exec runs
 *       {@code sh (root: join cgroups) → setpriv (drop to uid 65534) → bwrap --unshare-all --unshare-user
 *       --disable-userns --die-with-parent --new-session …}: only {@code lo}, a private /proc, /dev and /tmp,
 *       read-only /usr, a read-only root (so /etc cannot be written), a synthetic /etc/passwd and /etc/group,
 *       /etc/alternatives and ld.so.cache from the host, the workspace read-write at /workspace, an empty
 *       environment plus the spec's. Memory, pids and CPU limits are cgroup v1 files of one set of
 *       directories per sandbox; timeouts and close freeze the cgroup, SIGKILL every member except the outer
 *       bwrap, thaw, and let bwrap reap the namespace. {@code pause}/{@code resume} freeze and thaw the cgroup.</li>
 *   <li><b>function</b> ({@link dev.ds4j.sandbox.FunctionSubstrate}): Java tools in this JVM; confinement of
 *       paths, timeouts by interrupt and the output cap only.</li>
 *   <li><b>vm</b> ({@link dev.ds4j.sandbox.VmSubstrate}): one QEMU VM per sandbox with its own kernel (stock
 *       Debian 6.1 + a busybox initramfs built by {@code tools/vm-image.sh}, cached in ~/.cache/ds4j/vm/1 or
 *       $DS4J_HOME/vm/1), booted at create and serving execs over virtio-serial (base64 frames); the
 *       workspace is a 9p share at /workspace; no NIC unless the spec allows network (then QEMU user-mode
 *       networking); per-exec guest cgroup with the spec's memory and pids. TCG here (/dev/kvm is kvm-pvm),
 *       KVM where /dev/kvm runs stock kernels. No pause/resume.</li>
 *   <li><b>gvisor</b>, <b>firecracker</b>: detected only (runsc / firecracker on PATH, /dev/kvm and whether
 *       it is kvm-pvm); always reported unavailable, with what was found.</li>
 * </ul>
 *
 * <h2>Machine setup (recorded for the process substrate)</h2>
 * bubblewrap was not installed on the development machine; {@code apt-get install -y bubblewrap} installed
 * 0.8.0-2+deb12u1 from Debian 12. util-linux's {@code setpriv} was already there. The runtime must run as
 * root (it creates cgroup directories under its own cgroup of memory, pids, cpu and freezer, and drops the
 * sandbox to uid 65534). Without bwrap, without root, or on a pure cgroup v2 host the substrate reports
 * unavailable with that reason and the process tests are skipped with it.
 *
 * <h2>Not in this slice</h2>
 * Layered EROFS/overlay images and snapshots, network rules finer than on/off, a disk quota for the
 * workspace, seccomp filters, persistent shells, the gvisor substrate, cgroup v2.
 */
package dev.ds4j.sandbox;
