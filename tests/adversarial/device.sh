# tests/adversarial/device.sh: helpers shared by t0400-t0420 (source it after lib.sh).
# One sysroot per test, on its own loop filesystem, reused: its whole image is saved once and
# put back whenever a case must start from it again.

# device_state SYSROOT: what a failed or refused install must leave exactly as it was. The
# fingerprint of lib.sh (refs, admin status, /boot with checksums and symlink targets,
# deployments, partial markers, staging), plus what the refs point at, every object file with
# its size and mode, everything in the repo's tmp, the repo config and the deployments' origin
# files.
device_state() {
	local s=$1 r=$1/ostree/repo
	device_fingerprint "$s"
	echo "== refs, objects, tmp"
	grep -r . "$r/refs" | sed "s|^$r/||" | sort
	find "$r/objects" "$r/tmp" -printf '%P %y %s %m\n' | sort
	sha256sum "$r/config" "$s"/ostree/deploy/"$SAMPLE_OS"/deploy/*.origin | sed "s|$s/||"
}

# image_save SYSROOT DEV NAME: the filesystem image behind loop device DEV (mounted at
# SYSROOT), copied to $TEST_TMP/image-NAME.
image_save() {
	sync
	umount "$1"
	cp --sparse=always "$(losetup -nO BACK-FILE "$2")" "$TEST_TMP/image-$3"
	mount "$2" "$1"
}

# image_restore SYSROOT DEV NAME: that image back (the loop device's cached blocks dropped).
image_restore() {
	umount "$1"
	cp --sparse=always "$TEST_TMP/image-$3" "$(losetup -nO BACK-FILE "$2")"
	blockdev --flushbufs "$2"
	mount "$2" "$1"
}

# gdb_batch ARGS...: gdb in batch mode, quiet, breakpoints in libraries allowed before they
# load. The applier never carries test hooks: gdb stops it from outside. Under `make asan`,
# no leak check in the traced applier: LeakSanitizer cannot run under ptrace, and its fatal
# error would replace the applier's exit code with 1.
gdb_batch() {
	local asan=${ASAN_OPTIONS-}

	[ -z "${OSTICK_SANITIZED:-}" ] || asan=${asan:+$asan:}detect_leaks=0
	ASAN_OPTIONS=$asan gdb -q -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
		-ex 'set breakpoint pending on' -ex 'set print thread-events off' \
		-ex 'set print inferior-events off' "$@"
}

# gdb_stopped FILE: gdb's output in FILE shows the breakpoint was hit.
gdb_stopped() {
	grep -qE '^(Thread .* hit )?Breakpoint 1(\.[0-9]+)?, ' "$1"
}

# report_case NAME DESCRIPTION TODO: ok / not ok from the array $problems (as diagnostics),
# "# TODO bug: ..." when TODO is not empty (then a failure does not fail the test).
report_case() {
	local todo=${3:+ # TODO bug: $3}
	_tap_n=$((_tap_n + 1))
	if [ ${#problems[@]} -eq 0 ]; then
		echo "ok $_tap_n - $1: $2$todo"
	else
		echo "not ok $_tap_n - $1: $2$todo"
		[ -n "$todo" ] || _tap_failed=$((_tap_failed + 1))
		printf '#   %s\n' "${problems[@]}" | head -n 30
	fi
}
