#!/usr/bin/env bash
# Builds the Debian bookworm guest image of the VM harness into OUT (a new directory):
#   vmlinux         Debian's kernel, uncompressed from its bzImage (qemu boots the ELF through its PVH
#                   entry: no decompression under software emulation)
#   initramfs.cpio  busybox and the modules that reach the root disk (initramfs-init)
#   root.img        sparse raw ext4 root file system (debootstrap minbase + packages.txt, stripped)
#   manifest.txt    kernel version and installed packages
# BLOCKYARD_VM_ZFS=1 adds ZFS (packages-zfs.txt; the module built by DKMS in the chroot, minutes), 0
# leaves it out. The harness (integration/harness/image.ts) names OUT after a hash of this directory's
# files and of that option, and runs this only when no image with that hash exists. Needs root and the
# host packages in integration/README.md.
# The Debian mirror is the host's own (its apt sources), or BLOCKYARD_VM_MIRROR.
set -euo pipefail

OUT=${1:?usage: build.sh OUT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$(dirname "$OUT")
DEBS=$CACHE/debs
SUITE=bookworm
ZFS=${BLOCKYARD_VM_ZFS:?the harness passes BLOCKYARD_VM_ZFS (1 or 0)}
ROOT_SIZE=2G

[ "$(id -u)" = 0 ] || { echo "build.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
for tool in debootstrap mkfs.ext4 busybox cpio cc zstd xz; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing: see integration/README.md" >&2; exit 1; }
done
mkdir -p "$CACHE"
# One build at a time per cache; a build that waited finds the image already there.
exec 9>"$CACHE/.lock"
flock 9
if [ -e "$OUT" ]; then echo "build.sh: $OUT already built"; exit 0; fi

mirror() {
  if [ -n "${BLOCKYARD_VM_MIRROR:-}" ]; then echo "$BLOCKYARD_VM_MIRROR"; return; fi
  local f uri
  # deb822 sources: the URIs of the first stanza whose Suites has the plain suite name.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      function flush() { if (uri != "" && ok && !done) { print uri; done = 1 } uri = ""; ok = 0 }
      /^[[:space:]]*$/ { flush() }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { flush() }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  # One-line sources (options in brackets skipped).
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v suite="$SUITE" '{ sub(/\[[^]]*\] */, "") } $1 == "deb" && $3 == suite && !done { print $2; done = 1 }') || true
  if [ -n "$uri" ]; then echo "$uri"; return; fi
  echo "build.sh: no Debian $SUITE mirror in the host's apt sources; set BLOCKYARD_VM_MIRROR" >&2
  return 1
}
MIRROR=$(mirror)

WORK=$(mktemp -d "$CACHE/build.XXXXXX")
ROOT=$WORK/root
# Whatever is still mounted under WORK (ours, or debootstrap's own on a failure) is detached before WORK
# is removed, and rm stays on WORK's file system: a bind mount must never be deleted through.
cleanup() {
  local m
  awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
bind() { mount "$@"; }

step_start=$SECONDS
step() { echo "build.sh: $* (+$((SECONDS - step_start)) s)"; }

mkdir -p "$DEBS"
step "debootstrap $SUITE minbase from $MIRROR"
debootstrap --variant=minbase --cache-dir="$DEBS" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }

step "packages"
bind -t proc proc "$ROOT/proc"
bind -t sysfs sysfs "$ROOT/sys"
bind --bind "$DEBS" "$ROOT/var/cache/apt/archives"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
mapfile -t pkgs < <(grep -v '^\s*#' "$HERE/packages.txt" | grep .)
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update -qq >"$WORK/apt.log" 2>&1 &&
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
    apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$WORK/apt.log" 2>&1 ||
  { tail -n 30 "$WORK/apt.log" >&2; exit 1; }
KVER=$(ls "$ROOT/lib/modules" | sort -V | tail -n1)
if [ "$ZFS" = 1 ]; then
  step "zfs (DKMS builds the module for $KVER)"
  # contrib in the guest's own sources only: the host's apt sources are never changed.
  sed -i -E 's/^(deb .* '"$SUITE"' main)$/\1 contrib/' "$ROOT/etc/apt/sources.list"
  grep -q ' contrib$' "$ROOT/etc/apt/sources.list" || { echo "build.sh: could not enable contrib" >&2; exit 1; }
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update -qq >>"$WORK/apt.log" 2>&1 ||
    { tail -n 30 "$WORK/apt.log" >&2; exit 1; }
  while read -r -a line; do
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
      apt-get install -y -q --no-install-recommends "${line[@]}" </dev/null >>"$WORK/apt.log" 2>&1 ||
      { tail -n 30 "$WORK/apt.log" >&2; exit 1; }
  done < <(grep -v '^\s*#' "$HERE/packages-zfs.txt" | grep .)
  # zfs-dkms's postinst builds for the kernels whose headers it finds; the chroot's `uname -r` is the
  # host's, so the image's kernel is named explicitly when that build did not happen.
  zko() { find "$ROOT/lib/modules/$KVER/updates" -name 'zfs.ko*' 2>/dev/null | grep -q .; }
  zko || chroot "$ROOT" dkms autoinstall -k "$KVER" </dev/null >>"$WORK/apt.log" 2>&1 || true
  zko || { tail -n 30 "$WORK/apt.log" >&2; echo "build.sh: DKMS built no zfs.ko for $KVER" >&2; exit 1; }
  # The module is built: its sources, the headers and DKMS's build tree are dead weight in the image.
  rm -rf "$ROOT"/usr/src/* "$ROOT"/var/lib/dkms/*/*/build
fi
rm -f "$ROOT/usr/sbin/policy-rc.d"
chroot "$ROOT" dpkg-query -W -f '${Package} ${Version}\n' >"$WORK/packages.list"

step "kernel $KVER: vmlinux"
# bzImage setup header (Documentation/arch/x86/boot.rst, protocol >= 2.08): setup_sects at 0x1f1, the
# compressed payload's offset and length at 0x248/0x24c, relative to the protected-mode code.
bz=$ROOT/boot/vmlinuz-$KVER
u8() { od -An -tu1 -j "$1" -N1 "$bz" | tr -d ' '; }
u32() { od -An -tu4 -j "$1" -N4 "$bz" | tr -d ' '; }
setup_sects=$(u8 $((0x1f1)))
[ "$setup_sects" != 0 ] || setup_sects=4
payload_off=$(( (setup_sects + 1) * 512 + $(u32 $((0x248))) ))
payload_len=$(u32 $((0x24c)))
dd if="$bz" of="$WORK/payload" iflag=skip_bytes,count_bytes bs=1M skip="$payload_off" count="$payload_len" status=none
magic=$(od -An -tx1 -N6 "$WORK/payload" | tr -d ' \n')
# The kernel appends the uncompressed size after the stream: decompressors may complain about the
# trailing bytes, so success is judged by the result (an ELF file) rather than their exit status.
case $magic in
  fd377a585a00) xz -dc --single-stream "$WORK/payload" >"$WORK/vmlinux" || true ;;
  28b52ffd*) zstd -dcq "$WORK/payload" >"$WORK/vmlinux" 2>/dev/null || true ;;
  1f8b*) gzip -dc "$WORK/payload" >"$WORK/vmlinux" 2>/dev/null || true ;;
  *) echo "build.sh: unknown kernel compression (magic $magic)" >&2; exit 1 ;;
