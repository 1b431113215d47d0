#!/usr/bin/env bash
# scripts/node-dist.sh MAJOR [x64|arm64]: prints the bin directory of the
# official Node.js of that line (the version pinned below), taken once from
# the npm registry's node-linux-<arch> package into .cache/node/. No other
# download: npm's own registry access is enough.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A pinned=([22]=22.23.5 [24]=24.22.3 [26]=26.12.1)
major=${1:?usage: scripts/node-dist.sh MAJOR [x64|arm64]}
arch=${2:-x64}
version=${pinned[$major]:-}
if [ -z "$version" ]; then
  echo "node-dist: no pinned version for Node $major (pinned: ${!pinned[*]})" >&2
  exit 2
fi
dir=.cache/node/node-linux-$arch-$version
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npm pack --silent --pack-destination "$tmp" "node-linux-$arch@$version" >/dev/null
  mkdir -p "$tmp/x" .cache/node
  tar xzf "$tmp"/*.tgz -C "$tmp/x" --strip-components=1
  rm -rf "$dir"
  mv "$tmp/x" "$dir"
fi
echo "$PWD/$dir/bin"
