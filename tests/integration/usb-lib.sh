# usb-lib.sh: helpers for the USB stick tests (t03xx). Source it after lib.sh.
# Sticks are loop devices holding a filesystem image; the handler is `ostick-apply usb`.

# skip DESCRIPTION REASON: a TAP test skipped for REASON.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# usb_config FILE SYSROOT KEYRING [GROUP.KEY=VALUE...]: a device configuration for the sample
# OS on SYSROOT, [usb] buses=any (loop devices have no ID_BUS; "any" is the documented setting
# for them) unless usb.buses=... is given, then the GROUP.KEY=VALUE settings.
usb_config() {
	local file=$1 sysroot=$2 keyring=$3 group kv buses=any
	shift 3
	for kv in "$@"; do
		case $kv in usb.buses=*) buses=${kv#usb.buses=} ;; esac
	done
	{
		printf '[device]\ncompatible=%s\nos=%s\nkeyring=%s\nsysroot=%s\n' \
			"$SAMPLE_COMPATIBLE" "$SAMPLE_OS" "$keyring" "$sysroot"
		for group in policy usb; do
			printf '[%s]\n' "$group"
			[ "$group" != usb ] || printf 'buses=%s\n' "$buses"
			for kv in "$@"; do
				case $kv in
				usb.buses=*) ;;
				"$group".*) printf '%s\n' "${kv#"$group".}" ;;
				esac
			done
		done
	} >"$file"
}

# fs_unsupported FSTYPE: prints why sticks of FSTYPE cannot be made or mounted here; prints
# nothing when they can. A filesystem module that is not loaded yet is loaded, as the kernel
# would for the handler's mount(2).
fs_unsupported() {
	local tool=mkfs.$1
	command -v "$tool" >/dev/null || { echo "$tool is not installed"; return 0; }
	grep -qw "$1" /proc/filesystems && return 0
	{ command -v modprobe >/dev/null && modprobe -q "$1"; } 2>/dev/null || true
	grep -qw "$1" /proc/filesystems ||
		echo "this kernel has no $1 support (not in /proc/filesystems, no module)"
}

# make_stick FSTYPE [SIZE_MB]: a fresh stick image with a FSTYPE filesystem on a loop device,
# mounted read-write at STICK_MNT to be filled; stick_unplug_fs unmounts it. Sets STICK_DEV
# (/dev/loopN), STICK_NAME (loopN), STICK_IMG (the image file), STICK_MNT, STICK_FS. Never call
# it inside $(...) (the cleanups must be registered in this shell).
_stick_n=0
make_stick() {
	local fstype=$1 size=${2:-64}
	_stick_n=$((_stick_n + 1))
	STICK_MNT=$TEST_TMP/stick-$_stick_n
	make_loop_fs "$size" "$fstype" "$STICK_MNT"
	STICK_DEV=$LOOP_DEV
	STICK_NAME=${LOOP_DEV#/dev/}
	STICK_IMG=$(cat "/sys/block/$STICK_NAME/loop/backing_file")
	STICK_FS=$fstype
}

# stick_close: unmount the stick after filling it (it stays attached to its loop device).
stick_close() {
	umount "$STICK_MNT"
	sync
}

# stick_look DEV DIR: mount DEV read-only (ext*: without replaying the journal) at DIR to look
# at what is on it; stick_unlook DIR.
stick_look() {
	local opts=ro
	case $(blkid -o value -s TYPE "$1" 2>/dev/null) in ext*) opts=ro,noload ;; esac
	mkdir -p "$2"
	mount -o "$opts" "$1" "$2"
}
stick_unlook() { umount "$1"; }

# mounts_of DEV: the lines of /proc/self/mountinfo that mount DEV (by major:minor), if any.
mounts_of() {
	local majmin
	majmin=$(printf '%d:%d' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")")
	awk -v m="$majmin" '$3 == m' /proc/self/mountinfo
}

# leftovers DEV PARENT: what a run left behind: mounts of DEV and PARENT/<name>.* directories.
leftovers() {
	mounts_of "$1"
	find "$2" -mindepth 1 -maxdepth 1 -name "${1#/dev/}.*" 2>/dev/null || true
}

# check_clean DESCRIPTION DEV PARENT: nothing of DEV is mounted any more, and no mount
# directory of it is left under PARENT (the handler's /run/ostick or $RUNTIME_DIRECTORY).
check_clean() {
	check_eq "$1" "" "$(leftovers "$2" "$3")"
}

# hold_sysroot_lock SYSROOT: a background process holds libostree's sysroot lock until
# release_sysroot_lock. libostree takes SYSROOT/ostree/lock (OSTREE_SYSROOT_LOCKFILE) with
# libglnx's glnx_make_lock_file(), an open-file-description fcntl() lock: flock(1) does not
# conflict with it, a POSIX record lock (lockf) does.
hold_sysroot_lock() {
	python3 - "$1/ostree/lock" >"$TEST_TMP/lock-holder.out" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
PY
	LOCK_HOLDER=$!
	on_exit "kill $LOCK_HOLDER"
	for _ in $(seq 100); do
		grep -q '^locked$' "$TEST_TMP/lock-holder.out" && return 0
		sleep 0.1
	done
	return 1
}
release_sysroot_lock() {
	kill "$LOCK_HOLDER" 2>/dev/null || true
	wait "$LOCK_HOLDER" 2>/dev/null || true
}

