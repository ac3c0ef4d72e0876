#!/bin/bash
# mkdisk.sh REPO V1 OUTDIR BOOTLOADER...: for each BOOTLOADER (uboot, syslinux,
# provisioned-syslinux), a raw disk image OUTDIR/v1-BOOTLOADER.img: one MBR partition (ext4, label
# "root", bootable) holding an OSTree sysroot with V1 of $E2E_REF deployed as stateroot $E2E_OS,
# and the bootloader reading what libostree wrote:
#   uboot:    sysroot.bootloader=uboot; /boot/boot.scr (boot.cmd) imports /boot/loader/uEnv.txt;
#             QEMU boots Debian's u-boot-qemu as its BIOS.
#   syslinux: sysroot.bootloader=syslinux; extlinux in /boot/syslinux, whose syslinux.cfg is
#             libostree's symlink into /boot/loader; syslinux's MBR; QEMU's SeaBIOS.
#   provisioned-syslinux: as a factory station makes it: the blank filesystem laid out by
#             `ostick-apply provision --bootloader syslinux` from REPO/../bundles/full-v1.ostick
#             (with the guest's REPO/../ostick.conf as --device-config and the test key as
#             --keyring), then extlinux, its modules and the MBR as for syslinux.
# Every `ostree admin` here works on the image's loop-mounted filesystem: libostree syncs and
# freezes the filesystem holding /boot, which must never be the host's.
source "$(dirname "$0")/lib.sh"

repo=$(realpath "${1:?usage: mkdisk.sh REPO V1 OUTDIR BOOTLOADER...}")
v1=${2:?}
out=$(realpath -m "${3:?}")
shift 3
DISK_SIZE=3G
KARGS=(root=LABEL=root rw "console=ttyS0,115200" quiet loglevel=3 panic=-1)
SYSLINUX_MODULES=/usr/lib/syslinux/modules/bios
run=$(dirname "$repo")
mkdir -p "$out"

# blank_disk IMG MNT: a new disk image IMG with one bootable partition, formatted ext4 and
# mounted at MNT (undone by the exit trap).
blank_disk() {
	local img=$1 mnt=$2
	rm -f "$img"
	truncate -s "$DISK_SIZE" "$img"
	printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$img"
	attach_image "$img"
	# No 64bit feature: extlinux cannot install on it.
	mkfs.ext4 -q -L root -O ^64bit "${LOOP}p1"
	mount_here "${LOOP}p1" "$mnt"
}

# A disk with the sysroot and V1 in its repo, not deployed yet (common to every bootloader).
prepare() {
	local img=$1 mnt=$out/mnt
	log "a sysroot with v1 in its repo"
	blank_disk "$img" "$mnt"
	ostree admin init-fs "$mnt"
	ostree admin --sysroot="$mnt" os-init "$E2E_OS"
	ostree --repo="$mnt/ostree/repo" pull-local "$repo" "$v1"
	ostree --repo="$mnt/ostree/repo" refs --create="$E2E_REF" "$v1"
	_run_cleanups
}

# The loader directory libostree swaps (boot/loader -> loader.0), with the config file the
# backend edits; libostree's first deploy fails without it.
loader_dir() {
	local mnt=$1 file=$2
	mkdir -p "$mnt/boot/loader.0"
	ln -s loader.0 "$mnt/boot/loader"
	cat >"$mnt/boot/loader.0/$file"
}

# extlinux's own lines: libostree keeps lines outside its LABELs and regenerates DEFAULT. Its
# DEFAULT names the title ("Debian GNU/Linux 12 (bookworm) (ostree:0)"), which syslinux cannot
# look up (labels end at the first space); the menu then starts its first entry, which libostree
# orders first: the default.
syslinux_header() {
	cat <<-'EOF'
		SERIAL 0 115200
		UI menu.c32
		PROMPT 0
		TIMEOUT 10
		MENU TITLE ostick e2e (libostree writes the entries below)
	EOF
}

