#!/bin/bash
# t0340-usb-rule-units.sh: the udev rule and the systemd unit. `make install` (staged with
# DESTDIR, custom UDEVDIR and UNITDIR, nothing rebuilt) puts the tools, the rule, the unit with
# @BINDIR@ replaced and the sample config where asked, keeps an edited config on reinstall, and
# `make uninstall` removes what it put; `systemd-analyze verify` accepts an instance of the unit;
# `udevadm test` shows that the shipped rule asks for ostick-usb@<name>.service (SYSTEMD_WANTS,
# systemd tag) for a USB device with a filesystem -- simulated on a loop device by a test rule that
# sets ID_BUS=usb -- and not for a loop device as it is (not USB), and that a test variant
# matching our loop devices by name instead of ID_BUS matches one with a filesystem and not one
# without. Test rules live in /run/udev/rules.d under unique names and go on exit, with the udev
# database entries and /dev links that `udevadm test` writes. Finally the unit's command line,
# run as systemd would (kernel name, RUNTIME_DIRECTORY, JOURNAL_STREAM), installs from a stick,
# and the default [usb] buses=usb refuses a stick udev does not know to be on USB.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/usb-lib.sh"
require_root

# ---- make install, staged
STAGE=$TEST_TMP/stage
UDEVDIR=/opt/ostick-test/udev
UNITDIR=/opt/ostick-test/units
INSTALL_VARS=(BUILDDIR="$OSTICK_BUILDDIR" DESTDIR="$STAGE" PREFIX=/usr UDEVDIR="$UDEVDIR"
	UNITDIR="$UNITDIR")
stamp() { stat -c '%n %Y %s' "$OSTICK_BUILDDIR/ostick-apply" "$OSTICK_BUILDDIR/ostick-bundle"; }
before=$(stamp)
# -o all: install only, never rebuild (the build's flags, e.g. WERROR, are not known here, and
# SYSCONFDIR is compiled in: the staged install keeps the default /etc).
check "make install (DESTDIR, PREFIX=/usr, custom UDEVDIR and UNITDIR, -o all): exit 0" \
	make -C "$OSTICK_SRCDIR" --no-print-directory -o all install "${INSTALL_VARS[@]}"
diag_file "$TEST_TMP/.out"
check_eq "... nothing was rebuilt" "$before" "$(stamp)"
RULE=$STAGE$UDEVDIR/rules.d/90-ostick-usb.rules
UNIT=$STAGE$UNITDIR/ostick-usb@.service
check "... ostick-apply in PREFIX/bin, executable, the built one" \
	bash -c 'test -x "$1" && cmp "$1" "$2"' _ "$STAGE/usr/bin/ostick-apply" \
	"$OSTICK_BUILDDIR/ostick-apply"
check "... ostick-bundle in PREFIX/bin, executable, the built one" \
	bash -c 'test -x "$1" && cmp "$1" "$2"' _ "$STAGE/usr/bin/ostick-bundle" \
	"$OSTICK_BUILDDIR/ostick-bundle"
check "... the rule in UDEVDIR/rules.d, as shipped" \
	cmp "$RULE" "$OSTICK_SRCDIR/udev-rules/90-ostick-usb.rules.in"
check "... the unit in UNITDIR" test -s "$UNIT"
check_eq "... no @PLACEHOLDER@ left in the rule or the unit" "" \
	"$(grep -H '@[A-Z_]*@' "$RULE" "$UNIT" || true)"
check_match "... the unit's ExecStart is BINDIR/ostick-apply usb ... %I" \
	'^ExecStart=/usr/bin/ostick-apply usb --progress=none %I$' "$UNIT"
check_eq "... the unit is the template with @BINDIR@ replaced by /usr/bin" "" \
	"$(sed 's|@BINDIR@|/usr/bin|g' "$OSTICK_SRCDIR/udev-rules/ostick-usb@.service.in" |
		diff - "$UNIT")"
