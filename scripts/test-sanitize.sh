#!/usr/bin/env bash
# npm run test:sanitize: the addon built with AddressSanitizer and UBSan (in
# build-sanitize/, apart from the normal build), and the native suites run
# with it inside the real-kernel VM, the sanitizer runtimes preloaded into
# node; then the fuzz suite on the host the same way, where this checkout has
# one (npm run test:fuzz). Any sanitizer report, or any failing or skipped
# test, fails the run. Node itself is not instrumented: leak detection is off
# because Node frees little at exit by design, which is the one suppression.
#
#   npm run test:sanitize                        # the addon suites (below)
#   npm run test:sanitize -- --all               # every native suite but the CLI's
#   npm run test:sanitize -- test/api/rdma.test.ts   # some (vitest filters)
set -euo pipefail
cd "$(dirname "$0")/.."

flags='-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1'
out=build-sanitize
mkdir -p "$out"
# A changed binding.gyp (sources added or renamed) needs a fresh configure.
cmp -s binding.gyp "$out/binding.gyp" || rm -rf "$out/build"
cp binding.gyp "$out/"
ln -sfn ../native "$out/native"
( cd "$out"
  export CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS='-fsanitize=address,undefined'
  if [ -f build/Makefile ]; then npx node-gyp build; else npx node-gyp rebuild; fi ) >/dev/null

reports=$PWD/$out/reports
rm -rf "$reports"
mkdir -p "$reports"
# What the guest (test-kernel.sh) and the host fuzz run put in node's
# environment: DMABRIDGE_* variables reach the guest.
export DMABRIDGE_NATIVE_PATH=$PWD/$out/build/Release/dmabridge.node
export DMABRIDGE_GUEST_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export DMABRIDGE_GUEST_ASAN_OPTIONS="detect_leaks=0:log_path=$reports/asan"
export DMABRIDGE_GUEST_UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"

# What costs time here is not the sanitizers but TCG: a node start takes 4-6 s
# in the guest with or without the runtimes preloaded, and vitest's transform
# and collection of each file (the emulator and src/ come with every suite)
# minutes on a loaded host, as in test:kernel. So the bounded default is the
# suites whose work is the addon's own memory handling in the test process:
# the seam (re-entrancy, fd ownership, watches, every kernel interface), the
# verbs and rdma_cm bindings, the addon's lifecycle across workers, registered
# memory and shared work requests, and RDMA through the API. Left out: suites
# whose cost is child node processes or long waits (cli, fd-passing, doctor,
# rdma-cm, rdma-cm-hosts, lifetimes) and the API suites over udmabuf, heaps
# and fences, whose addon calls the seam suites already make; the fuzz runs on
# the host below. --all is the old full list: it has not finished in a
# measured time (the CLI suite's bench alone ran 163 s, and child processes
# outlast their tests' own timeouts).
addon_suites=(test/seam test/native test/native-verbs test/native-rdmacm
  test/api/registered-memory.test.ts test/api/shared-requests.test.ts test/api/rdma.test.ts)
files=("$@")
if [ "${1:-}" = --all ]; then
  files=(test/api test/seam test/native test/native-verbs test/native-rdmacm --exclude=test/api/cli.test.ts)
elif [ ${#files[@]} -eq 0 ]; then
  files=("${addon_suites[@]}")
fi
status=0
# Instrumented code under TCG runs several times slower than test:kernel.
DMABRIDGE_VM_TIMEOUT=${DMABRIDGE_VM_TIMEOUT:-5400} DMABRIDGE_KERNEL_RUN_ID=${DMABRIDGE_KERNEL_RUN_ID:-vm0}-sanitize \
  scripts/test-kernel.sh "${files[@]}" --testTimeout=120000 || status=$?

if { [ $# -eq 0 ] || [ "$1" = --all ]; } && node -e "process.exit(require('./package.json').scripts['test:fuzz'] ? 0 : 1)"; then
  LD_PRELOAD=$DMABRIDGE_GUEST_PRELOAD ASAN_OPTIONS=$DMABRIDGE_GUEST_ASAN_OPTIONS UBSAN_OPTIONS=$DMABRIDGE_GUEST_UBSAN_OPTIONS \
    npm run --silent test:fuzz || status=1
else
  echo "test:sanitize: no test:fuzz in this checkout; only the native suites ran under the sanitizers"
fi

if compgen -G "$reports/*" >/dev/null; then
  echo "test:sanitize: sanitizer reports:" >&2
  cat "$reports"/* >&2
  status=1
else
  echo "test:sanitize: no AddressSanitizer or UBSan report"
fi
exit "$status"
