#!/usr/bin/env bash
# Checks native/verbs/abi.h and native/rdmacm/abi.h, the libibverbs and
# librdmacm ABI the addon declares for itself, against rdma-core's own
# <infiniband/verbs.h> and <rdma/rdma_cma.h>: every size, offset and value it
# relies on. Compiles each abi-check.cc, whose static_asserts fail on any
# difference. Needs g++, libibverbs-dev and librdmacm-dev (scripts/vm/provision.sh
# installs them). Where a header is missing its check skips, successfully,
# unless DMABRIDGE_REQUIRE_ABI_CHECK=1 (test:kernel sets it: it provisions them).
set -euo pipefail
cd "$(dirname "$0")/.."

# check <name> <header> <abi-check.cc> <dpkg package>
check() {
  local name=$1 header=$2 src=$3 package=$4
  if [ ! -f "$header" ]; then
    echo "$name ABI: skipped, $header is missing (apt-get install $package)"
    [ "${DMABRIDGE_REQUIRE_ABI_CHECK:-}" != 1 ] || exit 1
    return 0
  fi
  if ! g++ -std=c++17 -fsyntax-only "$src"; then
    echo "$name ABI: $(dirname "$src")/abi.h differs from rdma-core's headers (see the static_asserts above)" >&2
    exit 1
  fi
  local checks version
  checks=$(grep -c '^CHECK_' "$src")
  version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || echo unknown)
  echo "$name ABI: $checks checks match rdma-core's headers ($package $version)"
}

check verbs /usr/include/infiniband/verbs.h native/verbs/abi-check.cc libibverbs-dev
check rdmacm /usr/include/rdma/rdma_cma.h native/rdmacm/abi-check.cc librdmacm-dev
