#!/usr/bin/env bash
# What a Vagrant node runs, on Ubuntu 24.04 (README.md says why this distribution):
#   - the guest packages of the qemu image (integration/image/packages.txt: one list for both harnesses),
#     less the two that only serve the qemu image's own boot: Debian's kernel package and tiny-initramfs
#     (which would replace the box's initramfs-tools);
#   - ZFS: Ubuntu's kernel carries the module, zfsutils-linux (main) the tools;
#   - DRBD 9: drbd-dkms and drbd-utils from LINBIT's PPA, a vendor repository (Ubuntu's kernel has only
#     DRBD 8.4); DKMS builds the module for the running kernel, hence its headers. drbd-utils must be
#     9.28 or later on this kernel (LINBIT's DRBD 9.2.9 notes: drbdsetup reorders the netlink messages
#     that Linux 6.8 delivers out of order); Ubuntu's own is older, the PPA's wins;
#   - the kernel's extra modules: a cloud image has only the base set, and device-mapper targets the
#     storage layers load (thin pool, cache, writecache, crypt) may be among the extra ones.
# It then loads the modules and fails unless DRBD reports version 9.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SHARED_LIST=/project/integration/image/packages.txt
QEMU_BOOT_ONLY=(linux-image-amd64 tiny-initramfs)

# shellcheck source=/dev/null
. /etc/os-release
[ "$ID" = ubuntu ] || { echo "packages.sh: written for Ubuntu, this box is $PRETTY_NAME: see vagrant/README.md" >&2; exit 1; }
[ -r "$SHARED_LIST" ] || { echo "packages.sh: $SHARED_LIST is missing: provision/project.sh runs first" >&2; exit 1; }

# A test node changes only when it is provisioned: no background upgrades (they would also hold the
# dpkg lock this script needs, and could install a kernel DKMS has not built for).
if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || true; fi
systemctl disable --now unattended-upgrades.service apt-daily.timer apt-daily-upgrade.timer 2>/dev/null || true
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600)

"${APT[@]}" update
"${APT[@]}" install --no-install-recommends software-properties-common
add-apt-repository -y ppa:linbit/linbit-drbd9-stack

mapfile -t shared < <(grep -v '^[[:space:]]*#' "$SHARED_LIST" | grep . | grep -vxF "${QEMU_BOOT_ONLY[@]/#/-e}")
"${APT[@]}" install --no-install-recommends "${shared[@]}" \
  zfsutils-linux "linux-modules-extra-$(uname -r)" "linux-headers-$(uname -r)" dkms build-essential drbd-dkms drbd-utils

for module in zfs drbd dm_thin_pool dm_cache dm_writecache dm_crypt; do modprobe "$module"; done
drbd_version=$(cat /sys/module/drbd/version)
case $drbd_version in
  9.*) ;;
  *) echo "packages.sh: the drbd module loaded is $drbd_version, not DRBD 9 (did DKMS build it?)" >&2; exit 1 ;;
esac
utils_version=$(dpkg-query -W -f '${Version}' drbd-utils)
dpkg --compare-versions "$utils_version" ge 9.28 ||
  { echo "packages.sh: drbd-utils $utils_version is older than 9.28 (is LINBIT's PPA there?)" >&2; exit 1; }
echo "packages.sh: kernel $(uname -r), DRBD $drbd_version, drbd-utils $utils_version, $(zfs version | head -n1)"
