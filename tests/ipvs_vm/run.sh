#!/usr/bin/env bash
# tests/ipvs_vm/run.sh - keepalived-rs IPVS test VM: run a command inside a
# throw-away QEMU VM whose Debian kernel has IPVS (ip_vs + schedulers), so the
# IPVS generic-netlink client can be tested on a host whose kernel lacks
# CONFIG_IP_VS. Based on the team's shared ipvs-vm script; used by tests/ipvs.rs.
# Missing qemu/busybox: run tests/ipvs_vm/setup.sh (apt-get) first.
#
#   run.sh [OPTIONS] -- COMMAND [ARG...]
#   run.sh [OPTIONS] run SCRIPT [ARG...]
#   run.sh [OPTIONS] prepare        # only fill the cache
#   run.sh [OPTIONS] selftest       # ipvsadm check inside the VM
#   run.sh clean                    # delete the cache
#
# Exit status: the command's own status; 124 if the VM timed out; 125 if the
# harness/VM failed before reporting a status; 2 on usage errors.
# See README.md next to this file.

# The whole script is one { ... } block: bash parses it completely before
# running, so editing/replacing this file never breaks runs in progress.
{
set -euo pipefail

IPVS_VM_FORMAT=4          # bump to invalidate cached initramfs images
STAGE_FORMAT=2            # bump to invalidate staged kernels (re-download)
PROG=${0##*/}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
SELF_DIR=${SELF%/*}

CACHE=${IPVS_VM_CACHE:-$HOME/.cache/keepalived-ipvs-vm}
KERNEL_DEB=${IPVS_VM_KERNEL_DEB:-}
KERNEL_PKG=${IPVS_VM_KERNEL_PKG:-}
SHARE=${IPVS_VM_SHARE-$PWD}
SHARE_RW=${IPVS_VM_SHARE_RW:-0}
PACK=${IPVS_VM_PACK:-0}
PACK_LIMIT_MB=${IPVS_VM_PACK_LIMIT_MB:-256}
TIMEOUT=${IPVS_VM_TIMEOUT:-300}
ACCEL=${IPVS_VM_ACCEL:-auto}
MEM=${IPVS_VM_MEM:-512}
SMP=${IPVS_VM_SMP:-1}
EXTRA_MODULES=${IPVS_VM_EXTRA_MODULES:-}
HOST_TOOLS=${IPVS_VM_HOST_TOOLS-bash dash ip nft keepalived}
PASS_ENV=${IPVS_VM_PASS_ENV-RUST_BACKTRACE RUST_LOG}
WITH_IPVSADM=${IPVS_VM_IPVSADM:-1}
VERBOSE=${IPVS_VM_VERBOSE:-0}
LOGFILE=${IPVS_VM_LOG:-}
KVM_BOOT_WAIT=${IPVS_VM_KVM_BOOT_WAIT:-20}
APPEND_EXTRA=${IPVS_VM_APPEND:-}
QEMU=${IPVS_VM_QEMU:-qemu-system-x86_64}
BUSYBOX=${IPVS_VM_BUSYBOX:-}

# Modules always wanted (missing ones that are built in are fine).
IPVS_MODULES="ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_dh ip_vs_sed
  ip_vs_nq ip_vs_lblc ip_vs_lblcr ip_vs_mh"
OPTIONAL_MODULES="ip_vs_fo ip_vs_ovf ip_vs_pe_sip dummy veth nf_tables bridge ipvlan"
NINEP_MODULES="virtio_pci 9pnet_virtio 9p"
GLIBC_LIBS="libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1
  libutil.so.1 libresolv.so.2"

log()  { printf '%s: %s\n' "$PROG" "$*" >&2; }
vlog() { [ "$VERBOSE" = 1 ] && log "$@"; return 0; }
die()  { log "error: $*"; exit 125; }
usage_err() { log "$*"; echo "Try '$PROG --help'." >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }
# Quote for POSIX sh (busybox ash) inside the VM.
shq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

usage() {
  cat <<EOF
Usage: $PROG [OPTIONS] -- COMMAND [ARG...]
       $PROG [OPTIONS] run SCRIPT [ARG...]
       $PROG [OPTIONS] prepare | selftest
       $PROG clean

Boots a small QEMU VM with a Debian kernel that has IPVS, loads ip_vs and
its schedulers, shares a host directory (default: \$PWD) at the same path,
runs the command there as root and exits with its status.

Options (environment variable in brackets):
  --kernel-deb PATH   use this linux-image .deb            [IPVS_VM_KERNEL_DEB]
  --kernel-pkg NAME   apt package to download              [IPVS_VM_KERNEL_PKG]
                      (default: what linux-image-amd64 depends on)
  --share DIR         host dir shared into the VM (default \$PWD) [IPVS_VM_SHARE]
  --no-share          share nothing
  --rw                share read-write (default read-only)  [IPVS_VM_SHARE_RW=1]
  --pack              copy the share into the initramfs instead of 9p [IPVS_VM_PACK=1]
  --timeout SEC       kill the VM after SEC seconds (default 300) [IPVS_VM_TIMEOUT]
  --accel MODE        auto|kvm|tcg (default auto)           [IPVS_VM_ACCEL]
  --mem MB, --smp N   VM size (default 512 MB, 1 vCPU)      [IPVS_VM_MEM, IPVS_VM_SMP]
  --modules "M..."    extra kernel modules to load          [IPVS_VM_EXTRA_MODULES]
  --lib-for FILE      also copy the shared libraries FILE needs (ldd)
  -e, --env NAME=VAL  set an environment variable for the command
  --log FILE          save the whole console log            [IPVS_VM_LOG]
  -v, --verbose       show the boot log on stderr           [IPVS_VM_VERBOSE=1]
Cache: \$IPVS_VM_CACHE (default ~/.cache/keepalived-ipvs-vm), now $CACHE
Exit status: the command's; 124 = VM timed out; 125 = VM/harness failure.
EOF
}

# ---------------------------------------------------------------- arguments
MODE=""; CMD=(); SCRIPT=""; LIB_FOR=(); USER_ENV=()
while [ $# -gt 0 ]; do
  case $1 in
    --kernel-deb) KERNEL_DEB=${2:?}; shift 2 ;;
    --kernel-deb=*) KERNEL_DEB=${1#*=}; shift ;;
    --kernel-pkg) KERNEL_PKG=${2:?}; shift 2 ;;
    --share) SHARE=${2:?}; shift 2 ;;
    --no-share) SHARE=""; shift ;;
    --rw) SHARE_RW=1; shift ;;
    --pack) PACK=1; shift ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --accel) ACCEL=${2:?}; shift 2 ;;
    --mem) MEM=${2:?}; shift 2 ;;
    --smp) SMP=${2:?}; shift 2 ;;
    --modules) EXTRA_MODULES="$EXTRA_MODULES ${2:?}"; shift 2 ;;
    --lib-for) LIB_FOR+=("${2:?}"); shift 2 ;;
    -e|--env) USER_ENV+=("${2:?}"); shift 2 ;;
    --log) LOGFILE=${2:?}; shift 2 ;;
    -v|--verbose) VERBOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; MODE=cmd; CMD=("$@"); break ;;
    run) MODE=run; SCRIPT=${2:-}; [ -n "$SCRIPT" ] || usage_err "run: missing SCRIPT"
         shift 2; CMD=("$@"); break ;;
    prepare|selftest|clean) MODE=$1; shift; [ $# -eq 0 ] || usage_err "$MODE takes no arguments"; break ;;
    *) usage_err "unknown argument: $1" ;;
  esac
done
[ -n "$MODE" ] || { usage >&2; exit 2; }
[ "$MODE" != cmd ] || [ ${#CMD[@]} -gt 0 ] || usage_err "no command after --"
case $ACCEL in auto|kvm|tcg) ;; *) usage_err "--accel must be auto, kvm or tcg" ;; esac
case $TIMEOUT in ''|*[!0-9]*) usage_err "--timeout needs whole seconds" ;; esac
for e in ${USER_ENV[@]+"${USER_ENV[@]}"}; do
  [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage_err "--env wants NAME=VALUE, got: $e"
done

if [ "$MODE" = clean ]; then
  case $CACHE in ""|/|"$HOME") die "refusing to delete cache dir '$CACHE'" ;; esac
  rm -rf -- "$CACHE"; log "removed $CACHE"; exit 0
fi

if [ "$MODE" = selftest ]; then
  # Two boots: the ipvsadm check, then exit-status propagation.
  args=()
  [ -z "$KERNEL_DEB" ] || args+=(--kernel-deb "$KERNEL_DEB")
  [ -z "$KERNEL_PKG" ] || args+=(--kernel-pkg "$KERNEL_PKG")
  args+=(--accel "$ACCEL" --timeout "$TIMEOUT")
  [ "$VERBOSE" != 1 ] || args+=(-v)
  [ "$PACK" != 1 ] || args+=(--pack)
  fails=0
  log "selftest 1/2: ipvsadm inside the VM"
  set +e
  out=$("$SELF" "${args[@]}" --share "$SELF_DIR" run "$SELF_DIR/selftest-vm.sh")
  rc=$?
  set -e
  printf '%s\n' "$out"
  if [ $rc -eq 0 ] && grep -q '^SELFTEST PASSED$' <<<"$out"; then
    log "selftest 1/2: ok"
  else log "selftest 1/2: FAILED (exit $rc)"; fails=$((fails+1)); fi
  log "selftest 2/2: exit status and output propagation"
  set +e
  out=$("$SELF" "${args[@]}" --no-share -- sh -c 'echo "out:$(cat /proc/net/ip_vs | head -n1)"; printf "no newline"; exit 7')
  rc=$?
  set -e
  printf '%s\n' "$out"
  if [ $rc -eq 7 ] && [ "$out" = "$(printf 'out:IP Virtual Server version 1.2.1 (size=4096)\nno newline')" ]; then
    log "selftest 2/2: ok"
  else log "selftest 2/2: FAILED (exit $rc, expected 7)"; fails=$((fails+1)); fi
  if [ $fails -eq 0 ]; then log "selftest: all passed"; exit 0; fi
  log "selftest: $fails failed"; exit 1
fi

# ------------------------------------------------------------ prerequisites
have "$QEMU" || die "$QEMU not found (apt-get install qemu-system-x86)"
for c in dpkg-deb tar gzip timeout awk sha256sum find sort; do
  have "$c" || die "'$c' not found"
done
if [ -z "$BUSYBOX" ]; then
  for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && { BUSYBOX=$b; break; }; done
fi
[ -n "$BUSYBOX" ] && [ -x "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
ulimit -c 0 2>/dev/null || true

mkdir -p "$CACHE/kernels" "$CACHE/userland" "$CACHE/tmp"
RUN=$(mktemp -d "${TMPDIR:-/tmp}/ipvs-vm.XXXXXX")
VM_JOB=""
EXTRA_TMP=()   # big temporary dirs (kernel unpacking) to remove on any exit
cleanup() { rm -rf -- "$RUN" ${EXTRA_TMP[@]+"${EXTRA_TMP[@]}"}; }
on_signal() { # stop the VM (if any) before leaving
  trap - INT TERM HUP
  if [ -f "$RUN/qemu.pid" ]; then kill "$(cat "$RUN/qemu.pid")" 2>/dev/null || true; fi
  if [ -n "$VM_JOB" ]; then wait "$VM_JOB" 2>/dev/null || true; fi
  log "interrupted"
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

# Serialize cache preparation between concurrent invocations.
lock_cache() { if have flock; then exec 9>"$CACHE/.lock"; flock 9; fi; }
unlock_cache() { if have flock; then flock -u 9; exec 9>&-; fi; }

# ------------------------------------------------------------- apt helpers
apt_download() { # DIR PKG...  (apt-get download, apt-get update once if needed)
  local dir=$1; shift
  have apt-get || die "apt-get not found; pass --kernel-deb PATH"
  if [ "$(id -u)" = 0 ] && getent passwd _apt >/dev/null 2>&1; then
    chown _apt "$dir" 2>/dev/null || true   # avoid apt's 'unsandboxed' warning
  fi
  if ! (cd "$dir" && apt-get download -q "$@" >"$RUN/apt.log" 2>&1); then
    if [ "$(id -u)" = 0 ]; then
      log "apt-get download failed; running apt-get update once"
      apt-get update -q >>"$RUN/apt.log" 2>&1 || true
      (cd "$dir" && apt-get download -q "$@" >>"$RUN/apt.log" 2>&1) && return 0
    fi
    cat "$RUN/apt.log" >&2
    die "apt-get download $* failed"
  fi
}

resolve_kernel_pkg() {
  local p
  p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1=="Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
  if [ -z "$p" ] && [ "$(id -u)" = 0 ]; then
    log "no linux-image-amd64 in apt lists; running apt-get update"
    apt-get update -q >"$RUN/apt.log" 2>&1 || true
    p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1=="Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
  fi
  [ -n "$p" ] || die "cannot resolve linux-image-amd64 via apt-cache; use --kernel-deb or --kernel-pkg"
  printf '%s\n' "$p"
}

# ---------------------------------------------------------- module handling
declare -A MODPATH=() BUILTIN=() STATE=() OPTIONAL=()
ORDER=()
MODDIR=""

mod_cat() { # print an (optionally compressed) module file
  case $1 in
    *.ko.xz) xz -dc -- "$1" ;;
    *.ko.zst) zstd -qdc -- "$1" ;;
    *.ko.gz) gzip -dc -- "$1" ;;
    *) cat -- "$1" ;;
  esac
}
mod_field() { # FILE FIELD -> values, one per line
  mod_cat "$1" | tr '\0' '\n' | sed -n "s/^$2=//p"
}
mod_index() {
  local f b
  while IFS= read -r f; do
    b=${f##*/}; b=${b%%.ko*}; b=${b//-/_}
    MODPATH[$b]=$f
  done < <(cd "$MODDIR" && find kernel -type f \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \))
  if [ -f "$MODDIR/modules.builtin" ]; then
    while IFS= read -r f; do
      b=${f##*/}; b=${b%%.ko*}; b=${b//-/_}; BUILTIN[$b]=1
    done <"$MODDIR/modules.builtin"
  fi
}
# A softdep may name an alias (libcrc32c: "pre: crc32c"); map it to modules.
mod_alias_candidates() {
  local a=$1 n f
  for n in "${!MODPATH[@]}"; do
    case $n in *"${a//-/_}"*) ;; *) continue ;; esac
    f=$MODDIR/${MODPATH[$n]}
    if mod_field "$f" alias | grep -qxF -- "$a"; then printf '%s\n' "$n"; fi
  done
}
mod_visit() { # NAME OPTIONAL(0/1)
  local n=${1//-/_} opt=$2 f d s w c found
  [ -z "${STATE[$n]:-}" ] || return 0
  if [ -n "${BUILTIN[$n]:-}" ]; then STATE[$n]=builtin; return 0; fi
  if [ -z "${MODPATH[$n]:-}" ]; then
    # maybe an alias (softdeps use them)
    found=0
    if [ -f "$MODDIR/modules.builtin.modinfo" ] &&
       tr '\0' '\n' <"$MODDIR/modules.builtin.modinfo" | grep -q "\.alias=$n\$"; then
      STATE[$n]=builtin; return 0
    fi
    for c in $(mod_alias_candidates "$n"); do mod_visit "$c" 1; found=1; done
    STATE[$n]='alias'
    [ $found = 1 ] || [ "$opt" = 1 ] || die "kernel module '$n' not found in the kernel package"
    [ $found = 1 ] || vlog "optional module '$n' not available"
    return 0
  fi
  STATE[$n]=visiting
  f=$MODDIR/${MODPATH[$n]}
  s=$(mod_field "$f" softdep | tr '\n' ' ')
  # softdep syntax: "pre: a b post: c"
  local phase="" pre=() post=()
  for w in $s; do
    case $w in pre:) phase=pre ;; post:) phase=post ;;
      *) if [ "$phase" = pre ]; then pre+=("$w"); elif [ "$phase" = post ]; then post+=("$w"); fi ;;
    esac
  done
  for w in ${pre[@]+"${pre[@]}"}; do mod_visit "$w" 1; done
  d=$(mod_field "$f" depends | tr ',' ' ')
  for w in $d; do mod_visit "$w" "$opt"; done
  ORDER+=("$n"); STATE[$n]='done'
  [ "$opt" = 1 ] && OPTIONAL[$n]=1
  for w in ${post[@]+"${post[@]}"}; do mod_visit "$w" 1; done
  return 0
}
# transitive hard deps of a module, deepest last (modules.dep convention)
mod_closure() {
  local -A seen=(); local out=()
  _mc() {
    local n=$1 w
    for w in $(mod_field "$MODDIR/${MODPATH[$n]}" depends | tr ',' ' '); do
      w=${w//-/_}
      [ -n "${MODPATH[$w]:-}" ] || continue
      [ -z "${seen[$w]:-}" ] || continue
      seen[$w]=1; _mc "$w"; out+=("$w")
    done
  }
  _mc "$1"
  local i
  for ((i=${#out[@]}-1; i>=0; i--)); do printf '%s ' "${out[$i]}"; done
}

module_wanted_sig() {
  printf '%s|' "stage=$STAGE_FORMAT" $IPVS_MODULES "+" $OPTIONAL_MODULES "+" $NINEP_MODULES "+" $EXTRA_MODULES | sha256sum | cut -c1-16
}

# Uncompressed ELF vmlinux out of a bzImage (like scripts/extract-vmlinux).
extract_vmlinux() { # BZIMAGE OUT
  local img=$1 dst=$2 magic tool off
  for magic in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08' 'lz4:\x02\x21\x4c\x18'; do
    tool=${magic%%:*}; have "$tool" || continue
    for off in $(LC_ALL=C grep -obUaP "${magic#*:}" "$img" 2>/dev/null | cut -d: -f1 | head -n 3); do
      case $tool in
        xz) tail -c +"$((off + 1))" "$img" | xz -dc --single-stream >"$dst" 2>/dev/null ;;
        zstd) tail -c +"$((off + 1))" "$img" | zstd -qdc >"$dst" 2>/dev/null ;;
        gzip) tail -c +"$((off + 1))" "$img" | gzip -dc >"$dst" 2>/dev/null ;;
        lz4) tail -c +"$((off + 1))" "$img" | lz4 -dc >"$dst" 2>/dev/null ;;
      esac
      if [ "$(head -c 4 "$dst" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then return 0; fi
    done
  done
  return 1
}

# Build $kdir (vmlinuz + staged modules) from a linux-image .deb.
stage_kernel() { # DEB KDIR
  local deb=$1 kdir=$2 x kver n rel dst lo line d f w has9p=1
  x=$(mktemp -d "${TMPDIR:-/tmp}/ipvs-vm-kernel.XXXXXX")
  EXTRA_TMP+=("$x" "$kdir.new")
  log "unpacking $(basename "$deb") ..."
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards \
      --exclude='./usr/share/*' --exclude='./usr/lib/linux/*' --exclude='./etc/*' \
      || { rm -rf "$x"; die "cannot unpack $deb"; }
  MODDIR=""
  for d in "$x"/lib/modules/* "$x"/usr/lib/modules/*; do
    if [ -d "$d/kernel" ]; then MODDIR=$d; break; fi
  done
  [ -n "$MODDIR" ] && [ -d "$MODDIR/kernel" ] || { rm -rf "$x"; die "no kernel modules in $deb"; }
  kver=${MODDIR##*/}
  local vml=""
  for d in "$x/boot/vmlinuz-$kver" "$x"/boot/vmlinuz* "$x/usr/lib/modules/$kver/vmlinuz"; do
    if [ -f "$d" ]; then vml=$d; break; fi
  done
  [ -n "$vml" ] || { rm -rf "$x"; die "no /boot/vmlinuz in $deb"; }
  mod_index
  for n in $IPVS_MODULES $EXTRA_MODULES; do mod_visit "$n" 0; done
  for n in $OPTIONAL_MODULES; do mod_visit "$n" 1; done
  for n in $NINEP_MODULES; do
    if [ -z "${MODPATH[$n]:-}" ] && [ -z "${BUILTIN[$n]:-}" ]; then has9p=0; fi
  done
  if [ $has9p = 1 ]; then for n in $NINEP_MODULES; do mod_visit "$n" 0; done; fi

  rm -rf "$kdir.new"; mkdir -p "$kdir.new/modroot/lib/modules/$kver"
  lo=$kdir.new/modroot/lib/modules/$kver
  cp "$vml" "$kdir.new/vmlinuz"
  # A PVH-capable kernel boots straight from its uncompressed ELF image, which
  # saves the in-guest decompression (about 2 s under TCG).
  if grep -qs '^CONFIG_PVH=y' "$x/boot/config-$kver"; then
    extract_vmlinux "$vml" "$kdir.new/vmlinux" || rm -f "$kdir.new/vmlinux"
  fi
  : >"$lo/ipvs-vm.load"; : >"$lo/modules.dep"
  for n in "${ORDER[@]}"; do
    rel=${MODPATH[$n]}; dst=${rel%%.ko*}.ko
    mkdir -p "$lo/${dst%/*}"
    mod_cat "$MODDIR/$rel" >"$lo/$dst"
    if [ -n "${OPTIONAL[$n]:-}" ]; then echo "?$dst" >>"$lo/ipvs-vm.load"; else echo "$dst" >>"$lo/ipvs-vm.load"; fi
  done
  for n in "${ORDER[@]}"; do
    line="${MODPATH[$n]%%.ko*}.ko:"
    for w in $(mod_closure "$n"); do line+=" ${MODPATH[$w]%%.ko*}.ko"; done
    echo "$line" >>"$lo/modules.dep"
  done
  for f in modules.builtin modules.builtin.modinfo modules.order; do
    [ ! -f "$MODDIR/$f" ] || cp "$MODDIR/$f" "$lo/"
  done
  echo "$kver" >"$kdir.new/kver"
  echo "$has9p" >"$kdir.new/has9p"
  module_wanted_sig >"$kdir.new/modules.sig"
  printf '%s\n' "${ORDER[@]}" >"$kdir.new/modules.list"
  rm -rf "$x" "$kdir"; mv "$kdir.new" "$kdir"
  log "staged kernel $kver: ${#ORDER[@]} modules, 9p=$([ $has9p = 1 ] && echo yes || echo no)"
}

