# lib.sh: TAP helpers and fixtures for the integration tests. Source it, then call the checks,
# then done_testing. Every test gets a private $TEST_TMP, removed (with its mounts and loop
# devices) on exit, whatever happens.
set -eu -o pipefail

: "${OSTICK_BUILDDIR:?run through make check}" "${OSTICK_SRCDIR:?run through make check}"
BUNDLE=$OSTICK_BUILDDIR/ostick-bundle
APPLY=$OSTICK_BUILDDIR/ostick-apply
KEYS=$OSTICK_SRCDIR/tests/data/keys
SAMPLES=$OSTICK_SRCDIR/samples
export LC_ALL=C.UTF-8
# libostree must never sync or freeze the host's root: tests point it at loop filesystems only.
export OSTREE_SYSROOT_DEBUG=${OSTREE_SYSROOT_DEBUG:-}

TEST_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/ostick-test.XXXXXX")
_tap_n=0
_tap_failed=0
_cleanups=()

on_exit() { _cleanups+=("$*"); }

_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$TEST_TMP"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

diag() { printf '# %s\n' "$@" | sed 's/^# $/#/'; }
# diag_file FILE: its lines as TAP diagnostics (at most 40).
diag_file() { [ -s "$1" ] && head -n 40 "$1" | sed 's/^/#   /' || true; }

ok() { # ok DESCRIPTION
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}
not_ok() { # not_ok DESCRIPTION [DETAIL...]
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
}

skip_all() { echo "1..0 # SKIP $*"; exit 0; }
require_root() { [ "$(id -u)" -eq 0 ] || skip_all "needs root (loop devices, mounts)"; }

# check DESCRIPTION COMMAND...: passes if COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@" >"$TEST_TMP/.out" 2>&1; then ok "$desc"; else
		not_ok "$desc" "command failed: $*"
		diag_file "$TEST_TMP/.out"
	fi
}

# check_exit CODE DESCRIPTION COMMAND...: passes if COMMAND exits with CODE; its stderr is kept
# in $TEST_TMP/stderr and stdout in $TEST_TMP/stdout for later checks.
check_exit() {
	local want=$1 desc=$2 rc=0
	shift 2
	"$@" >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr" || rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else
		not_ok "$desc" "exit $rc, expected $want: $*"
		diag_file "$TEST_TMP/stderr"
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}

# check_match DESCRIPTION REGEX FILE: passes if FILE has a line matching the extended REGEX.
check_match() {
	if grep -Eq -- "$2" "$3"; then ok "$1"; else
		not_ok "$1" "no line matches /$2/ in $3:"
		diag_file "$3"
	fi
}

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# make_rootfs VERSION DIR [EXTRA_MB]: the sample tree (see samples/make-rootfs.sh).
make_rootfs() { "$SAMPLES/make-rootfs.sh" "$@"; }

# commit_tree REPO REF DIR VERSION: commit a sample tree with stock ostree (etc -> usr/etc as
# libostree expects), so that bundler tests do not depend on ostick's own rootfs import.
commit_tree() {
	local repo=$1 ref=$2 dir=$3 version=$4 stage
	stage=$(mktemp -d "$TEST_TMP/stage.XXXXXX")
	cp -a "$dir/." "$stage/"
	mv "$stage/etc" "$stage/usr/etc"
	[ -d "$repo/objects" ] || ostree --repo="$repo" init --mode=archive
	ostree --repo="$repo" commit --branch="$ref" --tree=dir="$stage" --owner-uid=0 \
		--owner-gid=0 --add-metadata-string=version="$version" --bootable \
		--subject="sample $version" >/dev/null
	rm -rf "$stage"
}

# make_loop_fs SIZE_MB FSTYPE MOUNTPOINT: a fresh filesystem on a loop device, mounted; unmounted
# and detached on exit. Sets LOOP_DEV (not printed: cleanups must be registered in this shell,
# so never call it inside $(...)).
make_loop_fs() {
	local size=$1 fstype=$2 mnt=$3 img dev
	img=$(mktemp "$TEST_TMP/fs.XXXXXX.img")
	truncate -s "${size}M" "$img"
	dev=$(losetup --find --show "$img")
	on_exit "losetup -d $dev"
	case "$fstype" in
	ext4) mkfs.ext4 -q -F "$dev" ;;
	vfat) mkfs.vfat -F 32 "$dev" >/dev/null ;;
	exfat) mkfs.exfat "$dev" >/dev/null ;;
	*) mkfs -t "$fstype" "$dev" >/dev/null ;;
	esac
	mkdir -p "$mnt"
	mount "$dev" "$mnt"
	on_exit "umount -l $mnt"
	LOOP_DEV=$dev
}
