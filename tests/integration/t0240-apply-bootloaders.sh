#!/bin/bash
# t0240-apply-bootloaders.sh: ostick-apply installs 1.0 then 2.0 on real loop-mounted sysroots
# with each of libostree's bootloader backends (sysroot.bootloader uboot, none, syslinux, grub2)
# and checks what each writes: BLS entries, uEnv.txt, syslinux.cfg or grub.cfg (through a stub
# generator), the kernel and initramfs copies under boot/ostree/, and `ostree admin status`.
# Also U-Boot's very first deploy, with no boot/loader at all and with an empty uEnv.txt, and a
# GRUB generator that fails (README "Failure changes nothing").
. "$(dirname "$0")/lib.sh"
require_root

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)

# resolve_ostree_arg SYSROOT "KERNEL ARGS": the deployment directory the ostree= argument
# leads to, through the ostree/boot.N symlinks (empty if none).
resolve_ostree_arg() {
	local arg
	arg=$(printf '%s\n' $2 | sed -n 's/^ostree=//p')
	[ -n "$arg" ] && readlink -f "$1$arg" || true
}

# bls_key FILE KEY: the value of a BLS entry's key.
bls_key() { sed -n "s/^$2 //p" "$1"; }

# install_both SYSROOT NAME: v1 (full), then v2 (delta 1->2).
install_both() {
	check_exit 0 "$2: install 1.0" "$APPLY" install $(apply_args "$1" "$K") "$B/v1.ostick"
	check_exit 0 "$2: install 2.0 (delta)" "$APPLY" install $(apply_args "$1" "$K") \
		"$B/v2.ostick"
}

# deployed SYSROOT: the deployments `ostree admin status` lists, in order, as CHECKSUM.SERIAL.
deployed() {
	ostree admin --sysroot="$1" status | grep -oE "$SAMPLE_OS [0-9a-f]{64}\.[0-9]+" |
		awk '{print $2}' | xargs || true
}

# deploy_dir SYSROOT CHECKSUM: the directory of the deployment of CHECKSUM admin status lists.
deploy_dir() {
	echo "$1/ostree/deploy/$SAMPLE_OS/deploy/$(deployed "$1" | tr ' ' '\n' | grep "^$2\." |
		head -n 1 || true)"
}

# check_deployed SYSROOT NAME: what every backend must leave after 1.0 then 2.0: admin status
# lists 2.0 then 1.0, and deploy/ holds nothing else; two BLS entries, the default one
# (version 2) booting 2.0, the other 1.0; each entry's kernel and initramfs copied under
# boot/ostree/ and identical to its deployment's.
check_deployed() {
	local sr=$1 name=$2 status entries e d want ver linux initrd
	status=$(deployed "$sr")
	check_eq "$name: ostree admin status lists 2.0 then 1.0" "$V2 $V1" \
		"$(printf '%s\n' $status | sed 's/\.[0-9]*$//' | xargs)"
	check_eq "$name: deploy/ holds just these two deployments (and their origins)" \
		"$(for d in $status; do echo "$d"; echo "$d.origin"; done | sort | xargs)" \
		"$(ls -1 "$sr/ostree/deploy/$SAMPLE_OS/deploy" | sort | xargs)"
	entries=$(cd "$sr/boot/loader/entries" 2>/dev/null && echo *.conf || true)
	check_eq "$name: two BLS entries" "ostree-1-$SAMPLE_OS.conf ostree-2-$SAMPLE_OS.conf" \
		"$entries"
	for ver in 2 1; do
		e=$sr/boot/loader/entries/ostree-$ver-$SAMPLE_OS.conf
		[ "$ver" = 2 ] && want=$V2 || want=$V1
		d=$(deploy_dir "$sr" "$want")
		check_eq "$name: BLS entry $ver boots ${want:0:12}" "$(readlink -f "$d")" \
			"$(resolve_ostree_arg "$sr" "$(bls_key "$e" options 2>/dev/null)")"
		check_match "$name: BLS entry $ver has the OS version in its title" \
			"^title .* $ver\.0 \(ostree:$((2 - ver))\)" "$e"
		linux=$(bls_key "$e" linux 2>/dev/null || true)
		initrd=$(bls_key "$e" initrd 2>/dev/null || true)
		check "$name: entry $ver kernel copied under boot/ostree/" \
			test "${linux#/ostree/}" != "$linux" -a -f "$sr/boot$linux"
		check "$name: entry $ver kernel is the deployment's" \
			cmp "$sr/boot$linux" "$(echo "$d"/usr/lib/modules/*/vmlinuz)"
		check "$name: entry $ver initramfs copied under boot/ostree/" \
			test "${initrd#/ostree/}" != "$initrd" -a -f "$sr/boot$initrd"
		check "$name: entry $ver initramfs is the deployment's" \
			cmp "$sr/boot$initrd" "$(echo "$d"/usr/lib/modules/*/initramfs.img)"
	done
}

