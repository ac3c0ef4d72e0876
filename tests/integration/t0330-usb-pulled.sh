#!/bin/bash
# t0330-usb-pulled.sh: the stick pulled out in the middle of an install, two ways, with a ~160 MB
# full bundle (so that the apply stage lasts): (a) systemd stops the unit (BindsTo= the device):
# SIGTERM in the apply stage -> exit 10; (b) the medium vanishes under the handler (the image
# truncated to 0 and the loop device's capacity set to 0, so that further reads fail) -> a clean
# abort, exit 1 or 4 with a clear message. Either way: no ref, deployment or /boot change, only
# libostree's own staging directory left in repo/tmp (reported as diagnostics), no mount left.
# Then the stick is plugged in again (a fresh image with the bundle): the retry installs.
# The apply stage is detected from the JSON progress lines on stdout (--progress=json).
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/usb-lib.sh"
require_root

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
make_rootfs 3.0 "$B/rootfs-big" 150
"$BUNDLE" create --rootfs "$B/rootfs-big" --repo "$TEST_TMP/repo-big" --ref demo/stable \
	--version 3.0 --compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem" \
	-o "$B/big.ostick" >/dev/null
V3=$(ostree --repo="$TEST_TMP/repo-big" rev-parse demo/stable)
BIG_MB=$(($(stat -c %s "$B/big.ostick") / 1048576))
diag "big.ostick: $BIG_MB MB"

SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 1024
check_exit 0 "device: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
C=$TEST_TMP/device.conf
usb_config "$C" "$SR" "$K" usb.lock-wait=5
RT=$TEST_TMP/run

# big_stick: a fresh ext4 stick holding big.ostick (STICK_DEV, STICK_IMG).
big_stick() {
	make_stick ext4 $((BIG_MB + 96))
	cp "$B/big.ostick" "$STICK_MNT/"
	stick_close
}

# start_and_stop_in_apply TAG DEV: starts the handler for DEV (output in $TEST_TMP/TAG.{out,err}),
# and stops it (SIGSTOP) once it has streamed bundle bytes in the apply stage. Sets PID and
# STAGE (the last progress line's stage when stopped, or "none").
start_and_stop_in_apply() {
	local i
	RUNTIME_DIRECTORY=$RT "$APPLY" usb --config "$C" --progress=json "$2" \
		>"$TEST_TMP/$1.out" 2>"$TEST_TMP/$1.err" &
	PID=$!
	on_exit "kill -KILL $PID"
	STAGE=none
	for ((i = 0; i < 6000; i++)); do
		if grep -q '"stage":"apply","bytes_done":[1-9]' "$TEST_TMP/$1.out"; then
			kill -STOP "$PID"
			STAGE=$(grep '"event":"progress"' "$TEST_TMP/$1.out" | tail -n 1 |
				sed -n 's/.*"stage":"\([a-z]*\)".*/\1/p')
			diag "stopped at: $(tail -n 1 "$TEST_TMP/$1.out")"
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.01
	done
	diag "the handler was not caught in the apply stage" && diag_file "$TEST_TMP/$1.err"
}

# finish: continue the stopped handler and wait for it; its status in RC.
finish() {
	kill -CONT "$PID" 2>/dev/null || true
	RC=0
	wait "$PID" || RC=$?
}

# ---- (a) SIGTERM in the apply stage (the unit stopped: BindsTo=dev-%i.device)
big_stick
DEV=$STICK_DEV
device_fingerprint "$SR" >"$TEST_TMP/fp-a"
start_and_stop_in_apply a "$DEV"
check_eq "(a) caught the handler in the apply stage" apply "$STAGE"
check "(a) the stick is mounted while it works" test -n "$(mounts_of "$DEV")"
kill -TERM "$PID" 2>/dev/null || true
finish
check_eq "(a) SIGTERM in the apply stage: exit 10 (interrupted)" 10 "$RC"
diag_file "$TEST_TMP/a.err"
check_match "... the JSON result line says failed, exit code 10" \
	'^\{"event":"result","outcome":"failed","exit_code":10,' "$TEST_TMP/a.out"
check_match "... stderr says it failed" "^ostick-apply: $DEV: failed: " "$TEST_TMP/a.err"
same_device "... device unchanged but for repo/tmp (refs, deployments, /boot, partial)" \
	"$SR" "$TEST_TMP/fp-a" any
check_clean "... no mount of the stick left, no mount directory" "$DEV" "$RT"
check_eq "... deployments: still only 1.0" "$V1.0" "$(deployed "$SR")"

# ---- (b) the medium vanishes in the apply stage
big_stick
DEV=$STICK_DEV
IMG=$STICK_IMG
device_fingerprint "$SR" >"$TEST_TMP/fp-b"
start_and_stop_in_apply b "$DEV"
check_eq "(b) caught the handler in the apply stage" apply "$STAGE"
truncate -s 0 "$IMG"
losetup -c "$DEV"
check_eq "(b) precondition: the stick now has no capacity" 0 "$(blockdev --getsize64 "$DEV")"
finish
check_match "(b) the medium vanished: exit 1 or 4 (read error / corrupt)" '^(1|4)$' <(echo "$RC")
diag "exit $RC"
diag_file "$TEST_TMP/b.err"
check_match "... stderr says why: an I/O error or a truncated bundle" \
	"^ostick-apply: usb: .*([Ii]nput/output error|I/O|[Tt]runcated|[Rr]ead)" "$TEST_TMP/b.err"
check_match "... the JSON result line says failed with that exit code" \
	"^\\{\"event\":\"result\",\"outcome\":\"failed\",\"exit_code\":$RC," "$TEST_TMP/b.out"
same_device "... device unchanged but for repo/tmp (refs, deployments, /boot, partial)" \
	"$SR" "$TEST_TMP/fp-b" any
check_clean "... no stale mount of the vanished stick, no mount directory" "$DEV" "$RT"
check_eq "... deployments: still only 1.0" "$V1.0" "$(deployed "$SR")"

# ---- plugged in again: a fresh stick with the bundle
big_stick
check_exit 0 "re-plugged: the retry installs: exit 0" \
	env RUNTIME_DIRECTORY="$RT" "$APPLY" usb --config "$C" "$STICK_DEV"
check_match "... installed 3.0 over 1.0" \
	"^ostick-apply: $STICK_DEV: installed $SAMPLE_OS 3\.0 \(${V3:0:12}\) over 1\.0 from big\.ostick$" \
	"$TEST_TMP/stderr"
check_eq "... deployments: 3.0, then 1.0" "$V3.0 $V1.0" "$(deployed "$SR")"
check "... the repo is consistent (ostree fsck)" ostree --repo="$SR/ostree/repo" fsck
check_eq "... nothing left in the repo's tmp but its cache" "cache" \
	"$(ls -A "$SR/ostree/repo/tmp" | paste -sd ' ')"
check_clean "... no mount of the stick left, no mount directory" "$STICK_DEV" "$RT"

done_testing
