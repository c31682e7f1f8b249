#!/bin/sh
# Installs what tests/ipvs_vm/run.sh needs on a Debian host (idempotent: does
# nothing when everything is already there). Called by tests/ipvs.rs.
set -eu
need=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
{ [ -x /bin/busybox ] || [ -x /usr/bin/busybox ]; } || need="$need busybox-static"
command -v dpkg-deb >/dev/null 2>&1 || need="$need dpkg"
[ -n "$need" ] || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: missing packages:$need (run as root: apt-get install$need)" >&2
  exit 1
fi
echo "setup.sh: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need xz-utils >&2
