#!/bin/bash
# t0300-usb-sticks.sh: `ostick-apply usb` on stick images of every filesystem type the kernel
# supports among vfat (FAT32), exfat and ext4, each holding the good bundles (v1 full at the top,
# the v2 delta under ostick/) among junk: a tampered v2, a bundle for another board, an older
# version, a file that is no bundle, a macOS ._ copy, a hidden newer bundle, a symlink to it, a
# directory and a non-.ostick copy of it. A blank device takes v1, the next run v2, the next is
# up to date; stderr names every file that was not used and why; the result file (result-file=
# true) says what happened; with result-file=false the stick image stays byte-identical. Then
# sticks with ONLY a tampered bundle (4), ONLY a wrong-device bundle (3), ONLY an older version
# (0), nothing (0, nothing written), and an unformatted image (3). After every run: no mount of
# the stick and no mount directory left.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/usb-lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (tampering, JSON)"

B=$TEST_TMP/bundles
COMMON=(--ref demo/stable --key "$KEYS/test-ed25519.key.pem")
# 0.9 first (its commit can be no newer than 1.0's; equal seconds still lose on the version).
make_rootfs 0.9 "$TEST_TMP/rootfs-0.9"
"$BUNDLE" create --rootfs "$TEST_TMP/rootfs-0.9" --repo "$TEST_TMP/repo-old" --version 0.9 \
	--compatible "$SAMPLE_COMPATIBLE" "${COMMON[@]}" -o "$TEST_TMP/v0.9.ostick" >/dev/null
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
"$BUNDLE" create --repo "$B/repo" --version 2.0 --compatible other-board "${COMMON[@]}" \
	-o "$TEST_TMP/wrong-device.ostick" >/dev/null
# A valid, newer 3.0: only ever on the stick under names the handler must not use.
make_rootfs 3.0 "$TEST_TMP/rootfs-3.0"
"$BUNDLE" create --rootfs "$TEST_TMP/rootfs-3.0" --repo "$TEST_TMP/repo-3" --version 3.0 \
	--compatible "$SAMPLE_COMPATIBLE" "${COMMON[@]}" -o "$TEST_TMP/v3.ostick" >/dev/null
tamper "$B/v2.ostick" "$TEST_TMP/v2-tampered.ostick"
check "precondition: the tampered v2 differs from v2 in one byte" \
	test "$({ cmp -l "$B/v2.ostick" "$TEST_TMP/v2-tampered.ostick" || true; } | wc -l)" = 1

PARENT=/run/ostick
ID=$(machine_id)
RESULT=ostick-result-$ID.txt
diag "result file name: $RESULT"

# fill_full_stick FS: the stick at STICK_MNT gets the good bundles and all the junk.
fill_full_stick() {
	local m=$STICK_MNT
	mkdir "$m/ostick" "$m/d.ostick"
	cp "$B/v1.ostick" "$m/v1.ostick"
	cp "$B/v2.ostick" "$m/ostick/v2.ostick"
	cp "$TEST_TMP/v2-tampered.ostick" "$m/v2-tampered.ostick"
	cp "$TEST_TMP/wrong-device.ostick" "$m/wrong-device.ostick"
	cp "$TEST_TMP/v0.9.ostick" "$m/v0.9.ostick"
	echo "this is not a bundle" >"$m/x.ostick"
	cp "$B/v2.ostick" "$m/._v2.ostick"
	cp "$TEST_TMP/v3.ostick" "$m/.v3.ostick"
	cp "$TEST_TMP/v3.ostick" "$m/v3.ostick.bak"
	echo "release notes" >"$m/README.txt"
	if [ "$1" = ext4 ]; then
		ln -s .v3.ostick "$m/link.ostick"
	fi
}

# run_usb CONFIG DEV [OPTION...]: the handler, output kept in $TEST_TMP/stdout, stderr.
run_usb() {
	local config=$1 dev=$2
	shift 2
	"$APPLY" usb --config "$config" "$@" "$dev"
}

# noted NAME REGEX FILE: the handler's log FILE (plain or journal style) says why it did not use
# the file NAME (its path on the stick): "NAME: REGEX".
noted() {
	check_match "... stderr: $1: $2" "^(<[0-7]>)?ostick-apply: $(echo "$1" |
		sed 's/[.]/\\./g'): $2" "$3"
}