esac
[ "$(od -An -tx1 -N4 "$WORK/vmlinux" | tr -d ' \n')" = 7f454c46 ] ||
  { echo "build.sh: $bz did not decompress to an ELF vmlinux" >&2; exit 1; }

step "initramfs"
IR=$WORK/initramfs
mkdir -p "$IR/bin" "$IR/modules"
cp /bin/busybox "$IR/bin/busybox"
cp "$HERE/initramfs-init" "$IR/init"
chmod 755 "$IR/init"
# Load order from modprobe itself; crc32c_generic is a soft dependency of ext4 that it does not print.
chroot "$ROOT" modprobe --show-depends -S "$KVER" -a virtio_pci virtio_blk crc32c_generic ext4 |
  awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' >"$WORK/modules.order"
: >"$IR/modules/order"
while read -r ko; do
  base=$(basename "$ko")
  case $base in
    *.ko.xz) xz -dc "$ROOT$ko" >"$IR/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -dcq "$ROOT$ko" >"$IR/modules/${base%.zst}"; base=${base%.zst} ;;
    *) cp "$ROOT$ko" "$IR/modules/$base" ;;
  esac
  echo "$base" >>"$IR/modules/order"
done <"$WORK/modules.order"
(cd "$IR" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) >"$WORK/initramfs.cpio"

