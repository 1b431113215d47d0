#!/usr/bin/env bash
# Checks native/verbs/abi.h, the libibverbs ABI the addon declares for itself,
# against rdma-core's own <infiniband/verbs.h>: every size, offset and value
# it relies on. Compiles native/verbs/abi-check.cc, whose static_asserts fail
# on any difference. Needs g++ and libibverbs-dev (scripts/vm/provision.sh
# installs it). Where the header is missing it skips, successfully, unless
# DMABRIDGE_REQUIRE_ABI_CHECK=1 (test:kernel sets it: it provisions the header).
set -euo pipefail
cd "$(dirname "$0")/.."

header=/usr/include/infiniband/verbs.h
src=native/verbs/abi-check.cc
if [ ! -f "$header" ]; then
  echo "verbs ABI: skipped, $header is missing (apt-get install libibverbs-dev)"
  [ "${DMABRIDGE_REQUIRE_ABI_CHECK:-}" != 1 ] || exit 1
  exit 0
fi
if ! g++ -std=c++17 -fsyntax-only "$src"; then
  echo "verbs ABI: native/verbs/abi.h differs from rdma-core's headers (see the static_asserts above)" >&2
  exit 1
fi
checks=$(grep -c '^CHECK_' "$src")
version=$(dpkg-query -W -f='${Version}' libibverbs-dev 2>/dev/null || echo unknown)
echo "verbs ABI: $checks checks match rdma-core's headers (libibverbs-dev $version)"
