#!/bin/sh
# Install (as root on Debian/Ubuntu) or name (otherwise) the packages a make target needs.
# usage: scripts/deps.sh [--list] build|check|demo|fuzz|e2e|bench
#   --list only prints the target's package list (for CI's apt-get install line).
# Exit status: 0 everything present (or just installed), 1 something is missing.
set -eu

list_only=
if [ "${1:-}" = "--list" ]; then
	list_only=1
	shift
fi

BUILD_PKGS="make gcc libc6-dev pkg-config libglib2.0-dev libostree-dev libarchive-dev
	libssl-dev libzstd-dev liblzma-dev libudev-dev libjson-glib-dev"
# ostree/openssl/tar/xxd/prove drive the integration tests; mkfs.* and losetup make stick and
# sysroot images; udevadm and systemd-analyze check the rule and units.
CHECK_PKGS="$BUILD_PKGS g++ ostree openssl tar xz-utils zstd xxd perl util-linux mount
	e2fsprogs dosfstools exfatprogs udev systemd clang-format python3 gdb"
FUZZ_PKGS="$BUILD_PKGS clang libclang-rt-14-dev tar"
DEMO_PKGS="$BUILD_PKGS ostree e2fsprogs util-linux mount"
# e2e (tests/e2e): debootstrap builds the guest; QEMU boots it with Debian's U-Boot or extlinux;
# sfdisk (fdisk) lays out disks and sticks, mtools fills and reads FAT sticks without mounting.
E2E_PKGS="$CHECK_PKGS debootstrap qemu-system-x86 qemu-utils u-boot-qemu u-boot-tools
	syslinux-common extlinux parted python3 fdisk mtools"
BENCH_PKGS="$CHECK_PKGS debootstrap time"

case "${1:-build}" in
build) want=$BUILD_PKGS ;;
check) want=$CHECK_PKGS ;;
demo) want=$DEMO_PKGS ;;
fuzz) want=$FUZZ_PKGS ;;
e2e) want=$E2E_PKGS ;;
bench) want=$BENCH_PKGS ;;
*) echo "usage: $0 build|check|demo|fuzz|e2e|bench" >&2; exit 2 ;;
esac

if [ -n "$list_only" ]; then
	echo $want
	exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	# Not Debian: the build itself names missing pkg-config modules precisely.
	echo "deps: not a Debian-like system; install the equivalents of: $(echo $want)" >&2
	exit 0
fi

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	exit 0
fi

echo "deps: missing packages:$missing" >&2
echo "deps: install them with: sudo apt-get install -y$missing" >&2
exit 1
