#!/bin/bash
# Builds what an end-to-end guest boots: Debian's kernel, uncompressed (vmlinux
# boots in about 4 s under TCG, the bzImage in 10), and a busybox initramfs with
# the virtio modules and the guest-side test scripts of tests/e2e/guest/tests/.
#
#   prepare.sh CACHE_DIR     -> CACHE_DIR/vmlinux, CACHE_DIR/initramfs.cpio.gz
#
# Needs (installed by scripts/install-deps with VDEV_DEPS_EXTRA, see make e2e):
# busybox-static, cpio, xz-utils, and apt-get to download linux-image-amd64.
set -euo pipefail
cache=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The kernel package that linux-image-amd64 points at today.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "prepare: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
kdir="$cache/$kpkg"
if [ ! -d "$kdir/lib/modules" ]; then
    (cd "$cache" && apt-get download "$kpkg" >/dev/null 2>&1) ||
        { echo "prepare: apt-get download $kpkg failed" >&2; exit 1; }
    rm -rf "$kdir" && mkdir -p "$kdir"
    dpkg -x "$cache"/"$kpkg"_*.deb "$kdir"
fi
kver=$(ls "$kdir/lib/modules" | head -n 1)

if [ ! -s "$cache/vmlinux.$kver" ]; then
    bz="$kdir/boot/vmlinuz-$kver"
    # The bzImage wraps an xz stream: find its magic (FD 37 7A 58 5A 00) and
    # decompress from there; xz stops at the end of the stream.
    off=$(grep -abo $'\xfd7zXZ\x00' "$bz" | head -n 1 | cut -d: -f1)
    [ -n "$off" ] || { echo "prepare: no xz stream in $bz" >&2; exit 1; }
    tail -c +$((off + 1)) "$bz" | xz -dc 2>/dev/null > "$cache/vmlinux.$kver.tmp" || true
    [ -s "$cache/vmlinux.$kver.tmp" ] || { echo "prepare: vmlinux extraction failed" >&2; exit 1; }
    mv "$cache/vmlinux.$kver.tmp" "$cache/vmlinux.$kver"
fi
ln -sf "vmlinux.$kver" "$cache/vmlinux"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,modules,tests}
cp /bin/busybox "$root/bin/busybox"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
         virtio_blk failover net_failover virtio_net; do
    f=$(find "$kdir/lib/modules/$kver" -name "$m.ko*" | head -n 1)
    [ -n "$f" ] || { echo "prepare: module $m not found" >&2; exit 1; }
    case "$f" in
        *.xz) xz -dc "$f" > "$root/modules/$m.ko" ;;
        *.zst) zstd -qdc "$f" > "$root/modules/$m.ko" ;;
        *) cp "$f" "$root/modules/$m.ko" ;;
    esac
done
cp "$here/init" "$root/init"
cp "$here"/tests/*.sh "$root/tests/" 2>/dev/null || true
chmod +x "$root/init" "$root"/tests/*.sh 2>/dev/null || true
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$cache/initramfs.cpio.gz"
echo "prepare: $cache/vmlinux ($kver), $cache/initramfs.cpio.gz"