# --------------------------------------------------------- userland helpers
# Copy a host file (dereferenced) to the same path under DST.
# The VM root is merged-/usr (/lib -> usr/lib ...): store under usr/ so a
# later initramfs layer never replaces those symlinks by directories.
copy_host_file() { # SRC DSTROOT
  local p=$1 root=$2 q
  case $p in /lib/*|/lib64/*|/bin/*|/sbin/*) q=/usr$p ;; *) q=$p ;; esac
  [ -e "$root$q" ] && return 0
  mkdir -p "$root${q%/*}"
  cp -L -- "$p" "$root$q"
}
# Copy the shared libraries (and loader) a host ELF needs.
copy_libs_for() { # FILE DSTROOT
  local f=$1 root=$2 lib
  have ldd || { log "warning: ldd not found; not copying libraries for $f"; return 0; }
  ldd "$f" >/dev/null 2>&1 || return 0     # static or not an ELF
  while IFS= read -r lib; do
    [ -n "$lib" ] && [ -e "$lib" ] && copy_host_file "$lib" "$root"
  done < <(ldd "$f" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}
host_libc_dir() {
  ldd "$BASH" 2>/dev/null | awk '$1=="libc.so.6" {print $3}' | sed 's,/[^/]*$,,'
}

# ipvsadm + its libraries from Debian packages (not the host's install).
prepare_ipvsadm() {
  local u=$CACHE/userland/ipvsadm
  [ "$WITH_IPVSADM" = 1 ] || return 0
  [ -f "$u/.complete" ] && return 0
  log "downloading Debian's ipvsadm (+ libnl, popt) for the reference check ..."
  local d q; d=$(mktemp -d "$CACHE/tmp/ipvsadm.XXXXXX")
  local level=(ipvsadm) next p deb deps
  declare -A got=()
  # follow library dependencies (lib*) level by level, one apt-get call per
  # level; the C runtime (libc6, libgcc-s1) comes from the host instead
  while [ ${#level[@]} -gt 0 ]; do
    apt_download "$d" "${level[@]}"
    for p in "${level[@]}"; do got[$p]=1; done
    next=()
    for p in "${level[@]}"; do
      for deb in "$d/${p}"_*.deb; do
        deps=$(dpkg-deb -f "$deb" Depends Pre-Depends 2>/dev/null |
               sed 's/^[A-Za-z-]*: //' | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g')
        for q in $deps; do
          case $q in libc6|libgcc-s1|libgcc1|libc6-*) continue ;; lib*) ;; *) continue ;; esac
          [ -n "${got[$q]:-}" ] || [[ " ${next[*]-} " == *" $q "* ]] || next+=("$q")
        done
      done
    done
    level=(${next[@]+"${next[@]}"})
  done
  rm -rf "$u.new"; mkdir -p "$u.new/root"
  for deb in "$d"/*.deb; do
    dpkg-deb -x "$deb" "$d/x"
    dpkg-deb -f "$deb" Package Version | tr '\n' ' ' >>"$u.new/versions"; echo >>"$u.new/versions"
  done
  rm -rf "$d/x/usr/share" "$d/x/etc/init.d" "$d/x/etc/default"
  (cd "$d/x" && tar -cf - .) | (cd "$u.new/root" && tar -xf -)
  rm -rf "$d" "$u"; mv "$u.new" "$u"; touch "$u/.complete"
}

write_init() {
cat <<'INIT'
#!/bin/sh
# /init of the ipvs-vm initramfs (PID 1). Written by ipvs-vm.sh.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
chmod 1777 /tmp
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
. /ipvs-vm/env
say() { echo "ipvs-vm[init]: $*"; }
finish() {
  echo "===IPVS-VM-$NONCE-EXIT $1==="
  sync
  poweroff -f
  sleep 2; reboot -f; sleep 30
}
KVER=$(uname -r)
say "kernel $KVER up"
while read -r m; do
  opt=; case $m in '?'*) opt=1; m=${m#?} ;; esac
  if ! out=$(insmod "/lib/modules/$KVER/$m" 2>&1); then
    [ -n "$opt" ] || say "warning: insmod $m failed: $out"
  fi
done <"/lib/modules/$KVER/ipvs-vm.load"
echo /sbin/modprobe >/proc/sys/kernel/modprobe 2>/dev/null
hostname ipvs-vm
ip link set lo up
[ -e /proc/net/ip_vs ] || say "warning: /proc/net/ip_vs is missing (ip_vs not loaded)"
if [ "$SHARE_MODE" = 9p ]; then
  mkdir -p "$SHARE_MOUNT"
  if ! mount -t 9p -o "trans=virtio,version=9p2000.L,msize=262144,$SHARE_OPTS" ipvsvm "$SHARE_MOUNT"; then
    say "ERROR: cannot mount the 9p share at $SHARE_MOUNT"; finish 125
  fi
fi
if [ -n "$SHARE_MOUNT" ] && [ "$SHARE_MOUNT" != /host ]; then ln -s "$SHARE_MOUNT" /host; fi
cd "$WORKDIR" 2>/dev/null || cd /root
say "running command"
echo "===IPVS-VM-$NONCE-BEGIN==="
( . /ipvs-vm/userenv; exec sh /ipvs-vm/cmd )
finish $?
INIT
}

ipvs_vm_base_sig() {
  local libc_dir; libc_dir=$(host_libc_dir)
  {
    echo "format=$IPVS_VM_FORMAT"
    sha256sum <"$SELF"              # any change to this script rebuilds (~1 s)
    stat -Lc '%n %s %Y' "$BUSYBOX" "$libc_dir"/libc.so.6 2>/dev/null || true
    for t in $HOST_TOOLS; do
      if have "$t"; then stat -Lc '%n %s %Y' "$(command -v "$t")" || true; fi
    done
    echo "ipvsadm=$WITH_IPVSADM"
    cat "$CACHE/userland/ipvsadm/versions" 2>/dev/null || true
  } | sha256sum | cut -c1-16
}

build_base_initramfs() { # KDIR
  local kdir=$1 st lib libc_dir t p q d
  st=$(mktemp -d "$CACHE/tmp/base.XXXXXX")
  mkdir -p "$st"/usr/bin "$st"/usr/sbin "$st"/usr/lib/x86_64-linux-gnu "$st"/usr/lib64 \
           "$st"/proc "$st"/sys "$st"/dev "$st"/tmp "$st"/run "$st"/root "$st"/etc "$st"/mnt "$st"/ipvs-vm
  ln -s usr/bin "$st/bin"; ln -s usr/sbin "$st/sbin"; ln -s usr/lib "$st/lib"; ln -s usr/lib64 "$st/lib64"
  cp "$BUSYBOX" "$st/usr/bin/busybox"
  "$BUSYBOX" --list-full 2>/dev/null | while IFS= read -r p; do
    case $p in ""|linuxrc) continue ;; esac
    [ -e "$st/$p" ] || [ -L "$st/$p" ] || ln -s /usr/bin/busybox "$st/$p"
  done
  [ -e "$st/usr/bin/sh" ] || ln -s /usr/bin/busybox "$st/usr/bin/sh"
  # kernel modules
  (cd "$kdir/modroot" && tar -cf - .) | (cd "$st" && tar -xf - --keep-directory-symlink)
  # C runtime from the host, so binaries built on the host run in the VM
  libc_dir=$(host_libc_dir)
  if [ -n "$libc_dir" ]; then
    for lib in $GLIBC_LIBS; do
      [ ! -e "$libc_dir/$lib" ] || copy_host_file "$libc_dir/$lib" "$st"
    done
    copy_libs_for "$BASH" "$st"     # also brings the dynamic loader
  else
    log "warning: cannot locate the host's libc; dynamic binaries will not run in the VM"
  fi
  # host tools (default: bash, iproute2's ip, nft, keepalived 2.2.7); they replace busybox applets
  for t in $HOST_TOOLS; do
    p=$(command -v "$t" 2>/dev/null) || continue
    case $p in /*) ;; *) continue ;; esac            # a shell builtin/function
    p=$(readlink -f "$p")
    case $p in /lib/*|/lib64/*|/bin/*|/sbin/*) q=/usr$p ;; *) q=$p ;; esac
    for d in "$q" "/usr/sbin/$t" "/usr/bin/$t"; do
      if [ -L "$st$d" ] && [ "$(readlink "$st$d")" = /usr/bin/busybox ]; then rm -f "$st$d"; fi
    done
    copy_host_file "$p" "$st"; copy_libs_for "$p" "$st"
    if [ ! -e "$st/usr/sbin/$t" ] && [ ! -e "$st/usr/bin/$t" ]; then ln -s "$q" "$st/usr/bin/$t"; fi
  done
  # /bin/sh: the host's dash when copied (busybox's ash would run its own
  # applets, e.g. its small 'ip', before anything in PATH), else busybox.
  if [ -x "$st/usr/bin/dash" ]; then rm -f "$st/usr/bin/sh"; ln -s dash "$st/usr/bin/sh"; fi
  # Debian's ipvsadm for reference checks
  if [ -f "$CACHE/userland/ipvsadm/.complete" ]; then
    (cd "$CACHE/userland/ipvsadm/root" && tar -cf - .) | (cd "$st" && tar -xf - --keep-directory-symlink)
  fi
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$st/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$st/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n127.0.1.1 ipvs-vm\n' >"$st/etc/hosts"
  for f in /etc/protocols /etc/services; do [ ! -f "$f" ] || cp "$f" "$st$f"; done
  write_init >"$st/init"; chmod 755 "$st/init"
  # uncompressed: unpacking gzip costs ~0.4 s per boot under TCG
  (cd "$st" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) \
    >"$kdir/initramfs.new"
  pad4 "$kdir/initramfs.new"
  mv "$kdir/initramfs.new" "$kdir/initramfs.cpio"
  rm -rf "$st"
}
pad4() { local s; s=$(stat -c %s "$1"); while [ $((s % 4)) -ne 0 ]; do printf '\0' >>"$1"; s=$((s+1)); done; }

# ------------------------------------------------------------------ prepare
kdir_ok() { [ -f "$1/vmlinuz" ] && [ "$(cat "$1/modules.sig" 2>/dev/null)" = "$(module_wanted_sig)" ]; }
prepare() {
  local key="" kdir="" pkg ver deb tmpd="" cver
  lock_cache
  if [ -n "$KERNEL_DEB" ]; then
    [ -f "$KERNEL_DEB" ] || die "no such file: $KERNEL_DEB"
    KERNEL_DEB=$(readlink -f "$KERNEL_DEB")
    pkg=$(dpkg-deb -f "$KERNEL_DEB" Package) ver=$(dpkg-deb -f "$KERNEL_DEB" Version)
    key=${pkg}_${ver}
  elif [ -n "$KERNEL_PKG" ] && [ -f "$CACHE/pkg-$KERNEL_PKG" ]; then
    key=$(cat "$CACHE/pkg-$KERNEL_PKG")
  elif [ -z "$KERNEL_PKG" ] && [ -f "$CACHE/default-kernel" ]; then
    key=$(cat "$CACHE/default-kernel")
  fi
  key=${key//[^A-Za-z0-9._+-]/_}
  [ -z "$key" ] || kdir=$CACHE/kernels/$key
  if [ -z "$kdir" ] || ! kdir_ok "$kdir"; then
    deb=$KERNEL_DEB
    if [ -z "$deb" ]; then
      if [ -z "$KERNEL_PKG" ] && [ -f "$CACHE/default-kernel-pkg" ]; then KERNEL_PKG=$(cat "$CACHE/default-kernel-pkg"); fi
      [ -n "$KERNEL_PKG" ] || KERNEL_PKG=$(resolve_kernel_pkg)
      # already staged (e.g. earlier from --kernel-deb)? then no download
      cver=$(apt-cache policy "$KERNEL_PKG" 2>/dev/null | awk '$1=="Candidate:" && $2!="(none)" {print $2; exit}')
      key=${KERNEL_PKG}_${cver}; key=${key//[^A-Za-z0-9._+-]/_}; kdir=$CACHE/kernels/$key
      if [ -z "$cver" ] || ! kdir_ok "$kdir"; then
        tmpd=$(mktemp -d "$CACHE/tmp/kdeb.XXXXXX")
        log "downloading $KERNEL_PKG with apt-get download ..."
        apt_download "$tmpd" "$KERNEL_PKG"
        deb=$(ls "$tmpd"/*.deb | head -n1)
        pkg=$(dpkg-deb -f "$deb" Package) ver=$(dpkg-deb -f "$deb" Version)
        key=${pkg}_${ver}; key=${key//[^A-Za-z0-9._+-]/_}; kdir=$CACHE/kernels/$key
      fi
    fi
    [ -z "$deb" ] || stage_kernel "$deb" "$kdir"
    [ -z "$tmpd" ] || rm -rf "$tmpd"
    if [ -z "$KERNEL_DEB" ]; then
      echo "$key" >"$CACHE/pkg-$KERNEL_PKG"
      if [ ! -f "$CACHE/default-kernel" ] || [ "$KERNEL_PKG" = "$(cat "$CACHE/default-kernel-pkg" 2>/dev/null)" ]; then
        echo "$key" >"$CACHE/default-kernel"; echo "$KERNEL_PKG" >"$CACHE/default-kernel-pkg"
      fi
    fi
  fi
  prepare_ipvsadm
  local sig; sig=$(ipvs_vm_base_sig)
  if [ ! -f "$kdir/initramfs.cpio" ] || [ "$(cat "$kdir/initramfs.sig" 2>/dev/null)" != "$sig" ]; then
    log "building initramfs for $(cat "$kdir/kver") ..."
    build_base_initramfs "$kdir"
    echo "$sig" >"$kdir/initramfs.sig"
  fi
  rm -rf "$CACHE"/tmp/* 2>/dev/null || true
  unlock_cache
  KDIR=$kdir
}

prepare
[ "$MODE" != prepare ] || { log "cache ready: $KDIR ($(du -sh "$CACHE" | cut -f1) total)"; exit 0; }

# ----------------------------------------------------------- per-run overlay
HAS9P=$(cat "$KDIR/has9p")
OV=$RUN/ov; mkdir -p "$OV/ipvs-vm"
NONCE=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
SHARE_MODE=none SHARE_MOUNT="" SHARE_OPTS="" WORKDIR=/root SHARE_ABS=""
if [ -n "$SHARE" ]; then
  [ -d "$SHARE" ] || die "share directory not found: $SHARE"
  SHARE_ABS=$(cd "$SHARE" && pwd -P)
  case $SHARE_ABS in
    /|/usr|/usr/*|/lib|/lib/*|/lib64|/lib64/*|/bin|/bin/*|/sbin|/sbin/*|/etc|/etc/*|\
    /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/run|/run/*|/ipvs-vm|/ipvs-vm/*|/host|/host/*|/tmp|/root)
      SHARE_MOUNT=/host ;;
    *) SHARE_MOUNT=$SHARE_ABS ;;
  esac
  if [ "$PACK" != 1 ] && [ "$HAS9P" = 1 ]; then
    SHARE_MODE=9p
    [ "$SHARE_RW" = 1 ] && SHARE_OPTS=rw || SHARE_OPTS=ro
  else
    SHARE_MODE=packed
    [ "$SHARE_MOUNT" = "$SHARE_ABS" ] || die "--pack cannot place the share at $SHARE_ABS; share a subdirectory"
    [ "$SHARE_RW" != 1 ] || log "note: packed share is a copy; writes stay inside the VM"
  fi
  WORKDIR=$SHARE_MOUNT
  here=$(pwd -P)
  case $here in "$SHARE_ABS") WORKDIR=$SHARE_MOUNT ;; "$SHARE_ABS"/*) WORKDIR=$SHARE_MOUNT${here#"$SHARE_ABS"} ;; esac
fi
{
  echo "NONCE=$(shq "$NONCE")"
  echo "SHARE_MODE=$(shq "$SHARE_MODE")"
  echo "SHARE_MOUNT=$(shq "$SHARE_MOUNT")"
  echo "SHARE_OPTS=$(shq "$SHARE_OPTS")"
  echo "WORKDIR=$(shq "$WORKDIR")"
} >"$OV/ipvs-vm/env"
{
  echo "export IPVS_VM=1"
  [ -z "$SHARE_MOUNT" ] || echo "export IPVS_VM_SHARE=$(shq "$SHARE_MOUNT")"
  for v in $PASS_ENV; do
    [ -z "${!v+x}" ] || echo "export $v=$(shq "${!v}")"
  done
  for e in ${USER_ENV[@]+"${USER_ENV[@]}"}; do echo "export ${e%%=*}=$(shq "${e#*=}")"; done
} >"$OV/ipvs-vm/userenv"

if [ "$MODE" = run ]; then
  [ -f "$SCRIPT" ] || die "no such script: $SCRIPT"
  sabs=$(readlink -f "$SCRIPT")
  cp "$sabs" "$OV/ipvs-vm/script"; chmod 755 "$OV/ipvs-vm/script"
  spath=/ipvs-vm/script
  if [ -n "$SHARE_ABS" ]; then
    case $sabs in "$SHARE_ABS"/*) spath=$SHARE_MOUNT${sabs#"$SHARE_ABS"} ;; esac
  fi
  # Runner: exec by shebang when its interpreter exists in the VM, else busybox sh.
  {
    printf 's=%s\n' "$(shq "$spath")"
    printf 'set --'; for a in ${CMD[@]+"${CMD[@]}"}; do printf ' %s' "$(shq "$a")"; done; echo
    cat <<'EOS'
IFS= read -r first <"$s" || first=
prog=; arg=
case $first in
  '#!'*) line=${first#??}; line=${line#"${line%%[! 	]*}"}; line=${line%"${line##*[! 	]}"}
         prog=${line%%[ 	]*}; arg=${line#"$prog"}; arg=${arg#"${arg%%[! 	]*}"} ;;
esac
if [ -n "$prog" ] && [ -x "$prog" ]; then
  if [ "${prog##*/}" != env ] || [ -z "$arg" ] || command -v "${arg%% *}" >/dev/null 2>&1; then
    if [ -n "$arg" ]; then exec "$prog" "$arg" "$s" "$@"; else exec "$prog" "$s" "$@"; fi
  fi
