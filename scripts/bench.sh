#!/usr/bin/env bash
# npm run bench: dmabridge against its peers in one run. The native part runs
# inside the real-kernel VM (perftest and the C peers run there too), the
# emulator part on the host; then one table, and JSON in .cache/bench/.
# The one-host parts are `dmabridge bench`, as a user runs it.
# Environment: DMABRIDGE_BENCH_REPS (timed runs per measurement, default 5),
# DMABRIDGE_BENCH_CLUSTER_COUNT (64 KiB writes per two-host run, default 512).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/.cache/bench"
cd "$ROOT"
mkdir -p "$OUT"

echo "bench: building"
npm run --silent build:ts
[ -f build/Release/dmabridge.node ] || npm run --silent build:native
# Where `dmabridge bench` keeps the C peers it compiles.
export DMABRIDGE_BENCH_PEERS="$OUT/peers"
REPS=${DMABRIDGE_BENCH_REPS:-5}
cli=(node dist/src/cli/main.js bench --reps "$REPS" --json)

while pgrep -f qemu-system >/dev/null; do
  echo "bench: another qemu is running; waiting for it"
  sleep 15
done

echo "bench: native part, in the VM (a few minutes)"
rm -f "$OUT/native.json"
# 256 MiB registrations need more than the VM's default ulimit -l.
DMABRIDGE_VM_ULIMIT_L=unlimited scripts/vm/run.sh -c "$(printf '%q ' "${cli[@]}" --backend native --device rxe0) > $OUT/native.json"

echo "bench: two-host part, in two guests joined by a link (a few minutes)"
rm -f "$OUT/cluster.json"
scripts/vm/pair.sh "node scripts/bench/cluster.js $OUT/cluster.json"

echo "bench: emulator part, on the host"
"${cli[@]}" --backend emulator > "$OUT/emulator.json"

echo
node scripts/bench/report.js "$OUT/native.json" "$OUT/cluster.json" "$OUT/emulator.json" "$OUT/results.json"