# ---- the full stick, per filesystem type
for fs in vfat exfat ext4; do
	why=$(fs_unsupported "$fs")
	if [ -n "$why" ]; then
		skip "$fs stick: v1, then v2 from ostick/, then up to date among junk" "$why"
		continue
	fi
	SR=$TEST_TMP/sysroot-$fs
	make_sysroot "$SR" uboot 256
	C_RO=$TEST_TMP/$fs-ro.conf
	C_RW=$TEST_TMP/$fs-rw.conf
	usb_config "$C_RO" "$SR" "$K" usb.result-file=false usb.lock-wait=5
	usb_config "$C_RW" "$SR" "$K" usb.result-file=true usb.lock-wait=5
	make_stick "$fs" 64
	fill_full_stick "$fs"
	[ "$fs" = ext4 ] || diag "$fs: no symlinks on this filesystem: link.ostick left out"
	stick_close
	DEV=$STICK_DEV
	IMG=$STICK_IMG

	# run 1: blank device, result-file=false
	sha_before=$(sha256sum <"$IMG")
	check_exit 0 "$fs stick, blank device: exit 0" run_usb "$C_RO" "$DEV"
	cp "$TEST_TMP/stderr" "$TEST_TMP/$fs-run1.err"
	check_match "... installs v1 (the delta needs v1)" \
		"^ostick-apply: $DEV: installed $SAMPLE_OS 1\.0 \(${V1:0:12}\) over nothing from v1\.ostick$" \
		"$TEST_TMP/$fs-run1.err"
	check_match "... says it mounted the stick read-only as $fs" \
		"^ostick-apply: $DEV \($fs[,)].* mounted read-only at $PARENT/${DEV#/dev/}\." \
		"$TEST_TMP/$fs-run1.err"
	noted ostick/v2.ostick "refused: this is a delta from ${V1:0:12}, which is not on this device" \
		"$TEST_TMP/$fs-run1.err"
	noted v0.9.ostick "not chosen" "$TEST_TMP/$fs-run1.err"
	check_eq "... deployments: 1.0" "$V1.0" "$(deployed "$SR")"
	check_eq "... result-file=false: the stick image is byte-identical" "$sha_before" \
		"$(sha256sum <"$IMG")"
	check_clean "... no mount of the stick left, no mount directory" "$DEV" "$PARENT"

	# run 2: result-file=true
	check_exit 0 "$fs stick, device at 1.0: exit 0" run_usb "$C_RW" "$DEV"
	cp "$TEST_TMP/stderr" "$TEST_TMP/$fs-run2.err"
	check_match "... installs v2 from ostick/" \
		"^ostick-apply: $DEV: installed $SAMPLE_OS 2\.0 \(${V2:0:12}\) over 1\.0 from ostick/v2\.ostick$" \
		"$TEST_TMP/$fs-run2.err"
	check_eq "... deployments: 2.0, then 1.0" "$V2.0 $V1.0" "$(deployed "$SR")"
	check_clean "... no mount of the stick left, no mount directory" "$DEV" "$PARENT"
	LOOK=$TEST_TMP/look-$fs
	stick_look "$DEV" "$LOOK"
	cp "$LOOK/$RESULT" "$TEST_TMP/$fs-result2.txt" 2>/dev/null || : >"$TEST_TMP/$fs-result2.txt"
	ls -la "$LOOK" >"$TEST_TMP/$fs-ls.txt"
	stick_unlook "$LOOK"
	check "... result-file=true: $RESULT is on the stick" test -s "$TEST_TMP/$fs-result2.txt"
	diag_file "$TEST_TMP/$fs-result2.txt"
	check_match "... result file: outcome installed" '^outcome: installed$' \
		"$TEST_TMP/$fs-result2.txt"
	check_match "... result file: from 1.0" "^from: 1\.0 \(${V1:0:12}\)$" \
		"$TEST_TMP/$fs-result2.txt"
	check_match "... result file: to 2.0" "^to: 2\.0 \(${V2:0:12}\)$" "$TEST_TMP/$fs-result2.txt"
	check_match "... result file: bundle ostick/v2.ostick" '^bundle: ostick/v2\.ostick$' \
		"$TEST_TMP/$fs-result2.txt"
	check_match "... result file: notes name the skipped files (x.ostick)" \
		'^note: x\.ostick: refused: not a bundle' "$TEST_TMP/$fs-result2.txt"
	check_match "... result file: notes name the skipped files (wrong-device.ostick)" \
		"^note: wrong-device\.ostick: refused: bundle is for 'other-board'" \
		"$TEST_TMP/$fs-result2.txt"
	if [ "$(deployed "$SR")" != "$V2.0 $V1.0" ]; then
		diag "v2 was not installed from the stick: installing it directly, so that the" \
			"checks below stand alone"
		"$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick" >/dev/null 2>&1 || true
	fi

	# run 3: up to date, journal-style stderr, JSON result, result-file=false
	sha_before=$(sha256sum <"$IMG")
	check_exit 0 "$fs stick, device at 2.0 (JOURNAL_STREAM set, --progress=json): exit 0" \
		env JOURNAL_STREAM=8:1234 "$APPLY" usb --config "$C_RO" --progress=json "$DEV"
	cp "$TEST_TMP/stderr" "$TEST_TMP/$fs-run3.err"
	cp "$TEST_TMP/stdout" "$TEST_TMP/$fs-run3.out"
	check_match "... up to date although junk is on the stick" \
		"^<5>ostick-apply: $DEV: up to date, nothing to install$" "$TEST_TMP/$fs-run3.err"
	check "... every stderr line is a journal line (<priority>ostick-apply: ...)" \
		bash -c '! grep -Ev "^<[0-7]>ostick-apply: " "$1"' _ "$TEST_TMP/$fs-run3.err"
	noted x.ostick "refused: not a bundle" "$TEST_TMP/$fs-run3.err"
	noted wrong-device.ostick "refused: bundle is for 'other-board', this device is '$SAMPLE_COMPATIBLE'" \
		"$TEST_TMP/$fs-run3.err"
	noted v0.9.ostick "refused: .*older than the installed 2\.0" "$TEST_TMP/$fs-run3.err"
	noted v1.ostick "refused: .*older than the installed 2\.0" "$TEST_TMP/$fs-run3.err"
	noted ostick/v2.ostick "already installed" "$TEST_TMP/$fs-run3.err"
	noted v2-tampered.ostick "already installed" "$TEST_TMP/$fs-run3.err"
	noted d.ostick "not a regular file" "$TEST_TMP/$fs-run3.err"
	if [ "$fs" = ext4 ]; then
		noted link.ostick "not a regular file \(symlinks are not followed\)" \
			"$TEST_TMP/$fs-run3.err"
	fi
	noted ._v2.ostick "(ignored|hidden|skipped)" "$TEST_TMP/$fs-run3.err"
	noted .v3.ostick "(ignored|hidden|skipped)" "$TEST_TMP/$fs-run3.err"
	check "... nothing said about README.txt and v3.ostick.bak (not bundle names)" \
		bash -c '! grep -E "README|v3\.ostick\.bak" "$1"' _ "$TEST_TMP/$fs-run3.err"
	check_eq "... deployments unchanged: 3.0 (hidden, symlinked, .bak) never installed" \
		"$V2.0 $V1.0" "$(deployed "$SR")"
	check_match "... stdout: a JSON result line, exit code 0" \
		'^\{"event":"result",.*"exit_code":0,' "$TEST_TMP/$fs-run3.out"
	check "... stdout: the JSON result does not say outcome failed for an up-to-date stick" \
		bash -c 'grep -q "^{\"event\":\"result\"" "$1" &&
			! grep -q "^{\"event\":\"result\",\"outcome\":\"failed\"" "$1"' \
		_ "$TEST_TMP/$fs-run3.out"
	check_eq "... result-file=false: the stick image is byte-identical" "$sha_before" \
		"$(sha256sum <"$IMG")"
	check_clean "... no mount of the stick left, no mount directory" "$DEV" "$PARENT"

	# run 4: up to date with result-file=true: the result file says so
	check_exit 0 "$fs stick, up to date, result-file=true: exit 0" run_usb "$C_RW" "$DEV"
	stick_look "$DEV" "$LOOK"
	cp "$LOOK/$RESULT" "$TEST_TMP/$fs-result4.txt" 2>/dev/null || : >"$TEST_TMP/$fs-result4.txt"
	stick_unlook "$LOOK"
	check_match "... result file: outcome up-to-date" '^outcome: up-to-date$' \
		"$TEST_TMP/$fs-result4.txt"
	check_clean "... no mount of the stick left, no mount directory" "$DEV" "$PARENT"

	check_exit 0 "$fs: status --config: exit 0" "$APPLY" status --config "$C_RO"
	cp "$TEST_TMP/stdout" "$TEST_TMP/$fs-status.txt"
	check_match "... 2.0 is the default" "^\* 2\.0 +${V2:0:12} .*default" "$TEST_TMP/$fs-status.txt"
	check_match "... 1.0 is the rollback" "^  1\.0 +${V1:0:12} .*rollback" \
		"$TEST_TMP/$fs-status.txt"
	check_match "... last result: installed 2.0" "^Last result: installed 2\.0 " \
		"$TEST_TMP/$fs-status.txt"
