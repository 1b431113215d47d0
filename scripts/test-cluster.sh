#!/usr/bin/env bash
# npm run test:cluster: two real kernels. Boots two guests of the kernel VM
# (Debian's 6.12, or 7.3 with --kernel 7.3, under qemu TCG) joined by a link (scripts/vm/pair.sh: rxe1
# on each one's NIC, 10.99.0.1 and 10.99.0.2) and runs test/cluster in both
# at once: host A plays the servers, host B the clients, with rdma-core's
# rping on either side. Passes only if both guests ran every test and none
# failed or skipped.
#
#   npm run test:cluster [-- --kernel 7.3]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --kernel ]; then export DMABRIDGE_VM_KERNEL=$2; shift 2; fi

npm run --silent build:ts
if [ -f build/Makefile ]; then npx node-gyp build >/dev/null; else npm run --silent build:native; fi

mkdir -p .cache/vm
rm -f .cache/vm/cluster-a.json .cache/vm/cluster-b.json
status=0
scripts/vm/pair.sh 'DMABRIDGE_TEST_BACKENDS=native node_modules/.bin/vitest run --cache=false --reporter=default \
  --reporter=json --outputFile.json=.cache/vm/cluster-$DMABRIDGE_CLUSTER_ROLE.json test/cluster' || status=$?

ok=0
node scripts/check-kernel-report.js .cache/vm/cluster-a.json "$status" "host a" || ok=1
node scripts/check-kernel-report.js .cache/vm/cluster-b.json "$status" "host b" || ok=1
exit "$ok"
