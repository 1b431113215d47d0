#!/usr/bin/env bash
# npm run test:cluster: two real kernels. Boots two guests of the kernel VM
# (Debian's 6.12 under qemu TCG), each with a virtio-net NIC joined to the
# other's by a qemu UDP socket link on the host's loopback, and rxe1 on that
# NIC (10.99.0.1 and 10.99.0.2). Runs test/cluster in both at once: host A
# plays the servers, host B the clients, with rdma-core's rping on either
# side. Passes only if both guests ran every test and none failed or skipped.
#
#   npm run test:cluster
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/vm/provision.sh
npm run --silent build:ts
if [ -f build/Makefile ]; then npx node-gyp build >/dev/null; else npm run --silent build:native; fi

mkdir -p .cache/vm
A=10.99.0.1 B=10.99.0.2
guest() { # role self-port peer-port address peer-address
  local role=$1
  rm -f ".cache/vm/cluster-$role.json"
  scripts/vm/boot.sh --id "cluster-$role" --net "$2:$3" --ip "$4/24" -- \
    env DMABRIDGE_TEST_BACKENDS=native DMABRIDGE_CLUSTER_ROLE="$role" DMABRIDGE_CLUSTER_SELF="$4" DMABRIDGE_CLUSTER_PEER="$5" \
    node_modules/.bin/vitest run --cache=false --reporter=default --reporter=json \
      --outputFile.json=".cache/vm/cluster-$role.json" test/cluster 2>&1 | sed -u "s/^/[host $role] /"
  return "${PIPESTATUS[0]}"
}
status_a=0 status_b=0
guest a 5101 5102 "$A" "$B" & pid_a=$!
guest b 5102 5101 "$B" "$A" & pid_b=$!
wait "$pid_a" || status_a=$?
wait "$pid_b" || status_b=$?

ok=0
node scripts/check-kernel-report.js .cache/vm/cluster-a.json "$status_a" "host a" || ok=1
node scripts/check-kernel-report.js .cache/vm/cluster-b.json "$status_b" "host b" || ok=1
exit "$ok"
