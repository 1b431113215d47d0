#!/usr/bin/env bash
# What a macOS or Windows laptop gets from `npm install dmabridge`, checked on
# Linux: the package as `npm pack` makes it, installed into a scratch project
# with npm told the platform (--os/--cpu: npm's platform checks, and which
# optional dependencies it picks), the install script run as it would run
# there, and a user-style test (scripts/other-os/user.test.mjs) run against
# 'dmabridge' and 'dmabridge/emulator' with no addon in the package and
# process.platform saying darwin or win32, failing on any file access under
# /proc, /sys or /dev. It cannot show that Node's own behaviour on those
# systems (paths, signals, file systems) suits the emulator: only a run there
# can.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/dmabridge-*.tgz)

for target in darwin:arm64 win32:x64; do
  os=${target%:*} cpu=${target#*:}
  project=$work/$os
  mkdir -p "$project"
  ( cd "$project"
    npm init -y >/dev/null
    # --ignore-scripts: npm would run the install script on this Linux host;
    # it runs below as it would on $os.
    npm install --silent --no-audit --no-fund --prefer-offline --ignore-scripts --os="$os" --cpu="$cpu" "$tarball"
    pkg=node_modules/dmabridge
    # No addon: nothing built, and no prebuild for this platform.
    rm -rf "$pkg/build" "$pkg/prebuilds"
    export DMABRIDGE_PRETEND_PLATFORM=$os
    unset DMABRIDGE_BACKEND DMABRIDGE_NATIVE_PATH
    said=$(node --require "$here/scripts/other-os/pretend.cjs" "$pkg/scripts/install-native.js" 2>&1)
    echo "install script on $os: $said"
    [ "$(printf '%s\n' "$said" | wc -l)" -eq 1 ] || { echo "the install script said more than one line on $os" >&2; exit 1; }
    cp "$here/scripts/other-os/user.test.mjs" .
    node --require "$here/scripts/other-os/pretend.cjs" --test user.test.mjs
  )
  echo "$os/$cpu: installed and tested"
done
