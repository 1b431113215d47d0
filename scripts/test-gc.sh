#!/usr/bin/env bash
# npm run test:gc [-- vitest args]: npm test's suites with a full GC every 3 ms
# in every Node process they start, vitest's workers and the fixtures and
# workers those spawn (test/support/gc-pressure.cjs). A forgotten resource's
# finalizer then runs mid-test: one that closes what is no longer its own, or
# a test that leans on an object it no longer holds, fails here. It found a
# worker's finalizer closing an fd number the main thread had reused.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build:ts
export NODE_OPTIONS="${NODE_OPTIONS:-} --expose-gc --require $PWD/test/support/gc-pressure.cjs"
exec npx vitest run "$@"
