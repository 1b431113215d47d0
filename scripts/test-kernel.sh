#!/usr/bin/env bash
# npm run test:kernel: the native test suites inside Debian's Linux 6.12 under
# qemu, against the real udmabuf, system heap, vgem and rxe. Builds on the host
# first (TypeScript and C++ compile ~20x slower in the guest), runs vitest in
# the guest with a JSON report, then checks the report here: any failure, or
# any test that skipped, fails the run. The verbs ABI check runs first: the
# provisioned rdma-core headers must match the addon's own declarations.
#
#   npm run test:kernel                       # every native suite
#   npm run test:kernel -- test/api/heap.test.ts   # one file (vitest filters)
# DMABRIDGE_KERNEL_RUN_ID names the guest's run directory (default vm0), so
# that two runs at once do not share one.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/vm/provision.sh
DMABRIDGE_REQUIRE_ABI_CHECK=1 scripts/check-verbs-abi.sh
npm run --silent build:ts
if [ -f build/Makefile ]; then npx node-gyp build >/dev/null; else npm run --silent build:native; fi

id=${DMABRIDGE_KERNEL_RUN_ID:-vm0}
report=.cache/vm/kernel-tests-$id.json
mkdir -p .cache/vm
rm -f "$report"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/api test/seam test/native test/native-verbs)

status=0
scripts/vm/run.sh --id "$id" -- env DMABRIDGE_TEST_BACKENDS=native \
  node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json="$report" "${files[@]}" || status=$?
node scripts/check-kernel-report.js "$report" "$status"