# no_file SYSROOT NAME...: passes if no file of these names exists under boot/.
no_file() {
	local sr=$1 found
	shift
	for n in "$@"; do
		found=$(find "$sr/boot" -name "$n" | head -n 1)
		[ -z "$found" ] || { echo "found $found"; return 1; }
	done
}

# uenv SYSROOT KEY: a value of boot/loader/uEnv.txt.
uenv() { sed -n "s/^$2=//p" "$1/boot/loader/uEnv.txt" 2>/dev/null || true; }

# ---- U-Boot: no boot/loader at all before the first deploy (ostick-apply creates it)
SR=$TEST_TMP/uboot
make_sysroot "$SR" uboot 256
check "uboot: precondition: no boot/loader before the first deploy" \
	test ! -e "$SR/boot/loader" -a ! -L "$SR/boot/loader"
check_exit 0 "uboot: very first deploy (1.0) with no boot/loader" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
check "uboot: boot/loader is a symlink to a loader.N directory" \
	test -L "$SR/boot/loader" -a -d "$SR/boot/loader"
check_match "uboot: boot/loader points at loader.0 or loader.1" '^loader\.[01]$' \
	<(readlink "$SR/boot/loader")
check "uboot: boot/loader/uEnv.txt written" test -s "$SR/boot/loader/uEnv.txt"
check_eq "uboot: after the first deploy bootargs boots 1.0" \
	"$(readlink -f "$(deploy_dir "$SR" "$V1")")" \
	"$(resolve_ostree_arg "$SR" "$(uenv "$SR" bootargs)")"
check_exit 0 "uboot: install 2.0 (delta)" "$APPLY" install $(apply_args "$SR" "$K") \
	"$B/v2.ostick"
check_deployed "$SR" uboot
check_eq "uboot: uEnv.txt bootargs boots 2.0" "$(readlink -f "$(deploy_dir "$SR" "$V2")")" \
	"$(resolve_ostree_arg "$SR" "$(uenv "$SR" bootargs)")"
check_eq "uboot: uEnv.txt bootargs2 (rollback) boots 1.0" \
	"$(readlink -f "$(deploy_dir "$SR" "$V1")")" \
	"$(resolve_ostree_arg "$SR" "$(uenv "$SR" bootargs2)")"
for k in kernel_image ramdisk_image kernel_image2 ramdisk_image2; do
	v=$(uenv "$SR" "$k")
	check "uboot: uEnv.txt $k names a file under /boot/ostree/" \
		test "${v#/boot/ostree/}" != "$v" -a -f "$SR$v"
done
check "uboot: no syslinux.cfg or grub.cfg written" no_file "$SR" syslinux.cfg grub.cfg

# ---- U-Boot: the sysroot already has boot/loader.0/ with an empty uEnv.txt
SR=$TEST_TMP/uboot-env
make_sysroot "$SR" uboot 256
mkdir "$SR/boot/loader.0"
ln -s loader.0 "$SR/boot/loader"
: >"$SR/boot/loader/uEnv.txt"
check_exit 0 "uboot, empty uEnv.txt: first deploy (1.0)" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
check_eq "uboot, empty uEnv.txt: bootargs boots 1.0" \
	"$(readlink -f "$(deploy_dir "$SR" "$V1")")" \
	"$(resolve_ostree_arg "$SR" "$(uenv "$SR" bootargs)")"
