#!/bin/bash
# t0310-usb-mount-options.sh: while `ostick-apply usb` works, the stick is mounted read-only,
# nosuid, nodev, noexec, in a private (0700) directory under $RUNTIME_DIRECTORY (what the unit's
# RuntimeDirectory= gives it); vfat/exfat also with fmask=0177,dmask=0077. To look at the mount
# while it exists, the test holds the sysroot lock so that the handler waits ([usb] lock-wait=30),
# reads /proc/<pid>/mountinfo and tries to write, execute and open a device node on the stick;
# then releases the lock and the handler installs. With lock-wait=1 and the lock held throughout,
# the handler gives up: exit 6, nothing mounted, device unchanged.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/usb-lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (holding the sysroot lock)"

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')

for fs in vfat exfat ext4; do
	why=$(fs_unsupported "$fs")
	if [ -n "$why" ]; then
		skip "$fs stick: mounted ro,nosuid,nodev,noexec in a private directory" "$why"
		continue
	fi
	SR=$TEST_TMP/sysroot-$fs
	make_sysroot "$SR" uboot 256
	C=$TEST_TMP/$fs.conf
	usb_config "$C" "$SR" "$K" usb.lock-wait=30
	make_stick "$fs" 64
	cp "$B/v1.ostick" "$STICK_MNT/"
	printf '#!/bin/sh\necho executed\n' >"$STICK_MNT/run.sh"
	chmod 755 "$STICK_MNT/run.sh" 2>/dev/null || true # (vfat: the mount decides)
	[ "$fs" != ext4 ] || mknod "$STICK_MNT/null" c 1 3
	stick_close
	DEV=$STICK_DEV
	RT=$TEST_TMP/run-$fs/ostick-usb/$STICK_NAME # as systemd's RuntimeDirectory=ostick-usb/%i
	mkdir -p "$RT"
	chmod 0700 "$RT"

	check "$fs: precondition: the sysroot lock is held" hold_sysroot_lock "$SR"
	RUNTIME_DIRECTORY=$RT "$APPLY" usb --config "$C" "$DEV" >"$TEST_TMP/$fs.out" \
		2>"$TEST_TMP/$fs.err" &
	pid=$!
	on_exit "kill $pid"
	check "$fs: the handler waits for the lock (lock-wait=30)" wait_for \
		"another update is running: waiting up to 30 s" "$TEST_TMP/$fs.err" 20 "$pid"
	mounts_of "$DEV" >"$TEST_TMP/$fs.self-mountinfo"
	majmin=$(cat "/sys/class/block/$STICK_NAME/dev")
	awk -v m="$majmin" '$3 == m' "/proc/$pid/mountinfo" >"$TEST_TMP/$fs.mountinfo" 2>&1 || true
	diag "mountinfo: $(cat "$TEST_TMP/$fs.mountinfo")"
	check_eq "... the stick is mounted exactly once" 1 "$(wc -l <"$TEST_TMP/$fs.mountinfo")"
	read -r _ _ _ root mnt opts _ <"$TEST_TMP/$fs.mountinfo" || true
	super=$(sed -n 's/.* - //p' "$TEST_TMP/$fs.mountinfo")
	check_match "... at a fresh directory of its own under \$RUNTIME_DIRECTORY" \
		"^$RT/$STICK_NAME\.[A-Za-z0-9]{6}\$" <(echo "$mnt")
	check_eq "... the whole filesystem (root /)" / "$root"
	for o in ro nosuid nodev noexec; do
		check_match "... mount option $o" "(^|,)$o(,|\$)" <(echo "$opts")
	done
	check_match "... filesystem $fs, read-only superblock" "^$fs $DEV ro(,|\$)" <(echo "$super")
	case $fs in
	ext4)
		check_match "... noload: no journal replay (norecovery)" "(^|,)norecovery(,|\$)" \
			<(echo "$super")
		;;
	vfat | exfat)
		check_match "... fmask=0177 (files 0600)" "(^|,)fmask=0177(,|\$)" <(echo "$super")
		check_match "... dmask=0077 (directories 0700)" "(^|,)dmask=0077(,|\$)" <(echo "$super")
		;;
	esac
	check_eq "... its parent (\$RUNTIME_DIRECTORY) is 0700, root's: nobody else reaches it" \
		"700 0" "$(stat -c '%a %u' "$RT" 2>&1)"
	check_eq "... the same mount is seen from here (no PrivateMounts outside systemd)" \
		"$(cat "$TEST_TMP/$fs.mountinfo")" "$(cat "$TEST_TMP/$fs.self-mountinfo")"
	check "... the bundle is there to read" cmp "$B/v1.ostick" "$mnt/v1.ostick"
	check "... writing fails (read-only)" bash -c '! touch "$1/new" 2>/dev/null' _ "$mnt"
	check "... executing a program on it fails (noexec)" \
		bash -c '! "$1/run.sh" 2>/dev/null' _ "$mnt"
	if [ "$fs" = ext4 ]; then
		check "... opening a device node on it fails (nodev)" \
			bash -c '! head -c 1 "$1/null" 2>/dev/null' _ "$mnt"
	fi
	release_sysroot_lock
	rc=0
	wait "$pid" || rc=$?
	check_eq "$fs: lock released: the handler goes on and exits 0" 0 "$rc"
	diag_file "$TEST_TMP/$fs.err"
	check_match "... installed 1.0" \
		"^ostick-apply: $DEV: installed $SAMPLE_OS 1\.0 \(${V1:0:12}\) over nothing from v1\.ostick$" \
		"$TEST_TMP/$fs.err"
	check_eq "... deployments: 1.0" "$V1.0" "$(deployed "$SR")"
	check_clean "... no mount of the stick left, no mount directory" "$DEV" "$RT"
	check "... the mount directory is gone" test ! -e "$mnt"