done

check "the handler's mount parent $PARENT is private (0700, root)" \
	test "$(stat -c '%a %u' "$PARENT" 2>&1)" = "700 0"

# ---- sticks holding only one thing (ext4), device Z at 1.0, result-file=true
SR=$TEST_TMP/sysroot-z
make_sysroot "$SR" uboot 256
check_exit 0 "device Z: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
CZ=$TEST_TMP/z.conf
usb_config "$CZ" "$SR" "$K" usb.result-file=true usb.lock-wait=5

# only_stick LABEL CODE REGEX FILE...: a stick with just FILEs (copied to its top level): the
# handler exits CODE and says REGEX, the device is unchanged, nothing is left mounted.
only_stick() {
	local label=$1 code=$2 re=$3 f
	shift 3
	make_stick ext4 64
	for f in "$@"; do cp "$f" "$STICK_MNT/"; done
	stick_close
	device_fingerprint "$SR" >"$TEST_TMP/fp-z"
	check_exit "$code" "stick with only $label: exit $code" run_usb "$CZ" "$STICK_DEV"
	check_match "... says: $re" "$re" "$TEST_TMP/stderr"
	same_device "... device unchanged (device_fingerprint)" "$SR" "$TEST_TMP/fp-z"
	check_clean "... no mount of the stick left, no mount directory" "$STICK_DEV" "$PARENT"
}

