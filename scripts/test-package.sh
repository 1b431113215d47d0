#!/usr/bin/env bash
# npm run test:package: the package as a user gets it. Packs it, checks the
# tarball holds only what users run, installs it into a scratch project with
# no compiler on PATH, and there checks that require and import both load the
# native backend from the prebuild, that no build ran, that the CLI works,
# and that tsc type-checks a user's file. Reports install time and sizes.
# Needs the prebuilds (npm run prebuilds).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
fail() { echo "test:package: $*" >&2; exit 1; }

platform=linux-$(node -p process.arch)
ls prebuilds/"$platform"/*.node >/dev/null 2>&1 || fail "no prebuild for $platform: run npm run prebuilds first"

scratch=$(mktemp -d /tmp/dmabridge-package-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
npm pack --silent --pack-destination "$scratch" >/dev/null
tarball=$(ls "$scratch"/dmabridge-*.tgz)
tar tzf "$tarball" | sed 's|^package/||' | sort > "$scratch/contents"

# What users run, and nothing else.
for want in package.json README.md binding.gyp dist/src/index.js dist/src/index.mjs dist/src/index.d.ts \
  dist/src/cli/main.js dist/seam/backend.js dist/emulator/index.js native/addon.cc scripts/install-native.js scripts/native-files.js \
  prebuilds/linux-x64/dmabridge.glibc.node prebuilds/linux-arm64/dmabridge.glibc.node; do
  grep -qx "$want" "$scratch/contents" || fail "the tarball lacks $want"
done
# (src/bench/peers/ is C that `dmabridge bench` compiles on first use.)
unwanted=$(grep -E '^dist/(conformance|examples|test)/|\.map$|abi-check\.cc$|^test/|^examples/|^src/|^conformance/' "$scratch/contents" | grep -v '^src/bench/peers/' || true)
[ -z "$unwanted" ] || fail "the tarball carries what users do not run: $(echo $unwanted)"

# A PATH with node, npm and sh only: no g++, make or python3, so nothing can compile.
mkdir -p "$scratch/bin" "$scratch/app"
ln -s "$(command -v node)" "$scratch/bin/node"
ln -s "$(command -v npm)" "$scratch/bin/npm"
ln -s "$(command -v sh)" "$scratch/bin/sh"
cp test/package/{smoke.cjs,user.cjs,user.mjs,user.ts,tsconfig.json} "$scratch/app/"
cd "$scratch/app"
echo '{ "name": "scratch", "version": "1.0.0", "private": true }' > package.json
start=$EPOCHREALTIME
PATH=$scratch/bin npm install --no-audit --no-fund --silent "$tarball"
install_s=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")
pkg=node_modules/dmabridge
[ ! -e "$pkg/build" ] || fail "the install compiled the addon ($pkg/build exists) although a prebuild matches"

PATH=$scratch/bin node user.cjs "$pkg/prebuilds/$platform"
PATH=$scratch/bin node user.mjs "$pkg/prebuilds/$platform"
addon=$(PATH=$scratch/bin node_modules/.bin/dmabridge info --json | node -p 'const a = JSON.parse(require("fs").readFileSync(0, "utf8")).addon; `${a.kind} ${a.file}`')
[[ $addon == "prebuild $PWD/$pkg/prebuilds/$platform/"* ]] || fail "dmabridge info says the addon is: $addon"
# tsc from the repo's dev dependencies, @types/node from there too (a user has their own).
mkdir -p node_modules/@types && ln -s "$repo/node_modules/@types/node" node_modules/@types/node
PATH=$scratch/bin node "$repo/node_modules/typescript/bin/tsc" -p tsconfig.json
rm -r node_modules/@types

echo "test:package: ok: require and import load $addon; tsc --noEmit passed"
echo "test:package: tarball $(du -k "$tarball" | cut -f1) KiB ($(wc -l < "$scratch/contents") files); install ${install_s} s with no compiler on PATH; node_modules $(du -sk node_modules | cut -f1) KiB, $(ls node_modules | grep -v '^\.' | wc -l) top-level packages"
