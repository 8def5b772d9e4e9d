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
 *       bwrap, thaw, and let bwrap reap the namespace. {@code pause}/{@code resume} freeze and thaw the cgroup.
 *       With {@link dev.ds4j.sandbox.SandboxSpec#withImage} the system is an {@link dev.ds4j.sandbox.Image}
 *       instead of the host's /usr: read-only EROFS layers (mounted once per runtime, shared) under an
 *       overlay whose upper is the sandbox's own tmpfs; {@code snapshot} packs the upper into a new layer.</li>
 *   <li><b>function</b> ({@link dev.ds4j.sandbox.FunctionSubstrate}): Java tools in this JVM; confinement of
 *       paths, timeouts by interrupt and the output cap only.</li>
 *   <li><b>gvisor</b> ({@link dev.ds4j.sandbox.GvisorSubstrate}): each exec is its own {@code runsc run}
 *       container (ptrace platform) from an OCI bundle with the process substrate's view (read-only root of our
 *       own, /usr read-only, /proc, /dev, tmpfs /tmp, the workspace), uid 65534 without capabilities, no
 *       network ({@code --network=none}) unless allowed ({@code --network=host}); runsc runs with
 *       {@code --ignore-cgroups} inside the same cgroup v1 directories, so limits, timeouts, close and pause
 *       are the process substrate's code ({@link dev.ds4j.sandbox.CgroupSandbox}); the process count is the
 *       sentry's RLIMIT_NPROC. Images and snapshots as for process ({@link dev.ds4j.sandbox.GvisorImage}).</li>
 *   <li><b>vm</b> ({@link dev.ds4j.sandbox.VmSubstrate}): one QEMU VM per sandbox with its own kernel (stock
 *       Debian 6.1 + a busybox initramfs built by {@code tools/vm-image.sh}, cached in ~/.cache/ds4j/vm/1 or
 *       $DS4J_HOME/vm/1), booted at create and serving execs over virtio-serial (base64 frames); the
 *       workspace is a 9p share at /workspace; no NIC unless the spec allows network (then QEMU user-mode
 *       networking); per-exec guest cgroup with the spec's memory and pids. TCG here (/dev/kvm is kvm-pvm),
 *       KVM where /dev/kvm runs stock kernels. Pause/resume stop and continue the whole QEMU process.</li>
 *   <li><b>firecracker</b>: detected only (firecracker on PATH, /dev/kvm and whether it is kvm-pvm);
 *       always reported unavailable, with what was found.</li>
 * </ul>
 *
 * <h2>Machine setup (recorded for the process substrate)</h2>
 * bubblewrap was not installed on the development machine; {@code apt-get install -y bubblewrap} installed
 * 0.8.0-2+deb12u1 from Debian 12. util-linux's {@code setpriv} was already there. The runtime must run as
 * root (it creates cgroup directories under its own cgroup of memory, pids, cpu and freezer, and drops the
 * sandbox to uid 65534). Without bwrap, without root, or on a pure cgroup v2 host the substrate reports
 * unavailable with that reason and the process tests are skipped with it. Images need erofs-utils
 * ({@code mkfs.erofs}, 1.5 here) and a kernel that mounts EROFS from a file (6.12+; 6.18 here);
 * {@code tools/build-base-image.sh} needs mmdebstrap for the Debian minbase variant.
 *
 * <h2>Not in this slice</h2>
 * Residue scrubbing before a snapshot, layer data fetched on demand, merging small layers, images for the
 * vm substrate, network rules finer than on/off, a disk quota for the workspace, seccomp filters,
 * persistent shells, cgroup v2.
 */
package dev.ds4j.sandbox;