check_exit 0 "uboot, empty uEnv.txt: install 2.0 (delta)" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick"
check_eq "uboot, empty uEnv.txt: bootargs boots 2.0, bootargs2 1.0" \
	"$(readlink -f "$(deploy_dir "$SR" "$V2")") $(readlink -f "$(deploy_dir "$SR" "$V1")")" \
	"$(resolve_ostree_arg "$SR" "$(uenv "$SR" bootargs)") $(resolve_ostree_arg "$SR" \
		"$(uenv "$SR" bootargs2)")"

# ---- none: only BLS entries
SR=$TEST_TMP/none
make_sysroot "$SR" none 256
install_both "$SR" none
check_deployed "$SR" none
check "none: no uEnv.txt, syslinux.cfg or grub.cfg written" \
	no_file "$SR" uEnv.txt syslinux.cfg grub.cfg

# ---- syslinux: boot/syslinux/syslinux.cfg -> ../loader/syslinux.cfg, as `ostree admin` setups
# have it (libostree reads boot/syslinux/syslinux.cfg through the link and writes
# boot/loader.N/syslinux.cfg; lines of non-ostree entries are kept).
SR=$TEST_TMP/syslinux
make_sysroot "$SR" syslinux 256
mkdir "$SR/boot/loader.0" "$SR/boot/syslinux"
ln -s loader.0 "$SR/boot/loader"
printf 'PROMPT 1\nTIMEOUT 50\n' >"$SR/boot/loader/syslinux.cfg"
ln -s ../loader/syslinux.cfg "$SR/boot/syslinux/syslinux.cfg"
install_both "$SR" syslinux
check_deployed "$SR" syslinux
CFG=$SR/boot/syslinux/syslinux.cfg
check_eq "syslinux: boot/syslinux/syslinux.cfg is still the link to ../loader/syslinux.cfg" \
	../loader/syslinux.cfg "$(readlink "$CFG")"
check_eq "syslinux: two ostree LABELs, 2.0 first" \
	"ostree:0 2.0|ostree:1 1.0" \
	"$(sed -n 's/^LABEL .* \([0-9.]*\) (\(ostree:[0-9]\))$/\2 \1/p' "$CFG" | paste -sd '|')"
check_eq "syslinux: DEFAULT is the first (2.0) entry" \
	"$(sed -n 's/^LABEL //p' "$CFG" | head -n 1)" "$(sed -n 's/^DEFAULT //p' "$CFG")"
check_eq "syslinux: the APPEND lines boot 2.0 then 1.0" \
	"$(readlink -f "$(deploy_dir "$SR" "$V2")") $(readlink -f "$(deploy_dir "$SR" "$V1")")" \
	"$(sed -n 's/^\tAPPEND //p' "$CFG" | while read -r a; do
		resolve_ostree_arg "$SR" "$a"
	done | xargs)"
check "syslinux: KERNEL and INITRD lines name files under /boot/ostree/" \
	bash -c 'n=0; while read -r k p; do case $p in /boot/ostree/*) test -f "$1$p" || exit 1 ;;
		*) exit 1 ;; esac; n=$((n + 1)); done < <(grep -P "^\t(KERNEL|INITRD) " "$2"); [ $n -eq 4 ]' \
	_ "$SR" "$CFG"
check_match "syslinux: lines outside the ostree entries kept" '^TIMEOUT 50$' "$CFG"
check "syslinux: no uEnv.txt or grub.cfg written" no_file "$SR" uEnv.txt grub.cfg

