#!/usr/bin/env bash
# npm run prebuilds: N-API prebuilds into prebuilds/ (prebuildify's layout)
# for linux-x64 and linux-arm64, both glibc. arm64 is cross-compiled with
# Debian's g++-aarch64-linux-gnu and proven by loading it under qemu-aarch64
# (qemu-user) with the official arm64 Node. Every prebuild is checked to have
# no link-time dependency on libibverbs, librdmacm or libcuda (the addon
# dlopens them). No musl prebuild: Debian has no musl C++ toolchain
# (musl-tools wraps gcc for C only), so musl systems build from source.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v readelf >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "prebuilds: needs ${need[*]}: apt-get install ${need[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

start=$SECONDS
rm -rf prebuilds
prebuildify=node_modules/.bin/prebuildify
# arm64 first: prebuildify builds in build/, and the host's build should be what stays there.
CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip \
  "$prebuildify" --napi --strip --tag-libc --arch arm64
"$prebuildify" --napi --strip --tag-libc --arch x64

for file in prebuilds/*/*.node; do
  machine=$(readelf -h "$file" | sed -n 's/ *Machine: *//p')
  needed=$(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  echo "prebuilds: $file: $machine, $(stat -c %s "$file") bytes, needs: $needed"
  if grep -Eq 'libibverbs|librdmacm|libcuda' <<<"$needed"; then
    echo "prebuilds: $file links libibverbs, librdmacm or libcuda at load time; they must stay dlopened" >&2
    exit 1
  fi
done

# arm64: the official Node for arm64 under qemu-user loads the prebuild
# through the package's own loader and runs the user-level smoke test.
node_arm64=$(scripts/node-dist.sh 24 arm64)/node
arm64() { QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 "$node_arm64" "$@"; }
arm64 test/package/user.cjs prebuilds/linux-arm64/
# The emulator on arm64 too: every conformance scenario against each kernel's
# record, and the seeded fuzz of every public method (no crash, every throw
# coded, every promise settled, no fd left). The addon stays hidden there:
# qemu-user answers ioctls it does not translate with ENOSYS, not as a kernel.
hidden=/nonexistent/dmabridge.node
for kernel in 6.12 7.3; do DMABRIDGE_NATIVE_PATH=$hidden arm64 dist/conformance/main.js --kernel "$kernel" --summary; done
fuzz=$(DMABRIDGE_NATIVE_PATH=$hidden arm64 dist/reliability/fuzz.js --backend emulator --seed 42 --calls 10000)
node -e 'const r = JSON.parse(process.argv[1]);
  if (r.uncodedCount || r.unsettled.length || r.fdsLeft.length) { console.error("prebuilds: the emulator fuzz failed on arm64:", process.argv[1]); process.exit(1); }
  console.log(`prebuilds: arm64 emulator fuzz: ${r.calls} calls, ${r.promises} promises settled, no uncoded throw, no fd left`);' "$fuzz"
echo "prebuilds: made $(ls prebuilds/*/*.node | tr '\n' ' ')in $((SECONDS - start)) s"
