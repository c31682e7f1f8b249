#!/bin/sh
# tests/systemd_vm/stage-ours.sh BINARY DEST - lays out our install as files under DEST
# (usr/sbin/keepalived, the unit in lib/systemd/system), the way a package installs them,
# for guest.sh to copy over Debian's keepalived 2.2.7. Kept apart so the VM test can switch
# to unpacking the project's .deb once one is built in CI.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 BINARY DEST" >&2; exit 2; }
bin=$1 dest=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dest/usr/sbin" "$dest/lib/systemd/system"
# debug symbols are most of a debug build's size; the VM does not need them
if command -v objcopy >/dev/null 2>&1; then
  objcopy --strip-debug "$bin" "$dest/usr/sbin/keepalived"
else
  cp "$bin" "$dest/usr/sbin/keepalived"
fi
chmod 755 "$dest/usr/sbin/keepalived"
cp "$top/contrib/systemd/keepalived.service" "$dest/lib/systemd/system/keepalived.service"