# wait_for REGEX FILE SECONDS [PID]: until FILE has a line matching REGEX (0), SECONDS pass or
# PID exits (1).
wait_for() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -Eq -- "$1" "$2" 2>/dev/null && return 0
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || { grep -Eq -- "$1" "$2"; return; }
		sleep 0.05
	done
	return 1
}

# deployed SYSROOT: the deployments' commits in admin status order, one line.
deployed() {
	ostree admin --sysroot="$1" status | grep -oE "$SAMPLE_OS [0-9a-f]{64}\.[0-9]+" |
		awk '{print $2}' | paste -sd ' '
}

# member_offset BUNDLE MEMBER: "OFFSET SIZE" of MEMBER's data in the bundle (a tar file).
member_offset() {
	python3 - "$@" <<'PY'
import sys, tarfile
m = tarfile.open(sys.argv[1]).getmember(sys.argv[2])
print(m.offset_data, m.size)
PY
}

# tamper IN OUT: OUT is IN with one byte in the middle of its payload member delta/0 flipped.
tamper() {
	local off size
	read -r off size < <(member_offset "$1" delta/0)
	cp "$1" "$2"
	python3 - "$2" $((off + size / 2)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 1]))
PY
}

# machine_id: what the handler names the result file after: /etc/machine-id, or the host name
# when that is missing or empty.
machine_id() {
	local id
	id=$(tr -d ' \t\n' </etc/machine-id 2>/dev/null || true)
	[ -n "$id" ] && echo "$id" || hostname
}

# udev_paths: what exists under /run/udev, /dev/disk and /dev/block, sorted.
udev_paths() { { find /run/udev /dev/disk /dev/block 2>/dev/null || true; } | sort; }

# udev_snapshot: remember what exists under /run/udev, /dev/disk and /dev/block, so that
# udev_restore can remove what `udevadm test` or a private udevd adds there.
udev_snapshot() {
	udev_paths >"$TEST_TMP/udev-snapshot"
}

# udev_restore [DEV...]: remove every path under /run/udev, /dev/disk and /dev/block that did
# not exist at udev_snapshot, and any udev database entry, tag, link or /dev symlink of DEV
# (stale data would make later runs believe DEV still holds its old filesystem).
udev_restore() {
	local dev majmin p
	for dev in "$@"; do
		majmin=$(cat "/sys/class/block/${dev#/dev/}/dev" 2>/dev/null) || continue
		rm -f "/run/udev/data/b$majmin" /run/udev/tags/*/"b$majmin" \
			/run/udev/links/*/"b$majmin" /run/udev/watch/"b$majmin" "/dev/block/$majmin"
		for p in /dev/disk/*/*; do
			[ -L "$p" ] && [ "$(readlink -f "$p")" = "$dev" ] && rm -f "$p"
		done
	done
	udev_paths | comm -13 "$TEST_TMP/udev-snapshot" - | sort -r | while read -r p; do
		if [ -d "$p" ] && [ ! -L "$p" ]; then
			rm -f "$p/.lock"
			rmdir "$p" 2>/dev/null || true
		else
			rm -f "$p"
		fi
	done
}

# section_without SECTION FILE: a device_fingerprint output without its "== SECTION" block.
section_without() { awk -v s="== $1" '/^== /{skip = ($0 == s)} !skip' "$2"; }

# same_device DESCRIPTION SYSROOT BASELINE [any]: two checks that the device is as
# device_fingerprint saw it in BASELINE: everything but repo/tmp identical; and in repo/tmp
# nothing new but libostree's staging-* directories, which must be EMPTY unless "any" is given.
# ostree_repo_abort_transaction() forgets but keeps the transaction's staging directory (with
# the objects written so far), for the next transaction of the same boot to reuse; it goes
# when one commits. What is left there is listed as diagnostics.
same_device() {
	local desc=$1 sr=$2 base=$3 any=${4:-} entry name bad=""
	device_fingerprint "$sr" >"$TEST_TMP/fp-now"
	check "$desc" diff -u <(section_without staging "$base") \
		<(section_without staging "$TEST_TMP/fp-now")
	awk '/^== /{s = ($0 == "== staging")} s && !/^== /' "$base" >"$TEST_TMP/staging-base"
	awk '/^== /{s = ($0 == "== staging")} s && !/^== /' "$TEST_TMP/fp-now" >"$TEST_TMP/staging-now"
	while read -r entry; do
		entry=$sr/ostree/repo/tmp/${entry#./}
		name=${entry##*/}
		diag "in repo/tmp: $name ($(find "$entry" | wc -l) path(s), $(du -sk "$entry" |
			cut -f1) KiB)$(grep -qxF "./$name" "$TEST_TMP/staging-base" && echo ", as before")"
		case $name in
		staging-*) [ -d "$entry" ] && { [ -n "$any" ] || [ -z "$(ls -A "$entry")" ]; } ||
			bad="$bad $name" ;;
		*) grep -qxF "./$name" "$TEST_TMP/staging-base" || bad="$bad $name" ;;
		esac
	done <"$TEST_TMP/staging-now"
	if [ -n "$any" ]; then
		check_eq "... repo/tmp: nothing but libostree's staging-* directories" "" "$bad"
	else
		check_eq "... nothing staged in repo/tmp (at most libostree's empty staging-* dir)" \
			"" "$bad"
	fi
}
