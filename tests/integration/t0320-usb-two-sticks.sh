#!/bin/bash
# t0320-usb-two-sticks.sh: two sticks handled at the same time (one `ostick-apply usb` per
# stick, as two instances of the unit would be). Round 1: both hold the same v2 delta and both
# find the sysroot busy (the test holds the lock) until it is released: one installs, the other
# waits for the lock, then reports up to date (exit 0). Round 2: v3 (delta) and v3-full, started
# together with nobody holding the lock: the same outcome, whatever the timing. Each round adds
# exactly one deployment, and the repo stays consistent.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/usb-lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (holding the sysroot lock)"

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
make_rootfs 3.0 "$B/rootfs-3.0"
COMMON=(--ref demo/stable --compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem")
"$BUNDLE" create --rootfs "$B/rootfs-3.0" --repo "$B/repo" --version 3.0 --from demo/stable \
	"${COMMON[@]}" -o "$B/v3.ostick" >/dev/null
"$BUNDLE" create --repo "$B/repo" --version 3.0 "${COMMON[@]}" -o "$B/v3-full.ostick" >/dev/null
V3=$(ostree --repo="$B/repo" rev-parse demo/stable)

SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 384
check_exit 0 "device: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
C=$TEST_TMP/device.conf
usb_config "$C" "$SR" "$K" usb.lock-wait=60
RT=$TEST_TMP/run

# stick_with BUNDLE: a fresh ext4 stick holding BUNDLE in ostick/ (STICK_DEV).
stick_with() {
	make_stick ext4 64
	mkdir "$STICK_MNT/ostick"
	cp "$1" "$STICK_MNT/ostick/"
	stick_close
}

# start_usb TAG DEV: the handler for DEV in the background, output in $TEST_TMP/TAG.{out,err},
# its pid in PIDS[TAG].
declare -A PIDS
start_usb() {
	RUNTIME_DIRECTORY=$RT/$1 "$APPLY" usb --config "$C" "$2" >"$TEST_TMP/$1.out" \
		2>"$TEST_TMP/$1.err" &
	PIDS[$1]=$!
	on_exit "kill ${PIDS[$1]}"
}

# finish TAG: wait for the handler TAG; its exit status in RCS[TAG] (not in $(...): a subshell
# cannot wait for this shell's children).
declare -A RCS
finish() {
	RCS[$1]=0
	wait "${PIDS[$1]}" || RCS[$1]=$?
}

# outcomes TAG...: what each handler said at the end, sorted: "installed" or "up-to-date".
outcomes() {
	local tag
	for tag in "$@"; do
		if grep -q ": installed $SAMPLE_OS " "$TEST_TMP/$tag.err"; then echo installed
		elif grep -q ": up to date, nothing to install$" "$TEST_TMP/$tag.err"; then
			echo up-to-date
		else echo "other($tag)"; fi
	done | sort | paste -sd ' '
}

# ---- round 1: the same v2 on both, both wait for the lock
stick_with "$B/v2.ostick"
DEV_A=$STICK_DEV
stick_with "$B/v2.ostick"
DEV_B=$STICK_DEV
check "round 1: precondition: the sysroot lock is held" hold_sysroot_lock "$SR"
start_usb a "$DEV_A"
start_usb b "$DEV_B"
check "round 1: stick A's handler waits for the lock" wait_for \
	"another update is running: waiting" "$TEST_TMP/a.err" 20 "${PIDS[a]}"
check "round 1: stick B's handler waits for the lock" wait_for \
	"another update is running: waiting" "$TEST_TMP/b.err" 20 "${PIDS[b]}"
release_sysroot_lock
finish a
finish b
diag "stick A:" && diag_file "$TEST_TMP/a.err"
diag "stick B:" && diag_file "$TEST_TMP/b.err"
check_eq "round 1: both handlers exit 0" "0 0" "${RCS[a]} ${RCS[b]}"
check_eq "round 1: one installed, the other found it up to date" "installed up-to-date" \
	"$(outcomes a b)"
check_match "round 1: the installing one installed 2.0 over 1.0" \
	": installed $SAMPLE_OS 2\.0 \(${V2:0:12}\) over 1\.0 from ostick/v2\.ostick$" \
	<(cat "$TEST_TMP/a.err" "$TEST_TMP/b.err")
check_eq "round 1: exactly one new deployment: 2.0, then 1.0" "$V2.0 $V1.0" "$(deployed "$SR")"
check_clean "round 1: no mount of stick A left" "$DEV_A" "$RT/a"
check_clean "round 1: no mount of stick B left" "$DEV_B" "$RT/b"

# ---- round 2: v3 and v3-full, started together, nobody holds the lock
stick_with "$B/v3.ostick"
DEV_C=$STICK_DEV
stick_with "$B/v3-full.ostick"
DEV_D=$STICK_DEV
start_usb c "$DEV_C"
start_usb d "$DEV_D"
finish c
finish d
diag "stick C (v3 delta):" && diag_file "$TEST_TMP/c.err"
diag "stick D (v3-full):" && diag_file "$TEST_TMP/d.err"
check_eq "round 2: both handlers exit 0" "0 0" "${RCS[c]} ${RCS[d]}"
check_eq "round 2: one installed, the other found it up to date" "installed up-to-date" \
	"$(outcomes c d)"
check_eq "round 2: exactly one new deployment: 3.0, then 2.0" "$V3.0 $V2.0" "$(deployed "$SR")"
check_clean "round 2: no mount of stick C left" "$DEV_C" "$RT/c"
check_clean "round 2: no mount of stick D left" "$DEV_D" "$RT/d"
check "the repo is consistent (ostree fsck)" ostree --repo="$SR/ostree/repo" fsck
check_eq "ref demo/stable is the 3.0 commit" "$V3" \
	"$(ostree --repo="$SR/ostree/repo" rev-parse demo/stable)"

done_testing
