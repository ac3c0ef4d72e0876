#!/bin/bash
# t0350-usb-reboot-monitor.sh: [policy] reboot=after-install (reboot-delay=1, a test
# reboot-command) runs the command after an install from a stick -- logged first, after the
# delay, with the stick already unmounted -- and not after an up-to-date, empty or refused
# stick, nor for a target already the default of this (not booted) sysroot; a failing reboot
# command is reported. `ostick-apply monitor --once` exits 0 and touches
# nothing when udev knows no stick for it. Then, only if no udevd runs here, a private
# systemd-udevd: a stick announced to it (udevadm trigger --action=add) is found and installed by
# `monitor --once`, and the long-running `monitor` installs from a second stick announced while
# it watches, and exits 0 on SIGTERM. A test rule tags only our two loop devices with a unique
# ID_BUS, and [usb] buses names only that bus, so that no other block device is ever touched;
# udevd is stopped and what it wrote under /run/udev, /dev/disk and /dev/block is removed.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/usb-lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (tampering)"

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
tamper "$B/v2.ostick" "$TEST_TMP/v2-tampered.ostick"

# stick_with FILE...: a fresh ext4 stick holding FILEs at its top level (STICK_DEV...).
stick_with() {
	local f
	make_stick ext4 64
	for f in "$@"; do cp "$f" "$STICK_MNT/"; done
	stick_close
}

# ---- [policy] reboot=after-install
SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 256
RT=$TEST_TMP/run
ERR=$TEST_TMP/usb.err
REBOOTED=$TEST_TMP/rebooted
# The fake reboot records when it ran, whether the handler had already logged the reboot, and
# how many mounts of the stick (MAJ:MIN) exist at that moment.
cat >"$TEST_TMP/fake-reboot.sh" <<'EOF'
#!/bin/sh
{
	echo "time $(date +%s.%N)"
	grep -q 'rebooting in 1 s' "$1" && echo "logged-before yes" || echo "logged-before no"
	echo "stick-mounts $(awk -v m="$2" '$3 == m' /proc/self/mountinfo | wc -l)"
} >"$3"
EOF
chmod 755 "$TEST_TMP/fake-reboot.sh"

# usb_reboot CONFIG DEV: the handler with the reboot policy of CONFIG; stderr in $ERR.
usb_reboot() {
	RUNTIME_DIRECTORY=$RT "$APPLY" usb --config "$1" "$2" 2>"$ERR"
}

stick_with "$B/v1.ostick"
DEV=$STICK_DEV
MAJMIN=$(cat "/sys/class/block/$STICK_NAME/dev")
C=$TEST_TMP/reboot.conf
REBOOT_CMD="$TEST_TMP/fake-reboot.sh $ERR $MAJMIN $REBOOTED"
usb_config "$C" "$SR" "$K" policy.reboot=after-install policy.reboot-delay=1 \
	"policy.reboot-command=$REBOOT_CMD"
start=$(date +%s.%N)
check_exit 0 "reboot=after-install, stick with v1: exit 0" usb_reboot "$C" "$DEV"
diag_file "$ERR"
check_match "... installed 1.0" "^ostick-apply: $DEV: installed $SAMPLE_OS 1\.0 " "$ERR"
check_match "... logs the reboot, its delay and command" \
	"^ostick-apply: rebooting in 1 s \(\[policy\] reboot=after-install\): $REBOOT_CMD$" "$ERR"
check_eq "... the install is logged before the reboot" "installed rebooting" \
	"$(grep -oE ': (installed|rebooting) ' "$ERR" | tr -d ': ' | paste -sd ' ')"
check "... the reboot command ran" test -s "$REBOOTED"
diag_file "$REBOOTED"
check_match "... the reboot was logged before the command ran" '^logged-before yes$' "$REBOOTED"
check_match "... the stick was unmounted before the command ran" '^stick-mounts 0$' "$REBOOTED"
ran=$(sed -n 's/^time //p' "$REBOOTED")
check "... the command ran at least reboot-delay=1 s after the start" \
	awk -v a="$start" -v b="${ran:-0}" 'BEGIN { exit !(b - a >= 1.0) }'
check_clean "... no mount of the stick left, no mount directory" "$DEV" "$RT"

rm -f "$REBOOTED"
check_exit 0 "reboot=after-install, the same stick again (up to date): exit 0" \
	usb_reboot "$C" "$DEV"
check_match "... up to date" ": up to date, nothing to install$" "$ERR"
check "... no reboot logged" bash -c '! grep -q rebooting "$1"' _ "$ERR"
check "... the reboot command did not run" test ! -e "$REBOOTED"

echo "release notes" >"$TEST_TMP/README.txt"
stick_with "$TEST_TMP/README.txt"
check_exit 0 "reboot=after-install, a stick without bundles: exit 0" usb_reboot "$C" "$STICK_DEV"
check "... the reboot command did not run" test ! -e "$REBOOTED"

