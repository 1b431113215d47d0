#!/usr/bin/env bash
# Build the guest initramfs: busybox-static, scripts/vm/guest-init.sh as /init,
# and the kernel modules the harness needs plus everything they depend on,
# resolved by kmod from the unpacked kernel's own modules.dep. Modules are
# stored decompressed so busybox insmod can load them. The result is cached,
# keyed on kernel version + the content of this script and of guest-init.sh.
# Prints the path of the initramfs on stdout.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$ROOT/.cache/vm"
. "$HERE/kernel.sh"

# Load order matters: the kernel's own (KMODULES) come first.
MODULES=("${KMODULES[@]}" 9pnet_virtio 9p configfs ib_core ib_uverbs rdma_rxe
         ib_cm iw_cm rdma_cm rdma_ucm drm vgem failover net_failover virtio_net
         ${DMABRIDGE_VM_EXTRA_MODULES:-})

kver=$(cd "$KDIR/lib/modules" 2>/dev/null && ls | head -n1) || true
[ -n "$kver" ] && [ -e "$KDIR/boot/vmlinuz-$kver" ] \
  || { echo "build-initramfs: no unpacked kernel in $KDIR; run scripts/vm/provision.sh" >&2; exit 1; }
BUSYBOX=/bin/busybox
# grep reads the whole list: with pipefail, an early exit would SIGPIPE busybox.
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list | grep -x insmod >/dev/null \
  || { echo "build-initramfs: need busybox-static (/bin/busybox)" >&2; exit 1; }

key=$( { echo "$kver"; printf '%s\n' "${MODULES[@]}"; cat "$0" "$HERE/guest-init.sh"; sha1sum "$BUSYBOX"; } \
       | sha1sum | cut -c1-12)
out="$KDIR/initramfs-$key.cpio"
exec 9>"$CACHE/.initramfs.lock"
flock 9   # two guests may start at once
if [ -e "$out" ]; then echo "$out"; exit 0; fi

echo "build-initramfs: building for $kver" >&2
[ -e "$KDIR/lib/modules/$kver/modules.dep" ] || depmod -b "$KDIR" "$kver"

stage=$(mktemp -d "$CACHE/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,mnt/root,etc,lib/modules/"$kver"}
cp "$BUSYBOX" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$HERE/guest-init.sh" "$stage/init"
chmod 755 "$stage/init"

# modprobe --show-depends prints "insmod PATH" lines in load order (or
# "builtin NAME"); keep the first occurrence of each module.
declare -A seen=()
: > "$stage/etc/modules.load"
for m in "${MODULES[@]}"; do
  deps=$(modprobe -d "$KDIR" -S "$kver" --show-depends "$m") \
    || { echo "build-initramfs: module $m not found in $kver" >&2; exit 1; }
  while read -r verb path _; do
    [ "$verb" = insmod ] || continue
    rel=${path#*/lib/modules/"$kver"/}
    [ -z "${seen[$rel]:-}" ] || continue
    seen[$rel]=1
    dst="$stage/lib/modules/$kver/${rel%.xz}"; dst=${dst%.zst}; dst=${dst%.gz}
    mkdir -p "$(dirname "$dst")"
    case "$path" in
      *.xz)  xz -dc "$path" > "$dst" ;;
      *.zst) zstd -qdc "$path" > "$dst" ;;
      *.gz)  gzip -dc "$path" > "$dst" ;;
      *)     cp "$path" "$dst" ;;
    esac
    name=$(basename "$dst" .ko)
    echo "${name//-/_} /lib/modules/$kver/${dst#"$stage/lib/modules/$kver/"}" >> "$stage/etc/modules.load"
  done <<< "$deps"
done

# A modules.dep for the staged tree, so modprobe works inside the guest too.
cp "$KDIR/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$stage/lib/modules/$kver/"
depmod -b "$stage" "$kver"
echo "$kver" > "$stage/etc/kernel-version"

# Uncompressed: under TCG, unpacking a compressed initramfs costs more than
# copying a few more megabytes.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
# Drop stale builds.
find "$KDIR" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "$(basename "$out")" -delete
echo "$out"
