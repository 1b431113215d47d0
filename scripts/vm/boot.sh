#!/usr/bin/env bash
# Boot one guest (Debian's kernel under qemu TCG, host root over 9p; the
# kernel is DMABRIDGE_VM_KERNEL's, see kernel.sh) and run a command in it; exits with the command's exit code. See run.sh for the usual
# entry point (which also provisions).
#
#   boot.sh [--id ID] [--shell] [--timeout SECS] [--net SELF_PORT:PEER_PORT
#           [--mac MAC] [--ip CIDR]] (-c SCRIPT | [--] CMD [ARG...])
#
# Per-instance files live in .cache/vm/run/ID/: cmd, env, console.log (serial
# console), output.log (the command's output), exit-code, kernel.
# --net adds a virtio-net NIC on a qemu UDP socket link to 127.0.0.1:PEER_PORT;
# the guest gives it CIDR (default 10.99.0.<SELF_PORT%250+1>/24) and rxe1;
# rxe0 is always on lo. Two guests: --id a --net 5001:5002 and --id b --net
# 5002:5001. With the default 9p cache=loose a guest may not see later changes
# to a file it already read (by the host or another guest): use files it has
# not opened yet to hand things over, or DMABRIDGE_VM_9P_CACHE=none.
# Exit status: the command's; 124 when the time limit killed the guest; 125
# when the guest failed (panic, module, 9p, set-up) before giving an exit code.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# Resolved: in a worktree .cache is a symlink, which the guest cannot follow
# before it has chrooted into the host root.
CACHE="$(cd -P "$ROOT/.cache" && pwd)/vm"
. "$HERE/kernel.sh"

