#!/usr/bin/env bash
# The project tree at /project, read-only, where the qemu guests have it too (GUEST_PROJECT_DIR in
# integration/harness/cluster.ts; bundleForGuest returns paths under it). rsync writes the copy COPY
# (Vagrantfile); /project is a read-only bind mount of it, so nothing in a node can change the tree the
# host made, while a later `vagrant rsync` still updates it. The fstab line brings it back after a
# power cycle.
set -euo pipefail
COPY=${1:?usage: project.sh COPY_DIR}

[ -d "$COPY" ] || { echo "project.sh: $COPY is missing: the rsync synced folder did not run" >&2; exit 1; }
mkdir -p /project
grep -qE "^[^#[:space:]]+[[:space:]]+/project[[:space:]]" /etc/fstab ||
  printf '%s /project none bind,ro 0 0\n' "$COPY" >>/etc/fstab
mountpoint -q /project || mount /project
if touch /project/.blockyard-write-check 2>/dev/null; then
  rm -f /project/.blockyard-write-check
  echo "project.sh: /project is writable; it must be a read-only bind mount of $COPY" >&2
  exit 1
fi
