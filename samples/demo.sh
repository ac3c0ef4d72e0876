#!/bin/bash
# make demo: the whole job on a built-in sample, end to end.
#   keys -> two sample root filesystems -> a full and a delta bundle -> inspect and verify ->
#   a scratch device sysroot on its own loop filesystem (U-Boot style) -> install v1 -> a local
#   /etc change -> install v2 from a pipe -> status -> what is refused, and why.
# usage: samples/demo.sh WORKDIR   (needs OSTICK_BUILDDIR; root for the device half)
set -euo pipefail
work=$1
: "${OSTICK_BUILDDIR:?}"
src=$(cd "$(dirname "$0")/.." && pwd)
B=$OSTICK_BUILDDIR/ostick-bundle
A=$OSTICK_BUILDDIR/ostick-apply
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

rm -rf "$work"
mkdir -p "$work"
cd "$work"

step "A signing key pair (keep the .key.pem secret; devices get the .pub.pem)"
run "$B" keygen -o demo
mkdir -p keyring && cp demo.pub.pem keyring/

step "Two versions of a sample root filesystem (kernel in /usr/lib/modules, defaults in /etc)"
"$src/samples/make-rootfs.sh" 1.0 rootfs-1.0
"$src/samples/make-rootfs.sh" 2.0 rootfs-2.0
echo "rootfs-1.0 and rootfs-2.0: $(du -sh rootfs-1.0 | cut -f1) each"

step "Bundle 1.0: the whole tree (a factory or a blank device takes this one)"
run "$B" create --rootfs rootfs-1.0 --repo build-repo --ref demo/stable --version 1.0 \
	--compatible ostick-demo-board --key demo.key.pem -o demo-1.0.ostick
step "Bundle 2.0: only what changed since 1.0"
run "$B" create --rootfs rootfs-2.0 --repo build-repo --ref demo/stable --version 2.0 \
	--from demo/stable --compatible ostick-demo-board --key demo.key.pem -o demo-2.0.ostick
ls -l demo-1.0.ostick demo-2.0.ostick

step "What a bundle says, and whether it is authentic"
run "$B" inspect demo-2.0.ostick
run "$B" verify --keyring keyring demo-2.0.ostick
run tar tvf demo-2.0.ostick

if [ "$(id -u)" -ne 0 ]; then
	step "The device half needs root (a loop-mounted sysroot); stopping here"
	exit 0
fi

step "A scratch device: an OSTree sysroot on its own loop filesystem, U-Boot bootloader"
truncate -s 512M device.img
dev=$(losetup --find --show device.img)
cleanup() { umount "$work/device" 2>/dev/null || true; losetup -d "$dev" 2>/dev/null || true; }
trap cleanup EXIT
mkfs.ext4 -q "$dev"
mkdir -p device && mount "$dev" device
ostree admin init-fs device >/dev/null
ostree admin --sysroot=device os-init ostick-demo >/dev/null
ostree --repo=device/ostree/repo config set sysroot.bootloader uboot
sed "s|^keyring=.*|keyring=$work/keyring|; s|^#sysroot=.*|sysroot=$work/device|; s|^#os=.*|os=ostick-demo|" \
	"$src/samples/ostick.conf" > device.conf
echo "device config: device.conf (from samples/ostick.conf)"

step "Install 1.0 on the blank device"
run "$A" install --config device.conf demo-1.0.ostick
run "$A" status --config device.conf

step "A local change on the device: /etc/ostick-demo/demo.conf"
deploy1=$(ls -d device/ostree/deploy/ostick-demo/deploy/*.0)
echo "site=plant-7" >> "$deploy1/etc/ostick-demo/demo.conf"
cat "$deploy1/etc/ostick-demo/demo.conf"

step "Install 2.0 from a pipe (as a vendor transport would hand it over)"
run bash -c "cat demo-2.0.ostick | '$A' install --config device.conf -"
run "$A" status --config device.conf
echo "boot/loader/uEnv.txt (libostree's U-Boot configuration; *2 is the rollback):"
sed 's/^/    /' device/boot/loader/uEnv.txt
deploy2=$(ls -d device/ostree/deploy/ostick-demo/deploy/*.0 | grep -v "$(basename "$deploy1")")
echo "/etc/ostick-demo/demo.conf in 2.0 (the local line survived the 3-way merge):"
sed 's/^/    /' "$deploy2/etc/ostick-demo/demo.conf"
echo "version file in 2.0: $(cat "$deploy2/usr/share/ostick-demo/version")"

step "What the device refuses (exit codes: 0 ok, 3 not for this device, 4 not authentic)"
run "$A" install --config device.conf demo-2.0.ostick || true
"$A" install --config device.conf demo-1.0.ostick || echo "exit $? (downgrade refused)"
# One byte of the manifest changed ("version=2.0" becomes "version=2.1"): the signature fails.
LC_ALL=C sed 's/^version=2\.0$/version=2.1/' demo-2.0.ostick > tampered.ostick
{ cmp -l demo-2.0.ostick tampered.ostick || true; } | head -1 | sed 's/^/tampered byte (offset, old, new, octal): /'
"$A" install --config device.conf tampered.ostick || echo "exit $? (tampered bundle refused)"
"$A" install --config device.conf --compatible other-board demo-2.0.ostick ||
	echo "exit $? (wrong device refused)"
run "$A" status --config device.conf

step "Done: everything is in $work"
