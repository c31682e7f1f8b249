#!/usr/bin/env bash
# tests/systemd_vm/build-image.sh - builds (once) the Debian 12 root file system the
# systemd VM boots: systemd as PID 1, Debian's keepalived 2.2.7 package, the image's own
# kernel and a small initrd. Cached under $SYSTEMD_VM_CACHE keyed by a hash of this
# script (package list, hooks) and the apt sources, so a clean machine builds it once.
#
#   build-image.sh            # prints the cache directory holding root.img, vmlinuz, initrd.img
#
# Needs root, mmdebstrap and mkfs.ext4 (e2fsprogs). See README.md next to this file.
{
set -euo pipefail
PROG=${0##*/}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
SELF_DIR=${SELF%/*}
CACHE=${SYSTEMD_VM_CACHE:-$HOME/.cache/keepalived-systemd-vm}
# The host's Debian mirror (deb822 or one-line format), as apt uses it here.
SOURCES=${SYSTEMD_VM_SOURCES:-}
if [ -z "$SOURCES" ]; then
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$f" ] && grep -q '^[^#]*deb' "$f"; then SOURCES=$f; break; fi
  done
fi
SUITE=bookworm
# What the image holds besides Debian's essential packages and apt. keepalived is Debian's
# 2.2.7 package, the reference; ours is copied over it inside the VM.
PACKAGES="systemd systemd-sysv dbus udev kmod procps iproute2 keepalived
  linux-image-amd64 initramfs-tools zstd"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install mmdebstrap)"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (apt-get install e2fsprogs)"
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap --mode=root)"
[ -n "$SOURCES" ] && [ -f "$SOURCES" ] || die "no apt sources file '$SOURCES' (set SYSTEMD_VM_SOURCES)"

KEY=$( { cat "$SELF" "$SELF_DIR/vmtest.service"; grep -v '^#' "$SOURCES"; } | sha256sum | cut -c1-16)
OUT=$CACHE/image-$KEY
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$OUT/.complete" ]; then echo "$OUT"; exit 0; fi

log "building the Debian $SUITE image into $OUT (mmdebstrap, a few minutes) ..."
t0=$(date +%s)
rm -rf "$OUT" "$OUT.new"
mkdir -p "$OUT.new"
ROOT=$OUT.new/root
trap 'rm -rf "$OUT.new"' EXIT

# The initrd only needs to find /dev/vda: MODULES=list keeps it small (fast to unpack
# under TCG). The customize hooks make the image boot straight into the test unit.
mmdebstrap --mode=root --variant=apt --format=directory \
  --include="$(echo $PACKAGES | tr ' ' ',')" \
  --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"' \
  --setup-hook='echo MODULES=list >"$1/etc/initramfs-tools/conf.d/vmtest.conf"' \
  --setup-hook='echo COMPRESS=zstd >>"$1/etc/initramfs-tools/conf.d/vmtest.conf"' \
  --setup-hook='printf "virtio_pci\nvirtio_blk\next4\n" >"$1/etc/initramfs-tools/modules"' \
  --customize-hook='echo "/dev/vda / ext4 rw,noatime 0 1" >"$1/etc/fstab"' \
  --customize-hook='echo vmtest >"$1/etc/hostname"' \
  --customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 vmtest\n" >"$1/etc/hosts"' \
  --customize-hook='chroot "$1" passwd -d root' \
  --customize-hook="copy-in $SELF_DIR/vmtest.service /etc/systemd/system" \
  --customize-hook='chroot "$1" systemctl enable vmtest.service' \
  --customize-hook='chroot "$1" systemctl mask serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service' \
  --customize-hook='chroot "$1" systemctl disable keepalived.service' \
  --customize-hook='rm -f "$1"/etc/machine-id; : >"$1"/etc/machine-id' \
  "$SUITE" "$ROOT" "$SOURCES" >&2

kver=$(cd "$ROOT/lib/modules" && ls | head -n1)
[ -f "$ROOT/boot/vmlinuz-$kver" ] && [ -f "$ROOT/boot/initrd.img-$kver" ] ||
  die "the image has no kernel/initrd for $kver"
cp "$ROOT/boot/vmlinuz-$kver" "$OUT.new/vmlinuz"
cp "$ROOT/boot/initrd.img-$kver" "$OUT.new/initrd.img"
chroot "$ROOT" dpkg-query -W -f '${Package} ${Version}\n' keepalived systemd linux-image-amd64 \
  >"$OUT.new/versions"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*_Packages
# Room for the journal and our binary; the VM writes to a throw-away overlay (-snapshot).
mb=$(( $(du -sm "$ROOT" | cut -f1) + 512 ))
mkfs.ext4 -q -F -L vmroot -d "$ROOT" "$OUT.new/root.img" "${mb}M"
rm -rf "$ROOT"
touch "$OUT.new/.complete"
trap - EXIT
mv "$OUT.new" "$OUT"
# older images (another package list) are no longer wanted
for d in "$CACHE"/image-*; do [ "$d" = "$OUT" ] || rm -rf "$d"; done
log "image ready in $(( $(date +%s) - t0 ))s: $(du -sh "$OUT" | cut -f1), $(tr '\n' ' ' <"$OUT/versions")"
echo "$OUT"
}