# ---- grub2: OSTREE_GRUB2_EXEC points at a stub generator, run as `STUB -o
# boot/loader.N/grub.cfg` with _OSTREE_GRUB2_BOOTVERSION=N (libostree's grub2 backend; no
# chroot because the stub is not grub-mkconfig). It writes one menuentry per BLS entry of that
# bootversion, highest version first, as ostree's generator does, and logs how it was run.
SR=$TEST_TMP/grub2
make_sysroot "$SR" grub2 256
mkdir "$SR/boot/grub"
ln -s ../loader/grub.cfg "$SR/boot/grub/grub.cfg"
STUB=$TEST_TMP/grub-stub
export STUB_LOG=$TEST_TMP/grub-stub.log
cat >"$STUB" <<'EOF'
#!/bin/sh
set -e
echo "$*|${_OSTREE_GRUB2_BOOTVERSION-unset}|${_OSTREE_GRUB2_IS_EFI-unset}" >>"$STUB_LOG"
[ "$1" = -o ] && [ $# -eq 2 ]
dir=$(dirname "$2")
for e in $(ls "$dir"/entries/*.conf | sort -V -r); do
	echo "menuentry '$(sed -n 's/^title //p' "$e")' {"
	sed -n 's/^linux /  linux /p; s/^initrd /  initrd /p; s/^options /  options /p' "$e"
	echo "}"
done >"$2"
EOF
chmod +x "$STUB"

# A generator that fails: the install fails and leaves no deployment, no kernel copy and no
# bootloader directory behind (README, install step 7); a retry then succeeds.
device_fingerprint "$SR" >"$TEST_TMP/fp-before"
boot_state() { (cd "$1/boot" && find . ! -type d -printf '%y %p -> %l\n' | sort &&
	find . -maxdepth 1 -name 'loader*' | sort); }
boot_state "$SR" >"$TEST_TMP/boot-before"
check_exit 1 "grub2: a failing generator fails the install (exit 1)" \
	env OSTREE_GRUB2_EXEC=/bin/false "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
check_match "grub2: the message names the bootloader step" 'ostick-apply: .*boot' \
	"$TEST_TMP/stderr"
device_fingerprint "$SR" >"$TEST_TMP/fp-after"
# section FILE NAME: one section of a device_fingerprint, on one line.
section() { sed -n "/^== $2\$/,/^== /{/^== /d;p}" "$1" | paste -sd ' '; }
check_eq "grub2: failed deploy: refs unchanged" "$(section "$TEST_TMP/fp-before" refs)" \
	"$(section "$TEST_TMP/fp-after" refs)"
check_eq "grub2: failed deploy: admin status unchanged" \
	"$(section "$TEST_TMP/fp-before" 'admin status')" \
	"$(section "$TEST_TMP/fp-after" 'admin status')"
check_eq "grub2: failed deploy: no deployment directory left" \
	"$(section "$TEST_TMP/fp-before" deployments)" "$(section "$TEST_TMP/fp-after" deployments)"
check_eq "grub2: failed deploy: no kernel copy or loader directory left in /boot" \
	"$(paste -sd ' ' "$TEST_TMP/boot-before")" "$(boot_state "$SR" | paste -sd ' ')"

export OSTREE_GRUB2_EXEC=$STUB
install_both "$SR" grub2
check_deployed "$SR" grub2
LOADER=$(readlink "$SR/boot/loader" || true)
check_eq "grub2: generator run once per deploy as STUB -o boot/loader.N/grub.cfg, _OSTREE_GRUB2_BOOTVERSION=N, not EFI; last run for the live loader.N" \
	"2 -o $SR/boot/$LOADER/grub.cfg|${LOADER#loader.}|unset" \
	"$(wc -l <"$STUB_LOG") $(tail -n 1 "$STUB_LOG")"
check_match "grub2: the first run wrote the other bootversion" \
	"^-o $SR/boot/loader\.([01])/grub\.cfg\|\1\|unset$" <(head -n 1 "$STUB_LOG")
check_eq "grub2: boot/grub/grub.cfg (through boot/loader) lists 2.0 then 1.0" \
	"2.0 (ostree:0)|1.0 (ostree:1)" \
	"$(sed -n "s/^menuentry '.* \([0-9.]* (ostree:[0-9])\)' {$/\1/p" "$SR/boot/grub/grub.cfg" |
		paste -sd '|')"
check "grub2: no uEnv.txt or syslinux.cfg written" no_file "$SR" uEnv.txt syslinux.cfg

done_testing
