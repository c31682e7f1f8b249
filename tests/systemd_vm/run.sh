#!/usr/bin/env bash
# tests/systemd_vm/run.sh BINARY - boots the Debian 12 systemd image (build-image.sh) in
# QEMU, runs guest.sh there for Debian's keepalived 2.2.7 and for BINARY (our keepalived,
# staged by stage-ours.sh), and prints guest.sh's observation lines ("R ..."/"J ..."/"END")
# on stdout. The console log goes to $SYSTEMD_VM_LOG when set, its tail to stderr on failure.
#
# Exit status: 0 when the VM ran guest.sh to its end; 124 VM timeout; 125 harness failure.
{
set -euo pipefail
PROG=${0##*/}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
SELF_DIR=${SELF%/*}
CACHE=${SYSTEMD_VM_CACHE:-$HOME/.cache/keepalived-systemd-vm}
TIMEOUT=${SYSTEMD_VM_TIMEOUT:-900}
ACCEL=${SYSTEMD_VM_ACCEL:-auto}
MEM=${SYSTEMD_VM_MEM:-1024}
KVM_BOOT_WAIT=${SYSTEMD_VM_KVM_BOOT_WAIT:-60}
QEMU=${SYSTEMD_VM_QEMU:-qemu-system-x86_64}
LOGFILE=${SYSTEMD_VM_LOG:-}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 125; }
[ $# -eq 1 ] || { echo "usage: $PROG BINARY" >&2; exit 2; }
BIN=$1
[ -x "$BIN" ] || die "no executable $BIN"
command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install qemu-system-x86)"

IMAGE=$("$SELF_DIR/build-image.sh") || die "cannot build the image"
RUN=$(mktemp -d "${TMPDIR:-/tmp}/systemd-vm.XXXXXX")
trap '[ ! -f "$RUN/qemu.pid" ] || kill "$(cat "$RUN/qemu.pid")" 2>/dev/null; rm -rf "$RUN"' EXIT

# The payload: guest.sh and our files, as a tar the guest reads from /dev/vdb.
mkdir -p "$RUN/payload"
cp "$SELF_DIR/guest.sh" "$RUN/payload/guest.sh"
"$SELF_DIR/stage-ours.sh" "$BIN" "$RUN/payload/ours"
tar -cf "$RUN/payload.tar" -C "$RUN/payload" .

APPEND="console=ttyS0 root=/dev/vda rw quiet loglevel=3 systemd.show_status=0 panic=-1"
APPEND+=" 8250.nr_uarts=2 mitigations=off random.trust_cpu=on i8042.noaux i8042.nokbd"
QARGS=(-name systemd-vm -nodefaults -no-user-config -display none -vga none -nic none
       -no-reboot -m "$MEM" -smp 1
       -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img" -append "$APPEND"
       -drive "file=$IMAGE/root.img,format=raw,if=virtio,snapshot=on"
       -drive "file=$RUN/payload.tar,format=raw,if=virtio,readonly=on"
       -serial "file:$RUN/console.log" -serial "file:$RUN/results")

# KVM when it works; some nested /dev/kvm run a stock kernel far slower than TCG, so a
# KVM boot that has not reached guest.sh after KVM_BOOT_WAIT s falls back to TCG (and the
# choice is remembered for this kernel and qemu).
ACCEL_FILE=$CACHE/accel-$( { uname -r; "$QEMU" --version | head -n1; } | sha256sum | cut -c1-12)
CANDS=()
if [ "$ACCEL" != tcg ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  if [ "$ACCEL" = kvm ] || [ "$(cat "$ACCEL_FILE" 2>/dev/null)" != tcg ]; then CANDS+=(kvm); fi
fi
[ "$ACCEL" = kvm ] || CANDS+=(tcg)
rc=125
for acc in "${CANDS[@]}"; do
  : >"$RUN/console.log"; : >"$RUN/results"; rm -f "$RUN/qemu.pid" "$RUN/slow"
  # some hosts reject MSR 0x10a (arch-capabilities) for -cpu host (nested virtualization)
  cpu=max; [ "$acc" = tcg ] || cpu=host,-arch-capabilities
  wd=""
  if [ "$acc" = kvm ] && [ "$ACCEL" = auto ]; then
    ( sleep "$KVM_BOOT_WAIT"
      if ! grep -q '^R ' "$RUN/results"; then
        touch "$RUN/slow"; kill "$(cat "$RUN/qemu.pid" 2>/dev/null)" 2>/dev/null
      fi ) &
    wd=$!
  fi
  t0=$(date +%s)
  set +e
  timeout -k 5 "$TIMEOUT" "$QEMU" "${QARGS[@]}" -accel "$acc" -cpu "$cpu" \
    -pidfile "$RUN/qemu.pid" </dev/null 2>"$RUN/qemu.err"
  rc=$?
  set -e
  [ -z "$wd" ] || { kill "$wd" 2>/dev/null || true; wait "$wd" 2>/dev/null || true; }
  log "VM ran $(( $(date +%s) - t0 ))s ($acc)"
  if [ -f "$RUN/slow" ]; then
    log "note: KVM did not reach the test within ${KVM_BOOT_WAIT}s; falling back to TCG"
    echo tcg >"$ACCEL_FILE"; continue
  fi
  # a KVM that fails at once (no output at all): try TCG
  if [ "$acc" = kvm ] && [ "$ACCEL" = auto ] && [ ! -s "$RUN/results" ] && [ "$rc" != 124 ]; then
    log "note: qemu with KVM failed early: $(head -n2 "$RUN/qemu.err" | tr '\n' ' ')"
    echo tcg >"$ACCEL_FILE"; continue
  fi
  [ "$ACCEL" != auto ] || echo "$acc" >"$ACCEL_FILE"
  break
done
[ -z "$LOGFILE" ] || cp "$RUN/console.log" "$LOGFILE"
tr -d '\r' <"$RUN/results"
if grep -q '^END' "$RUN/results"; then exit 0; fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  log "error: VM timed out after ${TIMEOUT}s; last console lines:"; tail -n 30 "$RUN/console.log" >&2
  exit 124
fi
log "error: the VM ended (qemu exit $rc) before guest.sh finished; last console lines:"
tail -n 40 "$RUN/console.log" >&2
[ ! -s "$RUN/qemu.err" ] || { echo "--- qemu stderr:" >&2; tail -n 10 "$RUN/qemu.err" >&2; }
exit 125
}