stick_with "$TEST_TMP/v2-tampered.ostick"
check_exit 4 "reboot=after-install, a tampered v2: exit 4" usb_reboot "$C" "$STICK_DEV"
check "... no reboot logged" bash -c '! grep -q rebooting "$1"' _ "$ERR"
check "... the reboot command did not run" test ! -e "$REBOOTED"

stick_with "$B/v2.ostick"
C_FAIL=$TEST_TMP/reboot-fails.conf
usb_config "$C_FAIL" "$SR" "$K" policy.reboot=after-install policy.reboot-delay=0 \
	"policy.reboot-command=false"
check_exit 1 "reboot=after-install, v2, the reboot command fails: exit 1" \
	usb_reboot "$C_FAIL" "$STICK_DEV"
check_match "... installed 2.0 first" "^ostick-apply: $STICK_DEV: installed $SAMPLE_OS 2\.0 " \
	"$ERR"
check_match "... says the reboot command failed" "^ostick-apply: usb: reboot command 'false'" \
	"$ERR"
check_eq "... deployments: 2.0, then 1.0" "$V2.0 $V1.0" "$(deployed "$SR")"

# ---- the target already the default: on a sysroot that is not booted (this one), nothing is
# pending (a reboot of this machine would not start it), so no reboot. On a booted device a
# default that is not the booted deployment reboots by policy (tests/unit/test-policy.c,
# tests/e2e s6-pending).
check_exit 0 "install v2 again (already the default): exit 0" \
	"$APPLY" install --config "$C" --progress=json "$B/v2.ostick"
check_match "... already installed, nothing said about a reboot" \
	"^already installed: $SAMPLE_OS 2\.0 \([0-9a-f]{12}\)$" "$TEST_TMP/stderr"
check_match "... JSON result: already-installed, reboot_pending false" \
	'"outcome":"already-installed",.*"reboot_pending":false' "$TEST_TMP/stdout"
check_exit 0 "reboot=after-install, the v2 stick again (the default, not booted): exit 0" \
	usb_reboot "$C" "$STICK_DEV"
check_match "... up to date, no reboot pending" ": up to date, nothing to install$" "$ERR"
check "... no reboot logged" bash -c '! grep -q rebooting "$1"' _ "$ERR"
check "... the reboot command did not run" test ! -e "$REBOOTED"

# ---- monitor --once, no stick known to udev
SR=$TEST_TMP/sysroot-m
make_sysroot "$SR" uboot 256
BUS=osticktest$$
CM=$TEST_TMP/monitor.conf
usb_config "$CM" "$SR" "$K" usb.buses="$BUS"
stick_with "$B/v1.ostick"
DEV_A=$STICK_DEV
NAME_A=$STICK_NAME
stick_with "$B/v2.ostick"
DEV_B=$STICK_DEV
NAME_B=$STICK_NAME
RTM=$TEST_TMP/run-monitor
device_fingerprint "$SR" >"$TEST_TMP/fp-m"
udev_running=no
udevadm control --ping >/dev/null 2>&1 && udev_running=yes
check_exit 0 "monitor --once, [usb] buses=$BUS (no device udev knows is on it): exit 0" \
	env RUNTIME_DIRECTORY="$RTM" "$APPLY" monitor --once --config "$CM"
check_match "... says it looked once" "^ostick-apply: watching for update sticks \(once\)$" \
	"$TEST_TMP/stderr"
check_eq "... and nothing else" 1 "$(wc -l <"$TEST_TMP/stderr")"
same_device "... device unchanged" "$SR" "$TEST_TMP/fp-m"
check_eq "... nothing mounted under its runtime directory" "" \
	"$(grep -F " $RTM/" /proc/self/mountinfo || true)"

