#!/usr/bin/env bash
# Names the node's COUNT empty data disks /dev/blockyard/data0, data1, … whatever the provider calls them
# (libvirt: virtio disks with serial dataN; VirtualBox: SATA disks with serials it makes up). A udev rule
# per disk keyed by its serial keeps the names across power cycles. Runs before anything has written to
# the disks: a candidate is a whole disk with no partitions, no signature and no mount. Run again, it
# only checks the names it made.
set -euo pipefail
COUNT=${1:?usage: disks.sh COUNT}
RULES=/etc/udev/rules.d/61-blockyard-data.rules

names_ok() {
  local i
  for ((i = 0; i < COUNT; i++)); do [ -b "/dev/blockyard/data$i" ] || return 1; done
}

if [ -f "$RULES" ] && names_ok; then
  echo "disks.sh: /dev/blockyard/data0..$((COUNT - 1)) already named"
  exit 0
fi

candidates=()
# Kernel names follow the order the disks are attached in (vdb, vdc, …; sdb, sdc, …), which is the
# order of the sizes in the Vagrantfile.
while read -r dev type; do
  [ "$type" = disk ] || continue
  [ "$(lsblk -nro NAME "$dev" | wc -l)" = 1 ] || continue # partitions or holders
  [ -z "$(lsblk -nro MOUNTPOINTS "$dev")" ] || continue
  wipefs "$dev" 2>/dev/null | grep -q . && continue # a file system, LVM, ZFS, DRBD, a table…
  candidates+=("$dev")
done < <(lsblk -dnpo NAME,TYPE | sort -V)

if [ "${#candidates[@]}" != "$COUNT" ]; then
  echo "disks.sh: expected $COUNT empty data disks, found ${#candidates[@]}: ${candidates[*]:-none}" >&2
  lsblk >&2
  exit 1
fi

tmp=$(mktemp)
for i in "${!candidates[@]}"; do
  dev=${candidates[$i]}
  serial=$(udevadm info --query=property --name="$dev" | sed -n 's/^ID_SERIAL=//p')
  [ -n "$serial" ] || { echo "disks.sh: $dev has no serial to name it by" >&2; exit 1; }
  printf 'SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", ENV{ID_SERIAL}=="%s", SYMLINK+="blockyard/data%d"\n' "$serial" "$i" >>"$tmp"
  echo "disks.sh: $dev (serial $serial) is /dev/blockyard/data$i"
done
install -m 0644 "$tmp" "$RULES"
rm -f "$tmp"
udevadm control --reload
udevadm trigger --subsystem-match=block --action=change
udevadm settle
names_ok || { echo "disks.sh: udev did not make /dev/blockyard/data*" >&2; ls -l /dev/blockyard >&2 || true; exit 1; }
