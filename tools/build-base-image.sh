#!/bin/sh
# Builds a base root filesystem for process sandboxes from Debian packages and packs it as an EROFS layer
# (SANDBOX.md §1.1, §3.2): use it with Image.of(OUT) / SandboxSpec.withImage.
#
#   tools/build-base-image.sh OUT.erofs [--variant minbase|busybox] [--suite bookworm] [--mirror URL]
#                                         [--owner sandbox|as-is]
#
# minbase  mmdebstrap --variant=minbase SUITE: a Debian system with dpkg and apt (about a minute, needs a mirror).
# busybox  busybox-static from the configured apt sources (apt-get download + dpkg-deb -x) with its applet
#          links: a tiny image for fast tests (seconds, needs the apt sources reachable).
# --owner  sandbox (default): every file belongs to the sandbox user (host uid 65534), so commands may change
#          any file of their image (the change stays in the sandbox's overlay); as-is keeps the owners.
# Exit codes: 0 built, 2 bad usage, 3 a download failed (no network or no mirror), 1 anything else.
set -eu

usage() { echo "usage: $0 OUT.erofs [--variant minbase|busybox] [--suite SUITE] [--mirror URL] [--owner sandbox|as-is]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1; shift
variant=minbase suite=bookworm mirror= owner=sandbox
while [ $# -gt 0 ]; do
    case $1 in
        --variant) [ $# -ge 2 ] || usage; variant=$2; shift 2 ;;
        --suite) [ $# -ge 2 ] || usage; suite=$2; shift 2 ;;
        --mirror) [ $# -ge 2 ] || usage; mirror=$2; shift 2 ;;
        --owner) [ $# -ge 2 ] || usage; owner=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
case $variant in minbase|busybox) ;; *) echo "unknown variant '$variant' (minbase or busybox)" >&2; exit 2 ;; esac
case $owner in sandbox) own="--force-uid=65534 --force-gid=65534" ;; as-is) own= ;;
    *) echo "unknown owner '$owner' (sandbox or as-is)" >&2; exit 2 ;; esac
case $out in *.erofs) ;; *) echo "output '$out' should end in .erofs" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "must run as root (mmdebstrap in root mode, files owned by other users)" >&2; exit 2; }
need() { command -v "$1" >/dev/null || { echo "$1 is not installed: apt-get install -y $2" >&2; exit 2; }; }
need mkfs.erofs erofs-utils
[ "$variant" = minbase ] && need mmdebstrap mmdebstrap
[ "$variant" = busybox ] && need dpkg-deb dpkg

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ds4j-base-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
t0=$(now)

if [ "$variant" = minbase ]; then
    # Root mode: real chroot, real owners. apt lists and caches are cleaned by mmdebstrap itself.
    mmdebstrap --quiet --variant=minbase --mode=root "$suite" "$root" ${mirror:+"$mirror"} \
        || { echo "mmdebstrap failed (is a Debian mirror reachable?)" >&2; exit 3; }
else
    mkdir -p "$work/deb" "$root"
    # apt-get download writes into the current directory; as root it warns that it runs unsandboxed.
    (cd "$work/deb" && apt-get download -q busybox-static >/dev/null 2>"$work/apt.log") \
        || { echo "apt-get download busybox-static failed:" >&2; cat "$work/apt.log" >&2; exit 3; }
    dpkg-deb -x "$work"/deb/busybox-static_*.deb "$root"
    bb=$(cd "$root" && ls bin/busybox usr/bin/busybox 2>/dev/null | head -n 1)
    [ -n "$bb" ] || { echo "no busybox binary in the busybox-static package" >&2; exit 1; }
    # One link per applet where busybox itself says it belongs (bin/sh, usr/bin/awk …).
    for app in $("$root/$bb" --list-full); do
        [ -e "$root/$app" ] || [ -L "$root/$app" ] && continue
        mkdir -p "$root/$(dirname "$app")"
        ln -s "/$bb" "$root/$app"
    done
    mkdir -p "$root/etc" "$root/root" "$root/var/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
fi
# Targets for the host's name-service files in networked sandboxes (the runtime binds only over existing ones).
for f in hosts resolv.conf; do [ -e "$root/etc/$f" ] || : > "$root/etc/$f"; done
t1=$(now)
echo "$variant root filesystem: $(du -sh "$root" | cut -f1), $(find "$root" | wc -l) entries, built in $(took "$t0")"

tmp="$out.tmp$$"
# shellcheck disable=SC2086 # $own is a list of options
mkfs.erofs -zlz4 --quiet $own "$tmp" "$root"
mv -f "$tmp" "$out"
echo "$out: $(du -h "$out" | cut -f1) ($(stat -c %s "$out") bytes), mkfs.erofs -zlz4 in $(took "$t1"); total $(took "$t0")"
