#!/usr/bin/env bash
# Provision a Debian 12 host (as root) for the kernel-VM test harness: host
# packages, and the guest kernel (scripts/vm/kernel.sh: 6.12 from the host's
# bookworm sources, or DMABRIDGE_VM_KERNEL=7.3 from trixie-backports) unpacked
# (not installed) into .cache/vm/kernels/<version>/. Everything comes through
# apt; a kernel from a suite the host does not use comes through a sources
# list of its own in the cache, never the host's. Idempotent: each step
# leaves a stamp file and is skipped while it exists.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$ROOT/.cache/vm"
. "$HERE/kernel.sh"
PKGS=(qemu-system-x86 busybox-static kmod cpio xz-utils zstd util-linux iproute2
      rdma-core ibverbs-providers ibverbs-utils librdmacm1 rdmacm-utils perftest
      gcc libc6-dev linux-libc-dev libibverbs-dev librdmacm-dev libdrm-dev)

mkdir -p "$CACHE"
exec 9>"$CACHE/.provision.lock"
flock 9
sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
log="$CACHE/provision.log"
apt() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >>"$log" 2>&1 \
          || { echo "provision: apt-get $* failed; see $log" >&2; tail -n 20 "$log" >&2; return 1; }; }

pkg_stamp="$CACHE/.pkgs-$(printf '%s\n' "${PKGS[@]}" | sha1sum | cut -c1-12)"
if [ ! -e "$pkg_stamp" ]; then
  # dpkg-query exits 1 for packages it has never seen: read its answer whole,
  # not through a pipe that pipefail would judge by that exit code.
  states=$(dpkg-query -W -f='${db:Status-Status}\n' "${PKGS[@]}" 2>&1 || true)
  if grep -qvx installed <<<"$states"; then
    echo "provision: installing host packages (log: $log)" >&2
    apt install -y --no-install-recommends "${PKGS[@]}" \
      || { apt update && apt install -y --no-install-recommends "${PKGS[@]}"; }
  fi
  touch "$pkg_stamp"
fi

kstamp="$KDIR/.unpacked-$(printf '%s\n' "${KPKGS[@]}" | sha1sum | cut -c1-12)"
if [ ! -e "$kstamp" ]; then
  echo "provision: fetching Linux $KERNEL: ${KPKGS[*]} (log: $log)" >&2
  deb="$KDIR.deb"
  rm -rf "$KDIR" "$deb"
  mkdir -p "$deb" "$KDIR"
  # APT::Sandbox::User=root: the _apt user may not be able to write here.
  aptopts=(-o APT::Sandbox::User=root)
  if [ -n "$KSOURCES" ]; then
    # This kernel's own sources list, package lists and apt cache, all in .cache/vm.
    lists="$CACHE/apt-$KERNEL"
    mkdir -p "$lists/lists/partial" "$lists/cache/archives/partial"
    echo "$KSOURCES" > "$lists/sources.list"
    aptopts+=(-o Dir::Etc::sourcelist="$lists/sources.list" -o Dir::Etc::sourceparts=-
              -o Dir::State::Lists="$lists/lists" -o Dir::Cache="$lists/cache")
  fi
  fetch() { (cd "$deb" && apt "${aptopts[@]}" download "${KPKGS[@]}"); }
  if [ -n "$KSOURCES" ]; then apt "${aptopts[@]}" update && fetch; else fetch || { apt update && fetch; }; fi
  for f in "$deb"/*.deb; do dpkg -x "$f" "$KDIR"; done
  rm -rf "$deb"
  # Newer packages keep everything under usr/lib/modules/<version>/ (the
  # image as vmlinuz.unsigned): lay it out as the older ones do.
  if [ -d "$KDIR/usr/lib/modules" ]; then
    mkdir -p "$KDIR/lib" "$KDIR/boot"
    mv "$KDIR/usr/lib/modules" "$KDIR/lib/modules"
    for v in "$KDIR"/lib/modules/*/vmlinuz.unsigned; do
      [ ! -e "$v" ] || mv "$v" "$KDIR/boot/vmlinuz-$(basename "$(dirname "$v")")"
    done
  fi
  ls "$KDIR"/boot/vmlinuz-* >/dev/null 2>&1 || { echo "provision: no kernel image in ${KPKGS[*]}" >&2; exit 1; }
  touch "$kstamp"
fi