check "... the sample config in SYSCONFDIR/ostick, and keyring.d" \
	bash -c 'cmp "$1/etc/ostick/ostick.conf" "$2" && test -d "$1/etc/ostick/keyring.d"' _ \
	"$STAGE" "$OSTICK_SRCDIR/samples/ostick.conf"
echo "# edited by the integrator" >>"$STAGE/etc/ostick/ostick.conf"
check "make install again: exit 0" \
	make -C "$OSTICK_SRCDIR" --no-print-directory -o all install "${INSTALL_VARS[@]}"
check_match "... keeps the edited config" '^# edited by the integrator$' \
	"$STAGE/etc/ostick/ostick.conf"
cp "$UNIT" "$TEST_TMP/unit.installed"
cp "$RULE" "$TEST_TMP/rule.installed"
RULE=$TEST_TMP/rule.installed
check "make uninstall: exit 0" \
	make -C "$OSTICK_SRCDIR" --no-print-directory uninstall "${INSTALL_VARS[@]}"
check_eq "... removes the tools, the rule and the unit; keeps the config" \
	"etc/ostick/ostick.conf" \
	"$(cd "$STAGE" && find . -type f | sed 's|^\./||' | sort | paste -sd ' ')"

# ---- systemd-analyze verify on an instance of the unit
if ! command -v systemd-analyze >/dev/null; then
	skip "systemd-analyze verify: ostick-usb@sda1.service" "systemd-analyze is not installed"
else
	U=$TEST_TMP/units
	mkdir -p "$U"
	# The installed unit, its ExecStart pointed at the built binary (verify wants it to exist).
	sed "s|^ExecStart=/usr/bin/ostick-apply |ExecStart=$OSTICK_BUILDDIR/ostick-apply |" \
		"$TEST_TMP/unit.installed" >"$U/ostick-usb@sda1.service"
	check "precondition: the instance's ExecStart names the built binary" \
		grep -q "^ExecStart=$OSTICK_BUILDDIR/ostick-apply usb " "$U/ostick-usb@sda1.service"
	out=$(SYSTEMD_UNIT_PATH=$U: systemd-analyze verify "$U/ostick-usb@sda1.service" 2>&1) &&
		rc=0 || rc=$?
	check_eq "systemd-analyze verify ostick-usb@sda1.service: exit 0, nothing to say" \
		"0 " "$rc $out"
	# Control: verify does complain about a broken copy (it exits 0 on ignored settings, hence
	# the output is checked too).
	sed 's/^Type=oneshot/Type=bogus/' "$U/ostick-usb@sda1.service" >"$U/ostick-bad@sda1.service"
	out=$(SYSTEMD_UNIT_PATH=$U: systemd-analyze verify "$U/ostick-bad@sda1.service" 2>&1) || true
	check_match "control: systemd-analyze verify reports a broken copy" "Type|bogus" \
		<(echo "$out")
fi

