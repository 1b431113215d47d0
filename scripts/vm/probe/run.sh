#!/usr/bin/env bash
# Build (when stale) and run the kernel-fact probe. Meant to run in the guest:
#   scripts/vm/run.sh scripts/vm/probe/run.sh [--slow]   (--slow: +10 s, vgem fence timeout)
# `run.sh --build` only builds (do it on the host: gcc is slow under TCG).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
bin="$HERE/../../../.cache/vm/probe"
if [ ! -x "$bin" ] || [ "$HERE/probe.c" -nt "$bin" ]; then
  mkdir -p "$(dirname "$bin")"
  gcc -O2 -Wall -Wextra -o "$bin" "$HERE/probe.c"
fi
[ "${1:-}" = --build ] || exec "$bin" "$@"
