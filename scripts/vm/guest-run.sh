#!/bin/bash
# Runs inside the guest, chrooted into the host's root (host's bash, iproute2,
# rdma-core, node). Sets up lo + rxe0 (and a NIC + rxe1 when the host gave one),
# then runs the command file of the run directory $1 and leaves its exit code
# in $1/exit-code. Mode $2: "run" or "shell".
run=$1 mode=$2
say() { echo "dmabridge-vm: $*"; }

# The host wrote the environment (PATH, HOME, DMABRIDGE_*, VITEST_*, ...).
unset $(compgen -e | grep -vx -e PWD -e SHLVL)
. "$run/env"
export DMABRIDGE_KERNEL_VM=1 DMABRIDGE_VM_PROGRESS=$run/progress.log
rm -f "$DMABRIDGE_VM_PROGRESS"
# Temporary files on the guest's own tmpfs, wherever the repo is: the guest's
# /tmp is the host's over 9p when the repo lives under it, and 9p refuses
# fifos and sockets (ENXIO).
export TMPDIR=/run/tmp
mkdir -p "$TMPDIR"

setup() {
  hostname "$DMABRIDGE_VM_ID"
  ip link set lo up || return
  rdma link add rxe0 type rxe netdev lo || { say "ERROR: rdma link add rxe0 failed"; return 1; }
  if [ -n "${DMABRIDGE_VM_NET_MAC:-}" ]; then
    local nic='' d
    # Pick the NIC by MAC: loading e.g. `dummy` adds other interfaces.
    for d in /sys/class/net/*; do
      [ "$(cat "$d/address")" = "$DMABRIDGE_VM_NET_MAC" ] && nic=${d##*/}
    done
    [ -n "$nic" ] || { say "ERROR: no NIC with MAC $DMABRIDGE_VM_NET_MAC"; return 1; }
    ip addr add "$DMABRIDGE_VM_NET_IP" dev "$nic" && ip link set "$nic" up \
      && rdma link add rxe1 type rxe netdev "$nic" \
      || { say "ERROR: setting up $nic/rxe1 failed"; return 1; }
    say "net: $nic $DMABRIDGE_VM_NET_IP rxe1"
  fi
  ulimit -l "${DMABRIDGE_VM_ULIMIT_L:-8192}"
}

# Shortly before the host's time limit, say what every process waits on (a
# hung test shows as a blocked syscall with its kernel stack), then end the
# command, so that the host gets the output and the console instead of a
# silent kill.
watchdog() {
  local grace=$(( DMABRIDGE_VM_LIMIT / 20 > 30 ? DMABRIDGE_VM_LIMIT / 20 : 30 ))
  sleep $(( DMABRIDGE_VM_LIMIT - grace - $(cut -d. -f1 /proc/uptime) ))
  say "WATCHDOG: the command is still running after $(cut -d' ' -f1 /proc/uptime) s of guest uptime; its processes:"
  ps -eo pid,ppid,stat,etimes,wchan:32,args --sort=pid | grep -v ' \[' | cut -c1-240
  local p
  for p in $(pgrep '^node'); do
    say "WATCHDOG: kernel stack of node $p ($(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-160)):"
    cat "/proc/$p/stack" 2>/dev/null
  done
  if [ -s "$DMABRIDGE_VM_PROGRESS" ]; then
    say "WATCHDOG: tests and hooks that started and never ended:"
    awk '{ k = substr($0, index($0, " ") + 1) } $1 == "start" { open[k] = NR } $1 == "end" { delete open[k] }
      END { for (k in open) print open[k] "\t" k }' "$DMABRIDGE_VM_PROGRESS" | sort -n | cut -f2-
  fi
  say "WATCHDOG: ending the command"
  pkill -KILL -f "^bash $run/cmd"; pkill -KILL '^node'
}

say "guest kernel $(uname -r)"
if ! setup; then
  say "FATAL: guest set-up failed"
  [ "$mode" = shell ] || exit 1
fi
cd "$DMABRIDGE_VM_CWD" || exit 1
uname -r > "$run/kernel"   # its mtime tells the host when the command started
say "ready after $(cut -d' ' -f1 /proc/uptime) s of guest uptime"

if [ "$mode" = shell ]; then
  # A controlling tty on the serial port, so Ctrl-C and job control work.
  setsid --ctty --wait bash -c '
    [ "${DMABRIDGE_VM_TTY_SIZE:-0 0}" = "0 0" ] || stty rows "${DMABRIDGE_VM_TTY_SIZE% *}" cols "${DMABRIDGE_VM_TTY_SIZE#* }"
    exec bash -i' </dev/ttyS0 >/dev/ttyS0 2>&1
  rc=$?
else
  watchdog & wd=$!
  bash "$run/cmd" </dev/null 2>&1 | tee "$run/output.log"
  rc=${PIPESTATUS[0]}
  kill "$wd" 2>/dev/null
fi
echo "$rc" > "$run/exit-code"
sync
