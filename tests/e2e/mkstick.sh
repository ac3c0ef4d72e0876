#!/bin/bash
# mkstick.sh KIND IMG [DEST=FILE...]: a USB stick image holding FILEs (DEST is the path on the
# stick), made without mounting anything:
#   fat32: an MBR with one FAT32 partition (type 0c, what sticks ship with), filled with mtools;
#   ext4:  an ext4 filesystem on the whole disk, no partition table, filled by mkfs.ext4 -d.
# scenarios.py reads the result files back with mtools and debugfs, again without mounting.
source "$(dirname "$0")/lib.sh"

SIZE_MB=64
PART_OFFSET=1M

make_fat32() {
	local img=$1 spec dest
	shift
	truncate -s "${SIZE_MB}M" "$img"
	printf 'label: dos\nstart=2048, type=c\n' | sfdisk -q "$img"
	mkfs.vfat -F 32 -n OSTICK --offset 2048 "$img" $(((SIZE_MB - 1) * 1024)) >/dev/null
	for spec in "$@"; do
		dest=${spec%%=*}
		case $dest in */*) mmd -D s -i "$img@@$PART_OFFSET" "::${dest%/*}" 2>/dev/null || true ;; esac
		mcopy -i "$img@@$PART_OFFSET" "${spec#*=}" "::$dest"
	done
}

make_ext4() {
	local img=$1 spec dest tree
	shift
	tree=$(mktemp -d "${img}.tree.XXXXXX")
	on_exit "rm -rf $tree"
	for spec in "$@"; do
		dest=${spec%%=*}
		mkdir -p "$tree/$(dirname "$dest")"
		cp "${spec#*=}" "$tree/$dest"
	done
	truncate -s "${SIZE_MB}M" "$img"
	mkfs.ext4 -q -F -L OSTICK -d "$tree" "$img"
}

case ${1:-} in
fat32 | ext4)
	kind=$1 img=${2:?usage: mkstick.sh fat32|ext4 IMG [DEST=FILE...]}
	shift 2
	rm -f "$img"
	"make_$kind" "$img" "$@"
	;;
*) die "usage: mkstick.sh fat32|ext4 IMG [DEST=FILE...]" ;;
esac
