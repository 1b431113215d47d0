# Sourced by the VM scripts: the guest kernel they use, from
# DMABRIDGE_VM_KERNEL (6.12, the default, or 7.3), and where it lives.
#   KERNEL        the version asked for
#   KDIR          its unpacked tree: KDIR/boot/vmlinuz-*, KDIR/lib/modules/*
#   KPKGS         the Debian packages it comes in
#   KSOURCES      an apt sources line for them, or empty where the host's own
#                 sources carry them
#   KMODULES      modules the guest loads before the harness's own list
# Needs CACHE (.cache/vm) set.
KERNEL=${DMABRIDGE_VM_KERNEL:-6.12}
case "$KERNEL" in
  6.12)
    KPKGS=(linux-image-6.12.107+deb12-amd64-unsigned)
    KSOURCES=''
    # rxe computes its ICRC through the crypto API's "crc32" and `rdma link
    # add` answers ENOENT unless crc32_generic is already loaded.
    KMODULES=(crc32_generic) ;;
  7.3)
    # Since 6.15 or so the kernel's packages split image, modules and base
    # (config) under usr/lib/modules; rxe calls the crc32 library directly.
    KPKGS=(linux-binary-unsigned-7.3.4+deb13-amd64 linux-modules-7.3.4+deb13-amd64 linux-base-7.3.4+deb13-amd64)
    KSOURCES='deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main'
    KMODULES=() ;;
  *) echo "dmabridge-vm: unknown kernel '$KERNEL' (DMABRIDGE_VM_KERNEL or --kernel: 6.12 or 7.3)" >&2; exit 2 ;;
esac
KDIR="$CACHE/kernels/$KERNEL"