id=vm0 mode=run limit=${DMABRIDGE_VM_TIMEOUT:-1500} net='' mac='' ip='' script=''
die() { echo "dmabridge-vm: $*" >&2; exit 125; }
while [ $# -gt 0 ]; do
  case "$1" in
    --id) id=$2; shift 2 ;;
    --shell) mode=shell; shift ;;
    --timeout) limit=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    --mac) mac=$2; shift 2 ;;
    --ip) ip=$2; shift 2 ;;
    -c) script=$2; shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[[ $id =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad --id '$id'"
[[ $limit =~ ^[0-9]+$ ]] || die "bad --timeout '$limit'"
[[ $ROOT != *[[:space:]]* ]] || die "the repository path must not contain spaces: $ROOT"
if [ -z "$script" ]; then
  [ $# -gt 0 ] || [ "$mode" = shell ] || die "no command given"
  script=$(printf '%q ' "$@")
fi

kernel=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$kernel" ] || die "no kernel in $KDIR; run scripts/vm/provision.sh (with DMABRIDGE_VM_KERNEL=$KERNEL)"
initrd=$("$HERE/build-initramfs.sh")

mkdir -p "$CACHE/run/$id"
# Physical: the guest's init looks for it before it chroots, where a symlink
# in the path (a worktree's .cache) would not resolve.
run=$(cd "$CACHE/run/$id" && pwd -P)
rm -f "$run"/console-panic-*.log
printf '%s\n' "$script" > "$run/cmd"
{
  for v in PATH HOME TERM LANG LC_ALL TZ CI NODE_OPTIONS FORCE_COLOR NO_COLOR; do
    [ -z "${!v+x}" ] || printf 'export %s=%q\n' "$v" "${!v}"
  done
  for v in $(compgen -e | grep -E '^(DMABRIDGE|VITEST)_' || true); do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
  printf 'export DMABRIDGE_VM_ID=%q DMABRIDGE_VM_CWD=%q DMABRIDGE_VM_LIMIT=%q\n' "$id" "$ROOT" "$limit"
  # The guest's stdout is a pipe; keep colours when ours is a terminal.
  [ -n "${FORCE_COLOR+x}${NO_COLOR+x}" ] || ! [ -t 1 ] || echo 'export FORCE_COLOR=1'
  if [ -n "$net" ]; then
    self=${net%%:*}
    printf 'export DMABRIDGE_VM_NET_MAC=%q DMABRIDGE_VM_NET_IP=%q\n' \
      "${mac:=$(printf '52:54:00:d6:%02x:%02x' $((self / 256 % 256)) $((self % 256)))}" \
      "${ip:-10.99.0.$((self % 250 + 1))/24}"
  fi
  [ "$mode" != shell ] || ! [ -t 0 ] || printf 'export DMABRIDGE_VM_TTY_SIZE=%q\n' "$(stty size)"
} > "$run/env"

qemu=(qemu-system-x86_64 -machine pc,accel=tcg -cpu max -smp 2 -m 2048
  -nodefaults -display none -no-reboot
  -kernel "$kernel" -initrd "$initrd"
  -append "console=ttyS0 quiet panic=-1 dmabridge.run=$run dmabridge.repo=$ROOT dmabridge.mode=$mode dmabridge.9p_cache=${DMABRIDGE_VM_9P_CACHE:-loose} ${DMABRIDGE_VM_APPEND:-}"
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,multidevs=remap)
if [ "$mode" = shell ]; then
  # Ctrl-C goes to the guest; Ctrl-A x quits qemu.
  qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$run/console.log" -serial chardev:con -mon chardev=con)
else
  qemu+=(-chardev "stdio,id=con,signal=on,logfile=$run/console.log" -serial chardev:con)
fi
if [ -n "$net" ]; then
  qemu+=(-netdev "socket,id=n0,udp=127.0.0.1:${net#*:},localaddr=127.0.0.1:${net%%:*}"
         -device "virtio-net-pci,netdev=n0,mac=$mac")
else
  qemu+=(-nic none)
fi

qpid='' spid=''
cleanup() {
  [ -z "$spid" ] || kill "$spid" 2>/dev/null || true
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill -KILL "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
  fi
  [ "$mode" != shell ] || ! [ -t 0 ] || stty sane 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo "dmabridge-vm: $id: interrupted" >&2; exit 130' INT TERM HUP

# A guest may panic while it boots: under multi-threaded TCG, a vCPU can still
# run an int3 that the kernel's text patching (static keys) has already
# removed from memory, and the kernel oopses on it. Nothing ran yet then, so
# boot again; a panic after the command started is a failure.
boot_once() {
  rm -f "$run"/{exit-code,output.log,console.log,kernel}
  start=$(date +%s.%N)
  # --pdeathsig: qemu dies with this script even if it is SIGKILLed.
  if [ "$mode" = shell ]; then
    setpriv --pdeathsig KILL -- "${qemu[@]}" <&0 &
  else
    setpriv --pdeathsig KILL -- "${qemu[@]}" </dev/null &
  fi
  qpid=$!
  setpriv --pdeathsig KILL -- sleep "$limit" & spid=$!
  timed_out=0 qrc=
  wait -n "$qpid" "$spid" || true
  if kill -0 "$qpid" 2>/dev/null; then timed_out=1; else wait "$qpid" && qrc=0 || qrc=$?; fi
  end=$(date +%s.%N)
  cleanup; qpid='' spid=''
}
boots=3
for attempt in $(seq "$boots"); do
  boot_once
  [ "$timed_out" = 0 ] && [ ! -e "$run/kernel" ] && grep -q 'Kernel panic' "$run/console.log" 2>/dev/null \
    && [ "$attempt" -lt "$boots" ] || break
  [ -z "$(tail -c1 "$run/console.log")" ] || echo
  mv "$run/console.log" "$run/console-panic-$attempt.log"
  echo "dmabridge-vm: $id: the guest kernel panicked while booting, before the command started:" >&2
  grep -m1 -B1 'Oops\|Kernel panic' "$run/console-panic-$attempt.log" | tr -d '\r' >&2
  echo "dmabridge-vm: $id: booting again (attempt $((attempt + 1)) of $boots); that console is in $run/console-panic-$attempt.log" >&2
done
elapsed=$(awk "BEGIN { print $end - $start }")
kver=$(cat "$run/kernel" 2>/dev/null || echo '?')
ready=
[ ! -e "$run/kernel" ] || ready=$(awk "BEGIN { print $(stat -c %.3Y "$run/kernel") - $start }")
summary() { printf 'dmabridge-vm: %s: kernel %s, %s, wall %.1f s%s\n' "$id" "$kver" "$1" "$elapsed" \
  "${ready:+ (command started after $(printf '%.1f' "$ready") s)}" >&2; }

log=$run/console.log
# The console's last line (the kernel's "Power down") has no newline yet.
[ -z "$(tail -c1 "$log" 2>/dev/null)" ] || echo
if [ "$timed_out" = 1 ]; then
  summary "KILLED after the ${limit} s time limit"
  echo "dmabridge-vm: $id: the guest did not finish in time (raise --timeout or DMABRIDGE_VM_TIMEOUT); console: $log" >&2
  exit 124
fi
if [ -s "$run/exit-code" ]; then
  rc=$(cat "$run/exit-code")
  summary "exit $rc"
  exit "$rc"
fi
summary "no exit code"
if grep -q 'Kernel panic' "$log" 2>/dev/null; then
  echo "dmabridge-vm: $id: the guest kernel panicked:" >&2
  grep -m1 -A12 'Kernel panic' "$log" | tr -d '\r' >&2
elif grep -q 'dmabridge-vm: FATAL' "$log" 2>/dev/null; then
  grep 'dmabridge-vm: \(FATAL\|ERROR\)' "$log" | tr -d '\r' | sed "s/^dmabridge-vm:/dmabridge-vm: $id: guest:/" >&2
else
  echo "dmabridge-vm: $id: the guest stopped without writing an exit code (qemu exit status $qrc); console: $log" >&2
  tail -n 20 "$log" >&2 2>/dev/null || true
fi
exit 125
