#!/usr/bin/env bash
# On the GPU machine, from the repository root with .carry/ present (see
# prepare.sh): unpacks node and runs cuda-check.js, writing its output to
# $OUT/log as well (OUT defaults to .).
#
#   scripts/device/run.sh [rounds]     # default 300
set -uo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('.carry/node.xz'),open('/tmp/node','wb'))" && chmod +x /tmp/node || exit 1
{
  nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv
  uname -r
  /tmp/node -v
  DMABRIDGE_DIST=.carry/dist DMABRIDGE_NATIVE_PATH="$PWD/.carry/dmabridge.node" /tmp/node scripts/device/cuda-check.js "${1:-300}"
  status=$?
  echo "exit status $status"
  exit $status
} 2>&1 | tee "${OUT:-.}/log"