step "guest init, agent, strip"
cc -static -Os -Wall -Wextra -Werror -o "$ROOT/sbin/blockyard-agent" "$HERE/agent.c"
install -m 755 "$HERE/init" "$ROOT/sbin/blockyard-init"
install -m 644 "$HERE/modprobe.conf" "$ROOT/etc/modprobe.d/blockyard.conf"
# The satellite runs in the guest on the host's own Node (same Debian glibc): the harness passes its
# binary, and the image's hash covers its version.
install -m 755 "${BLOCKYARD_VM_NODE:?the harness passes the node binary}" "$ROOT/usr/local/bin/node"
umount -l "$ROOT/var/cache/apt/archives"
rm -rf "$ROOT"/usr/share/{doc,man,info,locale,lintian,bash-completion} "$ROOT"/var/lib/apt/lists/* \
  "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/log/* "$ROOT"/boot/*
# Modules: block, device-mapper, DRBD, virtio, file systems, networking (bridges, netem) are kept;
# hardware the VM does not have, and the CPU-feature crypto that udev would load and self-test, go.
MOD=$ROOT/lib/modules/$KVER/kernel
rm -rf "$MOD"/{arch,sound,samples}
for d in "$MOD"/drivers/*; do
  case ${d##*/} in block | md | virtio | net | char | dax | nvdimm) ;; *) rm -rf "$d" ;; esac
done
rm -rf "$MOD"/drivers/net/{wireless,ethernet,usb,can,wwan,ieee802154,hamradio,arcnet,fddi,plip,ppp,slip,wan,ipa,dsa,hyperv,xen-netback,thunderbolt,vmxnet3,fjes}
rm -rf "$MOD"/net/{wireless,bluetooth,mac80211,mac802154,ieee802154,nfc,rfkill,can,6lowpan,atm,sunrpc,ceph,rds,tipc,batman-adv}
rm -rf "$MOD"/fs/{nfs,nfsd,nfs_common,lockd,smb,cifs,ceph,ocfs2,gfs2,dlm,ntfs3,reiserfs,jfs,nilfs2,f2fs,ubifs,orangefs,afs,coda,hfs,hfsplus,ufs}
chroot "$ROOT" depmod -a "$KVER"
umount -l "$ROOT/proc" "$ROOT/sys"

step "root.img"
truncate -s "$ROOT_SIZE" "$WORK/root.img"
mkfs.ext4 -q -F -L blockyard-root -d "$ROOT" "$WORK/root.img"
{
  echo "kernel $KVER"
  echo "mirror $MIRROR"
  echo "root used $(du -sm "$ROOT" | cut -f1) MiB"
  cat "$WORK/packages.list"
} >"$WORK/manifest.txt"

mkdir "$WORK/out"
mv "$WORK/vmlinux" "$WORK/initramfs.cpio" "$WORK/root.img" "$WORK/manifest.txt" "$WORK/out/"
chmod 444 "$WORK/out/root.img"
mv -T "$WORK/out" "$OUT"
step "done: $OUT"
