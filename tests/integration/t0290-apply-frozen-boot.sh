#!/bin/bash
# t0290-apply-frozen-boot.sh: libostree freezes the filesystem holding /boot around the
# bootloader switch, and its watchdog does not thaw it when the deploying process dies (a
# SIGKILL or OOM kill in between leaves it frozen: see t0410). The next install, holding the
# sysroot lock, finds it frozen (a write probe that has not returned after 2 s), thaws it
# and goes on. A write to a frozen filesystem blocks
# uninterruptibly, so the install runs in the background and the test thaws by hand if it has
# to (then failing), rather than hang.
. "$(dirname "$0")/lib.sh"
require_root
command -v fsfreeze >/dev/null || skip_all "needs fsfreeze (util-linux)"

B=$TEST_TMP/bundles
sample_bundles "$B"
SR=$TEST_TMP/sysroot
make_sysroot "$SR"
on_exit "fsfreeze --unfreeze $SR"
check_exit 0 "install 1.0" "$APPLY" install $(apply_args "$SR" "$B/keyring") "$B/v1.ostick"

# frozen_install NAME ARGS...: ostick-apply ARGS in the background on a frozen sysroot; sets RC
# (or "hung" when it had not finished after 60 s and the filesystem had to be thawed by hand).
frozen_install() {
	local name=$1 pid i
	shift
	fsfreeze --freeze "$SR"
	"$APPLY" "$@" >"$TEST_TMP/$name.out" 2>&1 &
	pid=$!
	RC=hung
	for ((i = 0; i < 600; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			RC=0
			wait "$pid" || RC=$?
			return
		fi
		sleep 0.1
	done
	fsfreeze --unfreeze "$SR" 2>/dev/null || true
	wait "$pid" || true
}

frozen_install v2 install $(apply_args "$SR" "$B/keyring") "$B/v2.ostick"
check_eq "install 2.0 on a sysroot whose filesystem a killed run left frozen: exit 0" 0 "$RC"
diag_file "$TEST_TMP/v2.out"
check "... the filesystem is writable again" bash -c "timeout 10 touch '$SR/.probe' && rm '$SR/.probe'"
check_match "... 2.0 is the default" "Version: 2\.0" <(ostree admin --sysroot="$SR" status | head -n 2)

# (ostick-apply verify takes no lock and does not thaw: on a frozen sysroot it waits, as any
# writer of the repo does, until the next install thaws it.)

done_testing
