#!/usr/bin/env bash
# npm run test:kernel: the native test suites inside Debian's Linux 6.12 (or
# 7.3) under qemu, against the real udmabuf, system heap, vgem and rxe. Builds on the host
# first (TypeScript and C++ compile ~20x slower in the guest), runs vitest in
# the guest with a JSON report, then checks the report here: any failure, or
# any test that skipped, fails the run. The verbs ABI check runs first: the
# provisioned rdma-core headers must match the addon's own declarations.
#
#   npm run test:kernel                       # every native suite
#   npm run test:kernel -- test/api/heap.test.ts   # one file (vitest filters)
#   npm run test:kernel -- --kernel 7.3 [FILE...]  # on Linux 7.3 (default 6.12)
# DMABRIDGE_KERNEL_RUN_ID names the guest's run directory (default vm0), so
# that two runs at once do not share one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --kernel ]; then export DMABRIDGE_VM_KERNEL=$2; shift 2; fi

scripts/vm/provision.sh
DMABRIDGE_REQUIRE_ABI_CHECK=1 scripts/check-verbs-abi.sh
npm run --silent build:ts
if [ -f build/Makefile ]; then npx node-gyp build >/dev/null; else npm run --silent build:native; fi

id=${DMABRIDGE_KERNEL_RUN_ID:-vm0}
report=.cache/vm/kernel-tests-$id.json
mkdir -p .cache/vm
rm -f "$report"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/api test/seam test/native test/native-verbs test/native-rdmacm test/reliability)

# The full run also compares the emulator with the kernel, scenario by
# scenario (conformance/), in the same boot: any disagreement, or a kernel
# answer other than conformance/kernel-record-<kernel>.json's, fails it.
conformance=
[ $# -gt 0 ] || conformance=.cache/vm/conformance-$id.json
vitest_status=.cache/vm/vitest-status-$id
rm -f "$vitest_status" ${conformance:+"$conformance"}

status=0
# The guest gets a NIC with rxe1 on it (10.99.0.1) for the rdma_cm suites:
# rdma_cm cannot route over rxe0 on lo (rdma_resolve_route: ENODEV on 6.12),
# but connects to the guest's own NIC address. The link's far end is a free
# host port that nobody listens on.
net=$(node -e "const d = require('node:dgram'), s = [d.createSocket('udp4'), d.createSocket('udp4')]; let n = 0;
  for (const x of s) x.bind(0, '127.0.0.1', () => { if (++n === 2) { console.log(s.map((y) => y.address().port).join(':')); for (const y of s) y.close(); } });")
scripts/vm/run.sh --id "$id" --net "$net" --ip 10.99.0.1/24 -- bash -c '
  report=$1 vitest_status=$2 conformance=$3; shift 3
  # test:sanitize: the sanitizer runtimes, preloaded into the node processes below.
  [ -z "${DMABRIDGE_GUEST_PRELOAD:-}" ] || export LD_PRELOAD=$DMABRIDGE_GUEST_PRELOAD \
    ASAN_OPTIONS=$DMABRIDGE_GUEST_ASAN_OPTIONS UBSAN_OPTIONS=$DMABRIDGE_GUEST_UBSAN_OPTIONS
  DMABRIDGE_TEST_BACKENDS=native node_modules/.bin/vitest run --reporter=default --reporter=./scripts/vm/progress-reporter.mjs --reporter=json --outputFile.json="$report" "$@"
  echo $? > "$vitest_status"
  [ -z "$conformance" ] || node dist/conformance/main.js --strict --summary --json "$conformance"' \
  test-kernel "$report" "$vitest_status" "$conformance" "${files[@]}" || status=$?
failed=0
node scripts/check-kernel-report.js "$report" "$(cat "$vitest_status" 2>/dev/null || echo "$status")" || failed=1
if [ -n "$conformance" ]; then
  if [ "$status" -eq 124 ]; then
    echo "test:kernel: conformance did not run: the guest ran out of time (see the WATCHDOG lines above for what was still running)" >&2
    failed=1
  elif [ "$status" -ne 0 ] || [ ! -f "$conformance" ]; then
    echo "test:kernel: conformance failed (exit $status): emulator and kernel disagree, or the kernel left its record; see FAIL lines above" >&2
    failed=1
  else
    echo "test:kernel: conformance: every scenario agreed on both backends and with conformance/kernel-record-${DMABRIDGE_VM_KERNEL:-6.12}.json ($conformance)"
  fi
fi
exit "$failed"
