#!/usr/bin/env bash
# npm run test:node -- 22 24 26: npm test on each Node line, with the official
# Linux x64 binaries from the npm registry (scripts/node-dist.sh). The addon is
# N-API, so one binary serves every line: each run loads what the loader picks
# (the prebuild once `npm run prebuilds` made it, else the local build) and
# says which. npm test covers the emulator, the host's native tests and the
# per-version addon behaviours (test/native/node-versions.test.ts). Prints a
# line per version with its time and result; fails if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 22 24 26

summary=()
failed=0
for major in "$@"; do
  bin=$(scripts/node-dist.sh "$major")
  start=$SECONDS
  status=ok
  # npm_config_nodedir: node-gyp takes this line's headers from the package, not from nodejs.org.
  PATH=$bin:$PATH npm_config_nodedir=${bin%/bin} bash -c '
    npm test && status=0 || status=$?
    echo "test:node: $(node --version) (LTS: $(node -p "process.release.lts ?? \"no\"")), addon: $(node dist/src/cli/main.js info --json --backend emulator \
      | node -p "const a = JSON.parse(require(\"fs\").readFileSync(0, \"utf8\")).addon; a.loaded ? a.kind + \" \" + a.file : \"not loaded: \" + a.error")"
    exit $status' || { status=FAILED; failed=1; }
  summary+=("Node $("$bin/node" --version): npm test $status in $((SECONDS - start)) s")
done
printf 'test:node: %s\n' "${summary[@]}"
exit "$failed"
