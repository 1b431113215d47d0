#!/usr/bin/env bash
# Boot two guests of the kernel VM at once, joined by a link: each has a
# virtio-net NIC on a qemu UDP socket link to the other's, over the host's
# loopback, with rxe1 on it. Host a is 10.99.0.1, host b 10.99.0.2. The same
# bash snippet runs in both, with DMABRIDGE_CLUSTER_ROLE (a or b),
# DMABRIDGE_CLUSTER_SELF and DMABRIDGE_CLUSTER_PEER (the addresses) set; each
# line of output is prefixed with its host. Exits 0 only if both exit 0.
#
#   scripts/vm/pair.sh 'SNIPPET'
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
snippet=$1

"$HERE/provision.sh"
A=10.99.0.1 B=10.99.0.2
guest() { # role self-port peer-port address peer-address
  "$HERE/boot.sh" --id "pair-$1" --net "$2:$3" --ip "$4/24" -c \
    "export DMABRIDGE_CLUSTER_ROLE=$1 DMABRIDGE_CLUSTER_SELF=$4 DMABRIDGE_CLUSTER_PEER=$5; $snippet" 2>&1 \
    | sed -u "s/^/[host $1] /"
  return "${PIPESTATUS[0]}"
}
status_a=0 status_b=0
guest a 5101 5102 "$A" "$B" & pid_a=$!
guest b 5102 5101 "$B" "$A" & pid_b=$!
wait "$pid_a" || status_a=$?
wait "$pid_b" || status_b=$?
echo "pair: host a exit $status_a, host b exit $status_b" >&2
[ "$status_a" = 0 ] && [ "$status_b" = 0 ]