# extlinux in /boot/syslinux (its syslinux.cfg: libostree's link into /boot/loader), the menu's
# modules, syslinux's MBR on $LOOP.
install_extlinux() {
	local mnt=$1
	extlinux --install "$mnt/boot/syslinux"
	cp "$SYSLINUX_MODULES"/{menu,libutil,libcom32}.c32 "$mnt/boot/syslinux/"
	dd if=/usr/lib/syslinux/mbr/mbr.bin of="$LOOP" bs=440 count=1 conv=notrunc status=none
	cat "$mnt/boot/syslinux/syslinux.cfg"
}

# The factory's way: blank storage laid out by `ostick-apply provision` from the full bundle.
provision() {
	local img=$1 mnt=$out/mnt karg cfg
	local args=(--sysroot "$mnt" --os "$E2E_OS" --bootloader syslinux
		--compatible "$E2E_COMPATIBLE" --keyring "$out/keyring.d"
		--device-config "$run/ostick.conf")
	for karg in "${KARGS[@]}"; do args+=(--karg "$karg"); done
	log "provisioned-syslinux: ostick-apply provision, install the bootloader"
	: "${OSTICK_BUILDDIR:?run through make e2e}"
	rm -rf "$out/keyring.d"
	mkdir -p "$out/keyring.d"
	cp "$KEYS/test-ed25519.pub.pem" "$out/keyring.d/"
	blank_disk "$img" "$mnt"
	"$OSTICK_BUILDDIR/ostick-apply" provision --progress=none "${args[@]}" \
		"$run/bundles/full-v1.ostick"
	ostree admin --sysroot="$mnt" status
	# provision leaves boot/loader/syslinux.cfg as libostree wrote it from an empty one:
	# extlinux's lines go above the entries, where the syslinux disk has them after its deploy.
	cfg=$mnt/boot/loader/syslinux.cfg
	[ -f "$cfg" ] && [ "$(readlink "$mnt/boot/syslinux/syslinux.cfg")" = ../loader/syslinux.cfg ] ||
		die "provision wrote no boot/loader/syslinux.cfg behind boot/syslinux/syslinux.cfg"
	{ syslinux_header; cat "$cfg"; } >"$cfg.new"
	mv "$cfg.new" "$cfg"
	install_extlinux "$mnt"
	_run_cleanups
}

deploy() {
	local bootloader=$1 img=$2 mnt=$out/mnt karg
	log "$bootloader: deploy v1, install the bootloader"
	attach_image "$img"
	mount_here "${LOOP}p1" "$mnt"
	ostree --repo="$mnt/ostree/repo" config set sysroot.bootloader "$bootloader"
	case $bootloader in
	uboot) loader_dir "$mnt" uEnv.txt </dev/null ;;
	syslinux)
		syslinux_header | loader_dir "$mnt" syslinux.cfg
		mkdir -p "$mnt/boot/syslinux"
		ln -s ../loader/syslinux.cfg "$mnt/boot/syslinux/syslinux.cfg"
		;;
	esac
	local args=()
	for karg in "${KARGS[@]}"; do args+=("--karg=$karg"); done
	ostree admin --sysroot="$mnt" deploy --os="$E2E_OS" "${args[@]}" "$E2E_REF"
	ostree admin --sysroot="$mnt" status
	case $bootloader in
	uboot)
		mkimage -A x86 -O linux -T script -C none -n "ostick e2e: uEnv.txt" \
			-d "$E2E_DIR/boot.cmd" "$mnt/boot/boot.scr" >/dev/null
		cat "$mnt/boot/loader/uEnv.txt"
		;;
	syslinux) install_extlinux "$mnt" ;;
	esac
	_run_cleanups
}

for bootloader in "$@"; do
	case $bootloader in
	uboot | syslinux)
		[ -f "$out/prepared.img" ] || prepare "$out/prepared.img"
		cp --sparse=always "$out/prepared.img" "$out/v1-$bootloader.img"
		deploy "$bootloader" "$out/v1-$bootloader.img"
		;;
	provisioned-syslinux) provision "$out/v1-$bootloader.img" ;;
	*) die "unknown bootloader $bootloader" ;;
	esac
done
rm -f "$out/prepared.img"