only_stick "a tampered v2" 4 \
	"^ostick-apply: usb: .*'delta/0' does not match the signed manifest" \
	"$TEST_TMP/v2-tampered.ostick"
LOOK=$TEST_TMP/look-z
stick_look "$STICK_DEV" "$LOOK"
cp "$LOOK/$RESULT" "$TEST_TMP/z-tampered-result.txt" 2>/dev/null || : >"$TEST_TMP/z-tampered-result.txt"
stick_unlook "$LOOK"
check_match "... result file: outcome failed" '^outcome: failed$' "$TEST_TMP/z-tampered-result.txt"
check_match "... result file: the reason" "^reason: .*'delta/0' does not match" \
	"$TEST_TMP/z-tampered-result.txt"

only_stick "a bundle for another board" 3 \
	"^ostick-apply: usb: .*bundle is for 'other-board', this device is '$SAMPLE_COMPATIBLE'" \
	"$TEST_TMP/wrong-device.ostick"
only_stick "an older version (0.9)" 0 "^ostick-apply: /dev/loop[0-9]+: up to date, nothing to install$" \
	"$TEST_TMP/v0.9.ostick"

echo "release notes" >"$TEST_TMP/README.txt"
only_stick "no bundle (a README.txt)" 0 \
	"^ostick-apply: /dev/loop[0-9]+: no update bundle on this stick$" "$TEST_TMP/README.txt"
stick_look "$STICK_DEV" "$LOOK"
check_eq "... no result file written on a stick without bundles (result-file=true)" \
	"README.txt lost+found" "$(ls "$LOOK" | sort | paste -sd ' ')"
stick_unlook "$LOOK"

make_stick ext4 64
stick_close
sha_before=$(sha256sum <"$STICK_IMG")
check_exit 0 "empty stick (result-file=true): exit 0" run_usb "$CZ" "$STICK_DEV"
check_match "... says: no update bundle" "no update bundle on this stick" "$TEST_TMP/stderr"
check_eq "... the stick image is byte-identical (nothing written)" "$sha_before" \
	"$(sha256sum <"$STICK_IMG")"
check_clean "... no mount of the stick left, no mount directory" "$STICK_DEV" "$PARENT"

# an unformatted stick: zeros
ZIMG=$TEST_TMP/zeroed.img
truncate -s 64M "$ZIMG"
ZDEV=$(losetup --find --show "$ZIMG")
on_exit "losetup -d $ZDEV"
device_fingerprint "$SR" >"$TEST_TMP/fp-z"
check_exit 3 "unformatted (zeroed) stick: exit 3" run_usb "$CZ" "$ZDEV"
check_match "... says no filesystem it can mount" \
	"no filesystem this kernel can mount|holds no filesystem|is not supported" "$TEST_TMP/stderr"
check_clean "... no mount left, no mount directory" "$ZDEV" "$PARENT"
check_eq "... the image is still all zeros" "$(head -c 64M /dev/zero | sha256sum)" \
	"$(sha256sum <"$ZIMG")"
same_device "... device unchanged (device_fingerprint)" "$SR" "$TEST_TMP/fp-z"

done_testing
