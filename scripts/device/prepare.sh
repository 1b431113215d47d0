#!/usr/bin/env bash
# On this machine: puts what the GPU machine needs into .carry/ (ignored by
# git): node (xz, ~27 MB; the GPU machine has none), the built addon and dist/.
# Then run scripts/device/run.sh there with .carry carried, e.g. through the
# device tool: carry ['.carry'], command 'scripts/device/run.sh'.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.carry/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info && echo /.carry/ >> .git/info/exclude; }
npm run --silent build:native
npm run --silent build:ts
mkdir -p .carry
[ -f .carry/node.xz ] || xz -3 -T2 -c "$(command -v node)" > .carry/node.xz
cp build/Release/dmabridge.node .carry/
rm -rf .carry/dist && cp -r dist .carry/dist
du -sh .carry