# ---- the rule under udevadm test
B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
make_stick ext4 64
cp "$B/v1.ostick" "$STICK_MNT/"
stick_close
FS_DEV=$STICK_DEV
FS_NAME=$STICK_NAME
ZIMG=$TEST_TMP/zeroed.img
truncate -s 64M "$ZIMG"
RAW_DEV=$(losetup --find --show "$ZIMG")
on_exit "losetup -d $RAW_DEV"
RAW_NAME=${RAW_DEV#/dev/}
SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 256

# Before udev knows anything of the stick: the default buses=usb refuses it (no ID_BUS).
C_USB=$TEST_TMP/buses-usb.conf
usb_config "$C_USB" "$SR" "$K" usb.buses=usb
check_exit 3 "default [usb] buses=usb: a loop device (no ID_BUS) is refused: exit 3" \
	"$APPLY" usb --config "$C_USB" "$FS_DEV"
check_match "... says it is not on a configured bus" \
	"is on bus '\(unknown\)', not one of the configured \[usb\] buses" "$TEST_TMP/stderr"
check_clean "... nothing mounted" "$FS_DEV" /run/ostick

if ! command -v udevadm >/dev/null; then
	skip "udevadm test: the rule's matching" "udevadm is not installed"
else
	udev_snapshot
	on_exit "udev_restore $FS_DEV $RAW_DEV"
	mkdir -p /run/udev/rules.d
	TAG=ostick-t0340-$$
	VARIANT=/run/udev/rules.d/90-$TAG-variant.rules
	SHIPPED=/run/udev/rules.d/90-$TAG-shipped.rules
	FAKEBUS=/run/udev/rules.d/89-$TAG-fakebus.rules
	on_exit "rm -f $VARIANT $SHIPPED $FAKEBUS"
	# The variant matches our two loop devices by name instead of ENV{ID_BUS}=="usb" (not every
	# loop*: if a udevd runs on this machine, it must not act on other loop devices meanwhile).
	sed "s/ENV{ID_BUS}==\"usb\"/KERNEL==\"$FS_NAME|$RAW_NAME\"/" "$RULE" >"$VARIANT"
	check_eq "precondition: the variant differs from the rule in the bus match only" \
		"ENV{ID_BUS}==\"usb\" -> KERNEL==\"$FS_NAME|$RAW_NAME\"" \
		"$(diff "$RULE" "$VARIANT" | sed -n 's/^[<>] //p' | grep -oE \
			'ENV\{ID_BUS\}=="usb"|KERNEL=="[^"]*"' | paste -sd '>' | sed 's/>/ -> /')"

	# udev_test TAG DEV: udevadm test --action=add for DEV; output in $TEST_TMP/udev-TAG.txt.
	udev_test() {
		udevadm test --action=add "/sys/class/block/${2#/dev/}" >"$TEST_TMP/udev-$1.txt" 2>&1
	}
	# rule_clean FILE RULE: the output read RULE and reported nothing else about it (a syntax
	# error is reported as "RULE:LINE ...").
	rule_clean() {
		grep -qF "Reading rules file: $2" "$1" &&
			! grep -F "$2" "$1" | grep -vF "Reading rules file: $2"
	}
	rules_clean() { # rules_clean FILE RULE...
		local file=$1 rule
		shift
		for rule in "$@"; do rule_clean "$file" "$rule" || return 1; done
	}

	check "udevadm test, variant, loop device with ext4: exit 0" udev_test variant-fs "$FS_DEV"
	check "... the variant was read, without complaint" rule_clean \
		"$TEST_TMP/udev-variant-fs.txt" "$VARIANT"
	check_match "... ID_FS_USAGE=filesystem (blkid ran)" '^ID_FS_USAGE=filesystem$' \
		"$TEST_TMP/udev-variant-fs.txt"
	check_match "... SYSTEMD_WANTS names ostick-usb@$FS_NAME.service" \
		"^SYSTEMD_WANTS=(.* )?ostick-usb@$FS_NAME\.service( |\$)" \
		"$TEST_TMP/udev-variant-fs.txt"
	check_match "... the device has the systemd tag" '^TAGS=.*:systemd:' \
		"$TEST_TMP/udev-variant-fs.txt"
	check "udevadm test, variant, loop device without a filesystem: exit 0" \
		udev_test variant-raw "$RAW_DEV"
	check "... no ID_FS_USAGE" bash -c '! grep "^ID_FS_USAGE=" "$1"' _ \
		"$TEST_TMP/udev-variant-raw.txt"
	check "... no ostick-usb unit wanted" bash -c '! grep "^SYSTEMD_WANTS=.*ostick-usb" "$1"' _ \
		"$TEST_TMP/udev-variant-raw.txt"
	rm -f "$VARIANT"

	cp "$RULE" "$SHIPPED"
	check "udevadm test, shipped rule, loop device with ext4: exit 0" udev_test shipped-fs \
		"$FS_DEV"
	check "... the shipped rule was read, without complaint" rule_clean \
		"$TEST_TMP/udev-shipped-fs.txt" "$SHIPPED"
	check "... no ID_BUS on a loop device" bash -c '! grep "^ID_BUS=" "$1"' _ \
		"$TEST_TMP/udev-shipped-fs.txt"
	check "... no ostick-usb unit wanted (not USB)" \
		bash -c '! grep "^SYSTEMD_WANTS=.*ostick-usb" "$1"' _ "$TEST_TMP/udev-shipped-fs.txt"

	# The shipped rule, with a test rule before it that says the two loop devices are on USB.
	printf 'SUBSYSTEM=="block", KERNEL=="%s|%s", ENV{ID_BUS}="usb"\n' "$FS_NAME" "$RAW_NAME" \
		>"$FAKEBUS"
	check "udevadm test, shipped rule, ext4 loop device said to be USB: exit 0" \
		udev_test fakebus-fs "$FS_DEV"
	check "... both rules read, without complaint" rules_clean "$TEST_TMP/udev-fakebus-fs.txt" \
		"$SHIPPED" "$FAKEBUS"
	check_match "... ID_BUS=usb" '^ID_BUS=usb$' "$TEST_TMP/udev-fakebus-fs.txt"
	check_match "... SYSTEMD_WANTS names ostick-usb@$FS_NAME.service" \
		"^SYSTEMD_WANTS=(.* )?ostick-usb@$FS_NAME\.service( |\$)" \
		"$TEST_TMP/udev-fakebus-fs.txt"
	check_match "... the device has the systemd tag" '^TAGS=.*:systemd:' \
		"$TEST_TMP/udev-fakebus-fs.txt"
	check "udevadm test, shipped rule, USB loop device without a filesystem: exit 0" \
		udev_test fakebus-raw "$RAW_DEV"
	check "... no ostick-usb unit wanted (no filesystem)" \
		bash -c '! grep "^SYSTEMD_WANTS=.*ostick-usb" "$1"' _ "$TEST_TMP/udev-fakebus-raw.txt"
	rm -f "$SHIPPED" "$FAKEBUS"
	! test -e "/run/udev/data/b$(cat "/sys/class/block/$FS_NAME/dev")" ||
		diag "udevadm test wrote udev database entries and /dev links: removing them"
	udev_restore "$FS_DEV" "$RAW_DEV"
	check_eq "after the udev tests: /run/udev, /dev/disk, /dev/block as before" "" \
		"$(udev_paths | diff "$TEST_TMP/udev-snapshot" - || true)"
fi

# ---- the unit's command line, as systemd runs it for sda1 -> here the loop device's name
C=$TEST_TMP/device.conf
usb_config "$C" "$SR" "$K"
RT=$TEST_TMP/run/ostick-usb/$FS_NAME
mkdir -p "$RT"
chmod 0700 "$RT"
check_exit 0 "the unit's command (usb --progress=none KERNEL-NAME, RUNTIME_DIRECTORY, journal): exit 0" \
	env RUNTIME_DIRECTORY="$RT" JOURNAL_STREAM=8:4242 "$APPLY" usb --progress=none \
	--config "$C" "$FS_NAME"
check_match "... installed 1.0" \
	"^<5>ostick-apply: $FS_NAME: installed $SAMPLE_OS 1\.0 \(${V1:0:12}\) over nothing from v1\.ostick$" \
	"$TEST_TMP/stderr"
check_match "... mounted under RUNTIME_DIRECTORY" \
	"^<6>ostick-apply: $FS_DEV \(ext4\) mounted read-only at $RT/$FS_NAME\." "$TEST_TMP/stderr"
check "... every stderr line has a journal priority" \
	bash -c '! grep -Ev "^<[0-7]>ostick-apply: " "$1"' _ "$TEST_TMP/stderr"
check_eq "... nothing on stdout (--progress=none)" "" "$(cat "$TEST_TMP/stdout")"
check_clean "... no mount of the stick left, no mount directory" "$FS_DEV" "$RT"
check_eq "... deployments: 1.0" "$V1.0" "$(deployed "$SR")"

done_testing