fi
[ -z "$prog" ] || echo "ipvs-vm: interpreter '$prog${arg:+ $arg}' is not in the VM; using busybox sh" >&2
exec sh "$s" "$@"
EOS
  } >"$OV/ipvs-vm/cmd"
else
  { for a in "${CMD[@]}"; do printf '%s ' "$(shq "$a")"; done; echo; } >"$OV/ipvs-vm/cmd"
  # auto-copy the libraries of a host binary named as the command
  c0=${CMD[0]}
  if [[ $c0 == */* ]] && [ -f "$c0" ]; then LIB_FOR+=("$c0"); fi
fi
for f in ${LIB_FOR[@]+"${LIB_FOR[@]}"}; do
  [ -f "$f" ] || die "--lib-for: no such file: $f"
  copy_libs_for "$f" "$OV"
done

INITRD=$RUN/initrd
cp "$KDIR/initramfs.cpio" "$INITRD"
(cd "$OV" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) >>"$INITRD"
pad4 "$INITRD"
if [ "$SHARE_MODE" = packed ]; then
  kb=$(du -sk "$SHARE_ABS" | cut -f1)
  [ "$kb" -le $((PACK_LIMIT_MB * 1024)) ] ||
    die "share $SHARE_ABS is $((kb/1024)) MB, over IPVS_VM_PACK_LIMIT_MB=$PACK_LIMIT_MB; share a smaller dir"
  MEM=$((MEM + 2 * kb / 1024))
  {
    p=${SHARE_ABS#/}; acc=""
    IFS=/ read -ra parts <<<"$p"
    for ((i=0; i<${#parts[@]}-1; i++)); do acc=${acc:+$acc/}${parts[$i]}; echo "$acc"; done
    (cd / && find "$p")
  } | (cd / && "$BUSYBOX" cpio -o -H newc 2>/dev/null) >>"$INITRD"
  pad4 "$INITRD"
fi

# -------------------------------------------------------------------- boot
APPEND="console=ttyS0 loglevel=3 panic=-1 rdinit=/init edd=off 8250.nr_uarts=1 tsc=reliable no_timer_check"
APPEND+=" i8042.noaux i8042.nokbd i8042.nopnp mitigations=off random.trust_cpu=on"
[ -z "$APPEND_EXTRA" ] || APPEND+=" $APPEND_EXTRA"
KERNEL_IMG=$KDIR/vmlinuz
[ "${IPVS_VM_PVH:-1}" = 0 ] || [ ! -f "$KDIR/vmlinux" ] || KERNEL_IMG=$KDIR/vmlinux
QARGS=(-name ipvs-vm -nodefaults -no-user-config -display none -vga none -nic none
       -no-reboot -m "$MEM" -smp "$SMP" -serial stdio
       -kernel "$KERNEL_IMG" -initrd "$INITRD" -append "$APPEND")
[ ! -f /usr/share/qemu/qboot.rom ] || QARGS+=(-bios qboot.rom)
if [ "$SHARE_MODE" = 9p ]; then
  ro=",readonly=on"; [ "$SHARE_RW" = 1 ] && ro=""
  QARGS+=(-virtfs "local,path=${SHARE_ABS//,/,,},mount_tag=ipvsvm,security_model=none,multidevs=remap$ro")
fi

# Accelerator candidates. Some hosts reject MSR 0x10a (arch-capabilities) for
# -cpu host (nested virt), so that variant is tried next; TCG last.
ACCEL_KEY=$( { uname -r; "$QEMU" --version | head -n1; } | sha256sum | cut -c1-12)
ACCEL_FILE=$CACHE/accel-$ACCEL_KEY
CANDS=()
kvm_ok=0; [ -r /dev/kvm ] && [ -w /dev/kvm ] && kvm_ok=1
if [ "$ACCEL" != tcg ]; then
  if [ $kvm_ok = 1 ]; then
    [ ! -f "$ACCEL_FILE" ] || CANDS+=("$(cat "$ACCEL_FILE")")
    for c in "kvm host" "kvm host,-arch-capabilities" "kvm max,-arch-capabilities"; do
      [[ " ${CANDS[*]-} " == *" $c "* ]] || CANDS+=("$c")
    done
  elif [ "$ACCEL" = kvm ]; then die "--accel kvm but /dev/kvm is not usable"
  else vlog "/dev/kvm not usable; using TCG (slow)"; fi
fi
[ "$ACCEL" = kvm ] || CANDS+=("tcg max")
[ "$ACCEL" = tcg ] && CANDS=("tcg max")

CONSOLE=$RUN/console.log
STATUS=$RUN/status
FILTER='
BEGIN { inside = 0; endm = "===IPVS-VM-" nonce "-EXIT "; beginm = "===IPVS-VM-" nonce "-BEGIN===" }
{
  sub(/\r$/, "")
  print > logf; fflush(logf)
  if (!inside) {
    if ($0 == beginm) { inside = 1; next }
    i = index($0, endm)
    if (i > 0) { rest = substr($0, i + length(endm)); sub(/===$/, "", rest); print rest > statusf; close(statusf); next }
    if (verbose || $0 ~ /^ipvs-vm\[init\]: (warning|ERROR)/) { print > "/dev/stderr"; fflush("/dev/stderr") }
    next
  }
  i = index($0, endm)
  if (i > 0) {
    pre = substr($0, 1, i - 1); rest = substr($0, i + length(endm)); sub(/===$/, "", rest)
    if (pre != "") { printf "%s\n", pre; fflush() }
    print rest > statusf; close(statusf); inside = 0; next
  }
  print; fflush()
}'

qrc=0; used=""; t0=0; t1=0; ci=0
while [ $ci -lt ${#CANDS[@]} ]; do
  cand=${CANDS[$ci]}; ci=$((ci + 1))
  acc=${cand%% *}; cpu=${cand#* }
  : >"$CONSOLE"; rm -f "$STATUS" "$RUN/qemu.pid" "$RUN/bootslow"
  vlog "booting ($acc, -cpu $cpu, timeout ${TIMEOUT}s)"
  t0=$(date +%s.%N)
  wd=""
  if [ "$acc" = kvm ] && [ "$ACCEL" = auto ]; then
    # Watchdog: some /dev/kvm implementations (e.g. software nested ones)
    # accept a stock kernel but run it hundreds of times slower than TCG.
    # If init has not said hello after KVM_BOOT_WAIT s, give up on KVM.
    (
      sleep "$KVM_BOOT_WAIT"
      if ! grep -q '^ipvs-vm\[init\]: kernel ' "$CONSOLE" 2>/dev/null; then
        touch "$RUN/bootslow"
        [ ! -f "$RUN/qemu.pid" ] || kill "$(cat "$RUN/qemu.pid")" 2>/dev/null
      fi
    ) &
    wd=$!
  fi
  rm -f "$RUN/qemu.rc"
  # Run in the background and 'wait', so that INT/TERM traps fire at once.
  {
    ( set +e
      timeout --foreground -k 5 "$TIMEOUT" "$QEMU" "${QARGS[@]}" -accel "$acc" -cpu "$cpu" \
        -pidfile "$RUN/qemu.pid" </dev/null 2>"$RUN/qemu.err"
      echo $? >"$RUN/qemu.rc" ) 2>/dev/null |
      awk -v nonce="$NONCE" -v logf="$CONSOLE" -v statusf="$STATUS" -v verbose="$VERBOSE" "$FILTER"
  } &
  VM_JOB=$!
  wait "$VM_JOB" || true
  VM_JOB=""
  if [ -n "$wd" ]; then kill "$wd" 2>/dev/null || true; wait "$wd" 2>/dev/null || true; fi
  qrc=$(cat "$RUN/qemu.rc" 2>/dev/null || echo 125); used=$cand
  t1=$(date +%s.%N)
  if [ -f "$RUN/bootslow" ] && [ ! -f "$STATUS" ]; then
    log "note: KVM did not boot the kernel within ${KVM_BOOT_WAIT}s (unusable /dev/kvm?); falling back to TCG"
    echo "tcg max" >"$ACCEL_FILE" 2>/dev/null || true
    CANDS=("tcg max"); ci=0; continue
  fi
  # retry with the next candidate only if the VM never produced any output
  if [ "$qrc" != 0 ] && [ "$qrc" != 124 ] && [ ! -s "$CONSOLE" ] && [ ! -f "$STATUS" ]; then
    vlog "qemu ($cand) failed early: $(head -n2 "$RUN/qemu.err" | tr '\n' ' ')"
    continue
  fi
  break
done
vlog "VM ran $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s with $used"
# remember what worked (only when we chose it ourselves)
if [ -f "$STATUS" ] && [ "$ACCEL" = auto ]; then echo "$used" >"$ACCEL_FILE" 2>/dev/null || true; fi
[ -z "$LOGFILE" ] || cp "$CONSOLE" "$LOGFILE"

if [ -f "$STATUS" ]; then
  rc=$(cat "$STATUS")
  case $rc in ''|*[!0-9]*) die "garbled exit status line from the VM: $rc" ;; esac
  exit "$rc"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  log "error: VM timed out after ${TIMEOUT}s (accel: $used); last console lines:"
  tail -n 20 "$CONSOLE" >&2
  exit 124
fi
log "error: VM ended without reporting an exit status (qemu exit $qrc, accel: $used)"
tail -n 30 "$CONSOLE" >&2
[ ! -s "$RUN/qemu.err" ] || { echo "--- qemu stderr:" >&2; tail -n 10 "$RUN/qemu.err" >&2; }
exit 125
}
