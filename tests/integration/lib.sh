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

# make_sysroot DIR [BOOTLOADER] [SIZE_MB]: a fresh OSTree sysroot (ostree admin init-fs + os-init
# of OS "ostick-demo") on its own loop filesystem mounted at DIR: libostree syncs and freezes the
# filesystem holding /boot, which must never be the host's. BOOTLOADER (default uboot) goes into
# the repo's sysroot.bootloader. Sets LOOP_DEV.
SAMPLE_OS=ostick-demo
make_sysroot() {
	local dir=$1 bootloader=${2:-uboot} size=${3:-512}
	make_loop_fs "$size" ext4 "$dir"
	ostree admin init-fs "$dir" >/dev/null
	ostree admin --sysroot="$dir" os-init "$SAMPLE_OS" >/dev/null
	ostree --repo="$dir/ostree/repo" config set sysroot.bootloader "$bootloader"
}

# device_fingerprint SYSROOT: everything a rejected install must leave as it was, as text:
# refs, deployments (admin status), every file under /boot with its checksum, the deployment
# directories, commit-partial markers, and staging left in the repo's tmp.
device_fingerprint() {
	local s=$1
	echo "== refs"; ostree --repo="$s/ostree/repo" refs | sort
	echo "== admin status"; ostree admin --sysroot="$s" status 2>&1
	echo "== boot"; (cd "$s/boot" && find . -printf '%y %p -> %l\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k2)
	echo "== deployments"; { ls -1 "$s/ostree/deploy/$SAMPLE_OS/deploy" 2>/dev/null || true; } |
		sort
	echo "== partial"; { ls -1 "$s/ostree/repo/state" 2>/dev/null || true; } | sort
	echo "== staging"; (cd "$s/ostree/repo/tmp" && find . -mindepth 1 -maxdepth 1 \
		! -name cache | sort)
}

# sample_bundles DIR: keys, two sample versions and bundles in DIR: v1.ostick (full), v2.ostick
# (delta 1->2), v2-full.ostick (full 2.0), signed by tests/data/keys/test-ed25519, compatible
# "ostick-demo-board"; DIR/keyring trusts that key. Cheap: about 2.5 MB each tree.
SAMPLE_COMPATIBLE=ostick-demo-board
sample_bundles() {
	local d=$1
	mkdir -p "$d/keyring"
	cp "$KEYS/test-ed25519.pub.pem" "$d/keyring/"
	make_rootfs 1.0 "$d/rootfs-1.0"
	make_rootfs 2.0 "$d/rootfs-2.0"
	local common=(--ref demo/stable --compatible "$SAMPLE_COMPATIBLE"
		--key "$KEYS/test-ed25519.key.pem")
	"$BUNDLE" create --rootfs "$d/rootfs-1.0" --repo "$d/repo" --version 1.0 "${common[@]}" \
		-o "$d/v1.ostick" >/dev/null
	"$BUNDLE" create --rootfs "$d/rootfs-2.0" --repo "$d/repo" --version 2.0 \
		--from demo/stable "${common[@]}" -o "$d/v2.ostick" >/dev/null
	"$BUNDLE" create --repo "$d/repo" --version 2.0 "${common[@]}" -o "$d/v2-full.ostick" \
		>/dev/null
}

# apply_args SYSROOT KEYRING: the ostick-apply options for a test device.
apply_args() {
	echo --sysroot "$1" --os "$SAMPLE_OS" --keyring "$2" --compatible "$SAMPLE_COMPATIBLE"
}