# With buses=any, monitor would handle every block device udev knows to hold a filesystem.
known=$(udevadm info --export-db 2>/dev/null | awk '/^P: /{p=$2} /^E: SUBSYSTEM=block/{b=p}
	/^E: ID_FS_USAGE=filesystem/ && b==p {print p}' | paste -sd ' ')
if [ "$udev_running" = yes ] || [ -n "$known" ]; then
	skip "monitor --once, buses=any, no stick known to udev: exit 0, nothing mounted" \
		"udev knows block devices with a filesystem here (${known:-a udevd runs}): buses=any would mount them"
else
	CANY=$TEST_TMP/monitor-any.conf
	usb_config "$CANY" "$SR" "$K"
	check_exit 0 "monitor --once, buses=any, no stick known to udev (two loop sticks attached): exit 0" \
		env RUNTIME_DIRECTORY="$RTM" "$APPLY" monitor --once --config "$CANY"
	check_eq "... says nothing but that it looked once" \
		"ostick-apply: watching for update sticks (once)" "$(cat "$TEST_TMP/stderr")"
	same_device "... device unchanged" "$SR" "$TEST_TMP/fp-m"
fi

# ---- a private udevd
UDEVD=
for u in /lib/systemd/systemd-udevd /usr/lib/systemd/systemd-udevd; do
	[ -x "$u" ] && UDEVD=$u && break
done
if [ "$udev_running" = yes ]; then
	skip "private udevd: monitor finds and installs from announced sticks" \
		"a udevd already runs here (udevadm control --ping answers): not starting another"
elif [ -z "$UDEVD" ]; then
	skip "private udevd: monitor finds and installs from announced sticks" \
		"systemd-udevd is not installed"
else
	udev_snapshot
	on_exit "udev_restore $DEV_A $DEV_B"
	udev_restore "$DEV_A" "$DEV_B" # stale entries for our loop devices, from someone else
	mkdir -p /run/udev/rules.d
	RULE=/run/udev/rules.d/99-ostick-t0350-$$.rules
	printf 'SUBSYSTEM=="block", KERNEL=="%s|%s", ENV{ID_BUS}="%s"\n' "$NAME_A" "$NAME_B" \
		"$BUS" >"$RULE"
	on_exit "rm -f $RULE"
	"$UDEVD" >"$TEST_TMP/udevd.log" 2>&1 &
	UDEVD_PID=$!
	on_exit "kill $UDEVD_PID"
	up=no
	for _ in $(seq 100); do
		udevadm control --ping >/dev/null 2>&1 && up=yes && break
		sleep 0.05
	done
	check_eq "private udevd: it answers" yes "$up"
	check "... udevadm trigger --action=add stick A: exit 0" \
		udevadm trigger --action=add --settle "/sys/class/block/$NAME_A"
	udevadm info --query=property "$DEV_A" >"$TEST_TMP/udev-a.txt" 2>&1 || true
	check_match "... udev knows stick A holds a filesystem" '^ID_FS_USAGE=filesystem$' \
		"$TEST_TMP/udev-a.txt"
	check_match "... and has our test bus on it" "^ID_BUS=$BUS\$" "$TEST_TMP/udev-a.txt"
	check_exit 0 "monitor --once with stick A known to udev: exit 0" \
		env RUNTIME_DIRECTORY="$RTM" "$APPLY" monitor --once --config "$CM"
	diag_file "$TEST_TMP/stderr"
	check_match "... installed 1.0 from stick A" \
		"^ostick-apply: $DEV_A: installed $SAMPLE_OS 1\.0 \(${V1:0:12}\) over nothing from v1\.ostick$" \
		"$TEST_TMP/stderr"
	check "... did not touch stick B (not announced)" \
		bash -c '! grep -q "$1" "$2"' _ "$DEV_B" "$TEST_TMP/stderr"
	check_eq "... deployments: 1.0" "$V1.0" "$(deployed "$SR")"
	check_clean "... no mount of stick A left" "$DEV_A" "$RTM"

	RUNTIME_DIRECTORY=$RTM "$APPLY" monitor --config "$CM" >"$TEST_TMP/monitor.out" \
		2>"$TEST_TMP/monitor.err" &
	MON=$!
	on_exit "kill $MON"
	check "monitor (long-running): stick A, present at the start, is up to date" wait_for \
		"^ostick-apply: $DEV_A: up to date" "$TEST_TMP/monitor.err" 20 "$MON"
	check "... udevadm trigger --action=add stick B: exit 0" \
		udevadm trigger --action=add --settle "/sys/class/block/$NAME_B"
	check "... installs 2.0 from stick B" wait_for \
		"^ostick-apply: $DEV_B: installed $SAMPLE_OS 2\.0 \(${V2:0:12}\) over 1\.0 from v2\.ostick$" \
		"$TEST_TMP/monitor.err" 30 "$MON"
	kill -TERM "$MON" 2>/dev/null || true
	rc=0
	wait "$MON" || rc=$?
	diag_file "$TEST_TMP/monitor.err"
	check_eq "... SIGTERM: exits 0" 0 "$rc"
	check_eq "... deployments: 2.0, then 1.0" "$V2.0 $V1.0" "$(deployed "$SR")"
	check_clean "... no mount of stick B left" "$DEV_B" "$RTM"

	udevadm control --exit >/dev/null 2>&1 || true
	rc=0
	wait "$UDEVD_PID" || rc=$?
	check_eq "private udevd: stopped (exit 0)" 0 "$rc"
	rm -f "$RULE"
	udev_restore "$DEV_A" "$DEV_B"
	check_eq "... /run/udev, /dev/disk, /dev/block as before" "" \
		"$(udev_paths | diff "$TEST_TMP/udev-snapshot" - || true)"
fi

done_testing
