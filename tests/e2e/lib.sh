# lib.sh: shared helpers for the end-to-end harness (tests/e2e). Source it from bash.
# Every script that attaches a loop device, mounts something or binds /proc into a chroot
# registers the undo with on_exit right away: the undos run in reverse order when the script
# exits, whatever the reason (error, signal, success).
# shellcheck shell=bash disable=SC2034 # (the constants are for the scripts that source it)
set -eu -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$E2E_DIR/../.." && pwd)
WORK=${E2E_WORK:-$E2E_DIR/work}
KEYS=$SRCDIR/tests/data/keys
export LC_ALL=C.UTF-8
# The guest: its OSTree ref, stateroot (the bundle's --os default is the tree's os-release ID),
# and the compatible string its ostick.conf names.
E2E_REF=ostick-e2e/x86_64
E2E_OS=debian
E2E_COMPATIBLE=ostick-e2e-qemu
E2E_OTHER_COMPATIBLE=ostick-e2e-other-board

_cleanups=()
on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[$i]}" >/dev/null 2>&1 || true
	done
	_cleanups=()
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s: %s\n' "$(date +%T)" "${0##*/}" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# attach_image IMG: a loop device for IMG with its partition nodes (the host runs no udevd, so
# partx makes them); detached on exit. Sets LOOP. Never call it inside $(...).
attach_image() {
	local i
	LOOP=$(losetup --find --show --partscan "$1")
	on_exit "losetup -d $LOOP"
	[ -b "${LOOP}p1" ] || partx -a "$LOOP" 2>/dev/null || true
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -b "${LOOP}p1" ] && return 0
		sleep 0.3
	done
	die "no partition node for $LOOP"
}

# mount_here DEV DIR [OPTIONS]: mount DEV at DIR; unmounted (lazily if busy) on exit.
mount_here() {
	mkdir -p "$2"
	mount ${3:+-o "$3"} "$1" "$2"
	on_exit "umount $2 || umount -l $2"
}

# bind_chroot_fs ROOT: /proc, /sys and /dev for a chroot; unbind_chroot_fs ROOT (or exit)
# unmounts them.
bind_chroot_fs() {
	local d
	for d in proc sys dev; do
		mount --bind "/$d" "$1/$d"
		on_exit "umount -l $1/$d"
	done
}
unbind_chroot_fs() {
	local d
	for d in dev sys proc; do
		! mountpoint -q "$1/$d" || umount -l "$1/$d"
	done
}

# safe_rm DIR...: unmount whatever is mounted below DIR (a crashed run's leftovers), then remove
# it without ever crossing into another filesystem (a bind-mounted host /dev).
safe_rm() {
	local d m
	for d in "$@"; do
		[ -e "$d" ] || continue
		d=$(realpath "$d")
		while read -r m; do
			umount -l "$m" || true
		done < <(awk -v d="$d" '$5 == d || index($5, d "/") == 1 { print $5 }' \
			/proc/self/mountinfo | sort -r)
		rm -rf --one-file-system "$d"
	done
}

# base_key: the cache key of the guest base: the package list and the scripts that build it.
base_key() {
	cat "$E2E_DIR/guest-packages" "$E2E_DIR/mkbase.sh" | sha256sum | cut -c1-16
}
