#!/usr/bin/env bash
# Run a command inside a real kernel (qemu TCG guest sharing the host's root
# over 9p, with udmabuf, dma-heaps, vgem and rxe0 on lo), and exit with its
# exit code. The kernel is Debian's 6.12, or 7.3 with --kernel 7.3.
#
#   scripts/vm/run.sh [--] CMD [ARG...]    # any command, argv kept as given
#   scripts/vm/run.sh -c 'SHELL SNIPPET'   # a bash snippet
#   scripts/vm/run.sh --shell              # interactive shell on the serial
#                                          # console (Ctrl-A x quits qemu)
# Other boot.sh options (--id, --timeout SECS, --net ...) pass through.
# Environment: DMABRIDGE_VM_KERNEL (as --kernel), DMABRIDGE_VM_TIMEOUT (s,
# default 1500), DMABRIDGE_VM_ULIMIT_L (KiB, default 8192),
# DMABRIDGE_VM_9P_CACHE (loose|mmap|none, default loose), DMABRIDGE_VM_APPEND
# (extra kernel arguments), DMABRIDGE_VM_EXTRA_MODULES.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

opts=() has_cmd=
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) export DMABRIDGE_VM_KERNEL=$2; shift 2 ;;
    --shell) opts+=("$1"); has_cmd=1; shift ;;
    --id|--timeout|--net|--mac|--ip) opts+=("$1" "$2"); shift 2 ;;
    -c) opts+=("$1" "$2"); has_cmd=1; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] && has_cmd=1
if [ -z "$has_cmd" ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi

"$HERE/provision.sh"
exec "$HERE/boot.sh" "${opts[@]}" -- "$@"
