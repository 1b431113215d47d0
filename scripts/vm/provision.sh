#!/usr/bin/env bash
# Provision a Debian 12 host (as root) for the kernel-VM test harness: host
# packages, and Debian's 6.12 kernel unpacked (not installed) into
# .cache/vm/kernel/. Everything comes through apt. Idempotent: each step
# leaves a stamp file and is skipped while it exists.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE="$ROOT/.cache/vm"
KPKG=${DMABRIDGE_VM_KERNEL_PKG:-linux-image-6.12.107+deb12-amd64-unsigned}
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

kstamp="$CACHE/kernel/.unpacked-$KPKG"
if [ ! -e "$kstamp" ]; then
  echo "provision: fetching $KPKG (log: $log)" >&2
  rm -rf "$CACHE/kernel" "$CACHE/deb"
  mkdir -p "$CACHE/deb" "$CACHE/kernel"
  # APT::Sandbox::User=root: the _apt user may not be able to write here.
  fetch() { (cd "$CACHE/deb" && apt -o APT::Sandbox::User=root download "$KPKG"); }
  fetch || { apt update && fetch; }
  dpkg -x "$CACHE"/deb/*.deb "$CACHE/kernel"
  rm -rf "$CACHE/deb"
  touch "$kstamp"
fi
