#!/bin/sh
# Builds the guest image of the "vm" sandbox substrate from Debian packages: the stock Debian 6.1 kernel
# (plus the few modules the guest needs: virtio PCI, virtio-serial, 9p, virtio-net) and busybox-static,
# packed into a gzip'd cpio initramfs whose /init is the guest agent below.
#
#   tools/vm-image.sh [OUTDIR]
#
# OUTDIR defaults to where the runtime looks: $DS4J_HOME/vm/<format>, else ~/.cache/ds4j/vm/<format>.
# Needs apt-get (Debian mirrors reachable), dpkg-deb, tar and gzip (cpio is the downloaded busybox's). Takes ≈15 s (a 70 MB kernel package).
# The image format number must match VmImage.FORMAT in the Java code: the agent's protocol is part of it.
set -eu
FORMAT=1
if [ $# -ge 1 ]; then OUT=$1
elif [ -n "${DS4J_HOME:-}" ]; then OUT=$DS4J_HOME/vm/$FORMAT
else OUT=$HOME/.cache/ds4j/vm/$FORMAT
fi
for t in apt-get apt-cache dpkg-deb tar gzip; do
    command -v $t >/dev/null || { echo "vm-image: $t is missing (apt-get install -y $t)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# linux-image-amd64 is the metapackage; its dependency names the current ABI (e.g. linux-image-6.1.0-50-amd64).
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "vm-image: apt-cache does not know linux-image-amd64 (run apt-get update)" >&2; exit 2; }
# apt's sandbox user cannot write to a mktemp directory; downloading as the caller is what we want here.
apt-get -q -o APT::Sandbox::User=root download "$kpkg" busybox-static >/dev/null
dpkg-deb -x busybox-static_*.deb bb
dpkg-deb --fsys-tarfile "$kpkg"_*.deb | tar -x --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/virtio/*' \
    './lib/modules/*/kernel/drivers/char/virtio_console.ko' './lib/modules/*/kernel/net/9p/*' \
    './lib/modules/*/kernel/fs/9p/*' './lib/modules/*/kernel/fs/netfs/*' './lib/modules/*/kernel/fs/fscache/*' \
    './lib/modules/*/kernel/drivers/net/virtio_net.ko' './lib/modules/*/kernel/drivers/net/net_failover.ko' \
    './lib/modules/*/kernel/net/core/failover.ko'
kver=$(ls boot | sed -n 's/^vmlinuz-//p')
mdir=lib/modules/$kver/kernel

root=$work/root
mkdir -p "$root/bin" "$root/mod" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/workspace" \
    "$root/run/ds4j" "$root/etc" "$root/root"
cp bb/bin/busybox "$root/bin/busybox"
# Applet links made here rather than by --install at boot: under TCG every boot-time syscall costs.
for a in $(bb/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
mkdir -p "$root/usr"; ln -s ../bin "$root/usr/bin"; ln -s bin "$root/sbin"; ln -s ../bin "$root/usr/sbin"
# Load order follows the modules' own depends= fields (checked at build time below), leaves last.
mods="virtio virtio_ring virtio_mmio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console
      netfs fscache 9pnet 9pnet_virtio 9p failover net_failover virtio_net"
for m in $mods; do
    f=$(find "$mdir" -name "$m.ko" | head -n 1)
    [ -n "$f" ] || { echo "vm-image: module $m.ko not in $kpkg" >&2; exit 2; }
    for d in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do
        [ -f "$root/mod/$d.ko" ] || { echo "vm-image: $m needs $d, which is not loaded before it" >&2; exit 2; }
    done
    cp "$f" "$root/mod/$m.ko"
done
echo "$mods" | tr -s ' \n' ' ' > "$root/mod/order"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
echo "127.0.0.1 localhost sandbox" > "$root/etc/hosts"

cat > "$root/init" <<'INIT'
#!/bin/sh
# Guest agent of the ds4j vm substrate (image format 1). Channels are virtio-serial ports named by the host:
#   ctl: host -> guest lines "RUN n memory-bytes pids" and "KILL n" (and "OFF");
#        guest -> host lines "READY <kernel>" and "DONE n exit oom-kills pids-limit-hits".
#   out, err: the exec's stdout and stderr as lines "D<base64 of a chunk>", then "E" when the stream ends.
# The host puts each exec's files in a 9p share (tag ctl, here /run/ds4j/n/): cmd, a shell script, and in,
# its stdin. The command runs in its own cgroup (limits, and a kill that reaches daemons too) and session.
export PATH=/bin
mount -t proc proc /proc
grep -q ds4j.debug /proc/cmdline && set -x
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=1777 tmp /tmp
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cg /sys/fs/cgroup
for m in $(cat /mod/order); do insmod /mod/$m.ko; done
hostname sandbox
ip link set lo up
die() { echo "ds4j-agent: $*" >&2; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none ws /workspace || die "no workspace"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none ctl /run/ds4j || die "no control share"
if [ -f /run/ds4j/network ]; then
    # QEMU user-mode networking has fixed addresses: guest 10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3.
    ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
    echo "nameserver 10.0.2.3" > /etc/resolv.conf
fi
for i in $(seq 200); do
    for p in /sys/class/virtio-ports/*; do
        [ -f "$p/name" ] && ln -sf "/dev/${p##*/}" "/dev/port-$(cat "$p/name")" 2>/dev/null
    done
    [ -e /dev/port-ctl ] && [ -e /dev/port-out ] && [ -e /dev/port-err ] && break
    sleep 0.05
done
[ -e /dev/port-ctl ] || die "no control port"
echo "+memory +pids" > /sys/fs/cgroup/cgroup.subtree_control

# Forwards a fifo to a port in frames; dd gives what one read returned, so output leaves as it comes.
frame() {
    while c=$(dd bs=49152 count=1 2>/dev/null | base64 -w 0) && [ -n "$c" ]; do echo "D$c"; done < "$1" > "$2"
    echo E > "$2"
}

run() {
    n=$1; d=/run/ds4j/$n; cg=/sys/fs/cgroup/x$n
    mkdir "$cg"
    echo "$2" > "$cg/memory.max"; echo 0 > "$cg/memory.swap.max" 2>/dev/null; echo "$3" > "$cg/pids.max"
    rm -f /tmp/.o /tmp/.e; mkfifo -m 600 /tmp/.o /tmp/.e
    frame /tmp/.o /dev/port-out & fo=$!
    frame /tmp/.e /dev/port-err & fe=$!
    # $$ would name this shell's parent, hence the sh -c: it moves itself into the cgroup, then becomes the command.
    sh -c 'echo $$ > "$1/cgroup.procs" && cd /workspace && exec setsid sh "$2/cmd"' sh "$cg" "$d" \
        < "$d/in" > /tmp/.o 2> /tmp/.e 3>&-
    rc=$?
    echo 1 > "$cg/cgroup.kill"
    # A reader still waiting for its first writer (the command never opened the fifo) gets one, then EOF.
    : <> /tmp/.o; : <> /tmp/.e
    wait $fo $fe
    oom=$(sed -n 's/^oom_kill //p' "$cg/memory.events"); pids=$(sed -n 's/^max //p' "$cg/pids.events")
    while ! rmdir "$cg" 2>/dev/null; do sleep 0.01; done
    rm -f /tmp/.o /tmp/.e
    echo "DONE $n $rc ${oom:-0} ${pids:-0}" >&3
}

exec 3<>/dev/port-ctl
echo "READY $(uname -r)" >&3
while read -r op n mem pids <&3; do
    case $op in
        RUN) run "$n" "$mem" "$pids" & ;;
        KILL) echo 1 > "/sys/fs/cgroup/x$n/cgroup.kill" ;;
        OFF) break ;;
    esac
done
# The host closed the channel (its JVM died) or said OFF: nothing can reach this guest any more.
poweroff -f
INIT
chmod 755 "$root/init"

mkdir -p "$OUT"
(cd "$root" && find . | "$work/bb/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -6) > "$OUT/initrd.gz.tmp"
cp boot/vmlinuz-"$kver" "$OUT/vmlinuz.tmp"
mv "$OUT/initrd.gz.tmp" "$OUT/initrd.gz"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
printf 'format=%s\nkernel=%s\npackage=%s\nbusybox=%s\n' "$FORMAT" "$kver" "$kpkg" \
    "$(ls busybox-static_*.deb)" > "$OUT/image.properties"
echo "vm-image: $OUT (kernel $kver, initrd $(wc -c < "$OUT/initrd.gz") bytes)"
