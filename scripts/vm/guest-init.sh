#!/bin/sh
# /init of the guest initramfs (busybox sh, PID 1). Loads the modules, mounts
# the host's root over 9p, gives it the guest's own proc/sys/dev/run/tmp, and
# runs scripts/vm/guest-run.sh chrooted into it. Never returns: powers off.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "dmabridge-vm: $*"; }
halt_now() { sync; poweroff -f; sleep 10; }
# The host greps the console for "dmabridge-vm: FATAL". --shell gets a
# busybox shell in the initramfs instead, to look around.
fatal() {
  say "FATAL: $*"
  [ "$MODE" = shell ] && setsid cttyhack sh
  halt_now
}

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    dmabridge.run=*) RUN=${arg#*=} ;;
    dmabridge.mode=*) MODE=${arg#*=} ;;
    dmabridge.repo=*) REPO=${arg#*=} ;;
    dmabridge.9p_cache=*) CACHE9P=${arg#*=} ;;
  esac
done

failed=
while read -r name path; do
  [ -d "/sys/module/$name" ] && continue
  insmod "$path" || { say "FATAL: module $name failed to load"; failed="$failed $name"; }
done < /etc/modules.load
[ -z "$failed" ] || fatal "modules that failed:$failed"

R=/mnt/root
# msize: the largest a virtio ring carries; larger messages mean fewer round trips.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache="${CACHE9P:-loose}" hostroot "$R" \
  || fatal "cannot mount the host's root over 9p"
[ -n "$RUN" ] && [ -f "$R$RUN/env" ] || fatal "run directory '$RUN' not found on the host"

mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount -t configfs configfs "$R/sys/kernel/config"
mount -t debugfs debugfs "$R/sys/kernel/debug"
mount -t devtmpfs devtmpfs "$R/dev"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts devpts "$R/dev/pts"
mount -t tmpfs tmpfs "$R/dev/shm"
# The guest's own /run: else e.g. `ip netns` writes into the host's /run.
mount -t tmpfs tmpfs "$R/run"
case "$RUN" in /tmp/*) ;; *) mount -t tmpfs tmpfs "$R/tmp" ;; esac
# The staged modules (with a modules.dep) as /lib/modules, so modprobe works.
kver=$(cat /etc/kernel-version)
# (Only where the host has a /lib/modules to mount on: never write to the host.)
if [ -d "$R/lib/modules" ]; then
  mount -t tmpfs tmpfs "$R/lib/modules"
  mkdir -p "$R/lib/modules/$kver"
  mount --bind "/lib/modules/$kver" "$R/lib/modules/$kver"
fi

chroot "$R" /bin/bash "$REPO/scripts/vm/guest-run.sh" "$RUN" "${MODE:-run}" \
  || say "guest-run.sh failed with status $?"
halt_now
