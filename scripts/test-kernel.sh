#!/usr/bin/env bash
# npm run test:kernel: the native test suites inside Debian's Linux 6.12 under
# qemu, against the real udmabuf, system heap, vgem and rxe. Builds on the host
# first (TypeScript and C++ compile ~20x slower in the guest), runs vitest in
# the guest with a JSON report, then checks the report here: any failure, or
# any test that skipped, fails the run.
#
#   npm run test:kernel                       # every native suite
#   npm run test:kernel -- test/api/heap.test.ts   # one file (vitest filters)
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent build:ts
[ -f build/Release/dmabridge.node ] || npm run --silent build:native

report=.cache/vm/kernel-tests.json
mkdir -p .cache/vm
rm -f "$report"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/api test/seam test/native)

status=0
scripts/vm/run.sh -- env DMABRIDGE_TEST_BACKENDS=native \
  node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json="$report" "${files[@]}" || status=$?
node scripts/check-kernel-report.js "$report" "$status"