done

# lock-wait=1 and the lock held throughout: exit 6 (busy), nothing left mounted
SR=$TEST_TMP/sysroot-busy
make_sysroot "$SR" uboot 256
C=$TEST_TMP/busy.conf
usb_config "$C" "$SR" "$K" usb.lock-wait=1 usb.result-file=true
make_stick ext4 64
cp "$B/v1.ostick" "$STICK_MNT/"
stick_close
RT=$TEST_TMP/run-busy
device_fingerprint "$SR" >"$TEST_TMP/fp-busy"
check "busy: precondition: the sysroot lock is held" hold_sysroot_lock "$SR"
start=$(date +%s)
check_exit 6 "busy: lock held throughout, lock-wait=1: exit 6" \
	env RUNTIME_DIRECTORY="$RT" "$APPLY" usb --config "$C" "$STICK_DEV"
took=$(($(date +%s) - start))
check_match "... says it waited" "another update is running: waiting up to 1 s" \
	"$TEST_TMP/stderr"
check_match "... says why it gave up" "^ostick-apply: usb: .*holds the sysroot lock" \
	"$TEST_TMP/stderr"
check "... gave up within 10 s (took ${took} s)" test "$took" -le 10
release_sysroot_lock
check_clean "... no mount of the stick left, no mount directory" "$STICK_DEV" "$RT"
check_eq "... the handler created \$RUNTIME_DIRECTORY 0700, root's" "700 0" \
	"$(stat -c '%a %u' "$RT" 2>&1)"
same_device "... device unchanged (device_fingerprint)" "$SR" "$TEST_TMP/fp-busy"
LOOK=$TEST_TMP/look
stick_look "$STICK_DEV" "$LOOK"
cp "$LOOK/ostick-result-$(machine_id).txt" "$TEST_TMP/busy-result.txt" 2>/dev/null ||
	: >"$TEST_TMP/busy-result.txt"
stick_unlook "$LOOK"
check_match "... result file: outcome failed" '^outcome: failed$' "$TEST_TMP/busy-result.txt"
check_match "... result file: the reason" '^reason: .*lock' "$TEST_TMP/busy-result.txt"

done_testing
