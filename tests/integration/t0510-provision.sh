#!/bin/bash
# t0510-provision.sh: `ostick-apply provision` lays out blank, loop-mounted storage from a full
# bundle, as a factory station does: the sysroot, the OS, the repo's bootloader, the deployment
# with the kernel arguments given, the bootloader configuration (U-Boot, syslinux, GRUB through
# a stub generator, none), and /etc/ostick (the trusted keys, the device config) in the
# deployment. The provisioned device then takes a delta with its own keyring and config.
# Every refusal (delta bundle, tampered, unknown signer, wrong OS or compatible string, not
# blank, not a mount point, no space, a stream that ends early, a bad device config) exits
# with its documented code and leaves the storage blank.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/bundle-lib.sh"
require_root

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
flip_member_byte "$B/v1.ostick" "$B/v1-tampered.ostick" delta/0 -100
mkdir "$B/other-keyring"
cp "$KEYS/test-ed25519-2.pub.pem" "$B/other-keyring/"

# blank DIR: only lost+found, as mkfs left it.
blank() { [ "$(ls -A "$1")" = lost+found ] && [ -z "$(ls -A "$1/lost+found")" ]; }
# deployment_dir SYSROOT: the one deployment's checkout.
deployment_dir() { echo "$1/ostree/deploy/$SAMPLE_OS/deploy/$V1.0"; }

DISK=$TEST_TMP/disk
make_loop_fs 256 ext4 "$DISK"
P=(--sysroot "$DISK" --os "$SAMPLE_OS" --keyring "$K")

# ---- Refusals: each leaves the storage blank
refuse() { # refuse CODE DESCRIPTION ARGS...
	local code=$1 desc=$2
	shift 2
	check_exit "$code" "$desc: exit $code" "$APPLY" provision "$@"
	check "$desc: the storage is still blank" blank "$DISK"
}
refuse 3 "a delta bundle" "${P[@]}" "$B/v2.ostick"
check_match "... the message asks for a full bundle" 'needs a full bundle' "$TEST_TMP/stderr"
refuse 4 "a tampered full bundle (found while applying)" "${P[@]}" "$B/v1-tampered.ostick"
refuse 4 "a bundle signed by a key the station does not trust" --sysroot "$DISK" \
	--os "$SAMPLE_OS" --keyring "$B/other-keyring" "$B/v1.ostick"
refuse 3 "another compatible string" "${P[@]}" --compatible other-board "$B/v1.ostick"
check_match "... the message names both" "'$SAMPLE_COMPATIBLE'.*'other-board'" "$TEST_TMP/stderr"
refuse 3 "another OS" --sysroot "$DISK" --os other-os --keyring "$K" "$B/v1.ostick"
refuse 2 "an unknown bootloader" "${P[@]}" --bootloader lilo "$B/v1.ostick"
refuse 2 "no --os" --sysroot "$DISK" --keyring "$K" "$B/v1.ostick"
refuse 2 "no --sysroot" --os "$SAMPLE_OS" --keyring "$K" "$B/v1.ostick"
refuse 2 "no bundle" "${P[@]}"
refuse 7 "a bundle that does not exist" "${P[@]}" "$B/nothing.ostick"
check_exit 4 "a stream that ends early (60 %): exit 4" bash -c \
	"head -c \$((\$(stat -c %s '$B/v1.ostick') * 6 / 10)) '$B/v1.ostick' |
	'$APPLY' provision ${P[*]} -"
check "... the storage is still blank (what was laid out is removed)" blank "$DISK"

printf '[device]\ncompatible=%s\ncompatibel=typo\n' "$SAMPLE_COMPATIBLE" >"$TEST_TMP/typo.conf"
refuse 2 "a device config with an unknown key" "${P[@]}" --device-config "$TEST_TMP/typo.conf" \
	"$B/v1.ostick"
printf '[device]\ncompatible=other-board\n' >"$TEST_TMP/other.conf"
refuse 3 "a device config for another board" "${P[@]}" --device-config "$TEST_TMP/other.conf" \
	"$B/v1.ostick"

mkdir "$TEST_TMP/plain-dir"
check_exit 2 "a directory that is not a mount point: exit 2" "$APPLY" provision \
	--sysroot "$TEST_TMP/plain-dir" --os "$SAMPLE_OS" --keyring "$K" "$B/v1.ostick"
check_match "... the message says why" 'not the mount point of its own filesystem' \
	"$TEST_TMP/stderr"
check "... nothing written there" test -z "$(ls -A "$TEST_TMP/plain-dir")"
check_exit 7 "a sysroot that does not exist: exit 7" "$APPLY" provision \
	--sysroot "$TEST_TMP/nowhere" --os "$SAMPLE_OS" --keyring "$K" "$B/v1.ostick"

echo data >"$DISK/left-over"
check_exit 9 "storage that is not blank: exit 9" "$APPLY" provision "${P[@]}" "$B/v1.ostick"
check_match "... the message names what is there" "holds 'left-over'" "$TEST_TMP/stderr"
check_eq "... and it is left alone" "left-over lost+found" "$(ls -A "$DISK" | xargs)"
rm "$DISK/left-over"

SMALL=$TEST_TMP/small
make_loop_fs 16 ext4 "$SMALL"
make_rootfs 3.0 "$TEST_TMP/rootfs-big" 24
"$BUNDLE" create --rootfs "$TEST_TMP/rootfs-big" --repo "$TEST_TMP/repo-big" --version 3.0 \
	--ref demo/stable --compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem" \
	-o "$B/big.ostick" >/dev/null
check_exit 5 "a bundle larger than the storage: exit 5" "$APPLY" provision --sysroot "$SMALL" \
	--os "$SAMPLE_OS" --keyring "$K" "$B/big.ostick"
check "... the small storage is still blank" blank "$SMALL"

# ---- U-Boot, with kernel arguments
check_exit 0 "provision 1.0 for U-Boot with two kernel arguments: exit 0" "$APPLY" provision \
	"${P[@]}" --bootloader uboot --karg root=LABEL=ostick-root --karg console=ttyS0,115200 \
	--compatible "$SAMPLE_COMPATIBLE" "$B/v1.ostick"
check_match "... says so" "^provisioned $DISK: $SAMPLE_OS 1\.0 \(${V1:0:12}\) deployed$" \
	"$TEST_TMP/stdout"
check_eq "ostree admin status: one deployment, 1.0" "$V1.0" \
	"$(ostree admin --sysroot="$DISK" status | grep -oE "$SAMPLE_OS [0-9a-f]{64}\.[0-9]+" |
		awk '{print $2}' | xargs)"
check_eq "the ref points at 1.0" "$V1" "$(ostree --repo="$DISK/ostree/repo" rev-parse demo/stable)"
check_eq "the repo is bare and says sysroot.bootloader=uboot" "bare uboot" \
	"$(ostree --repo="$DISK/ostree/repo" config get core.mode) $(ostree \
		--repo="$DISK/ostree/repo" config get sysroot.bootloader)"
check "the traditional top-level directories exist (as ostree admin init-fs makes them)" \
	bash -c "cd '$DISK' && test -d dev -a -d proc -a -d sys -a -d run -a -d home && \
		test \$(stat -c %a tmp) = 1777 -a \$(stat -c %a root) = 700"
check_match "uEnv.txt boots it with the kernel arguments" \
	"^bootargs=root=LABEL=ostick-root console=ttyS0,115200 ostree=/ostree/boot\.[01]/$SAMPLE_OS/" \
	"$DISK/boot/loader/uEnv.txt"
check_match "the BLS entry has the same arguments" \
	'^options root=LABEL=ostick-root console=ttyS0,115200 ostree=' \
	"$DISK/boot/loader/entries/ostree-1-$SAMPLE_OS.conf"
D=$(deployment_dir "$DISK")
KEYFILE=$D/etc/ostick/keyring.d/$(key_id "$KEYS/test-ed25519.pub.pem").pem
check "the trusted key is in the deployment's /etc/ostick/keyring.d, named by its key ID" \
	test -f "$KEYFILE"
check_eq "... the same key" "$(openssl pkey -pubin -in "$KEYS/test-ed25519.pub.pem" -outform DER |
	sha256sum)" "$(openssl pkey -pubin -in "$KEYFILE" -outform DER | sha256sum)"
check_eq "... and only it" 1 "$(ls "$D/etc/ostick/keyring.d" | wc -l)"
check_match "the device config names the compatible string" \
	"^compatible=$SAMPLE_COMPATIBLE$" "$D/etc/ostick/ostick.conf"
check_match "... the OS" "^os=$SAMPLE_OS$" "$D/etc/ostick/ostick.conf"
check_match "... and the keyring path on the device" '^keyring=/etc/ostick/keyring.d$' \
	"$D/etc/ostick/ostick.conf"
check_exit 0 "ostick-apply status reads the provisioned device" "$APPLY" status \
	--sysroot "$DISK" --os "$SAMPLE_OS"
check_match "... last result: 1.0 installed" "^Last result: installed 1\.0" "$TEST_TMP/stdout"

# The provisioned device takes an update with its own config and keyring (paths on the device
# are under the sysroot here).
sed "s|^keyring=|keyring=$D|" "$D/etc/ostick/ostick.conf" >"$TEST_TMP/device.conf"
check_exit 0 "the provisioned device installs the 2.0 delta with its own config and keyring" \
	"$APPLY" install --config "$TEST_TMP/device.conf" --sysroot "$DISK" "$B/v2.ostick"
check_match "... 2.0 over 1.0" "^installed $SAMPLE_OS 2\.0 \(${V2:0:12}\) over 1\.0" \
	"$TEST_TMP/stdout"
check_match "... and keeps the kernel arguments" \
	'^bootargs=root=LABEL=ostick-root console=ttyS0,115200 ostree=' "$DISK/boot/loader/uEnv.txt"
check_exit 9 "provisioning it again: exit 9 (not blank)" "$APPLY" provision "${P[@]}" \
	"$B/v1.ostick"

# ---- syslinux, from stdin, with a device config given and JSON progress
SYS=$TEST_TMP/disk-syslinux
make_loop_fs 256 ext4 "$SYS"
printf '[device]\ncompatible=%s\nkeyring=/etc/ostick/keyring.d\n[policy]\nreboot=after-install\n' \
	"$SAMPLE_COMPATIBLE" >"$TEST_TMP/factory.conf"
check_exit 0 "provision for syslinux from stdin with --device-config and --progress=json" \
	bash -c "'$APPLY' provision --sysroot '$SYS' --os $SAMPLE_OS --keyring '$K' \
		--bootloader syslinux --karg root=/dev/vda2 --device-config '$TEST_TMP/factory.conf' \
		--progress=json - <'$B/v1.ostick'"
check_match "... the JSON result says provisioned, exit code 0" \
	'^\{"event":"result","outcome":"provisioned","exit_code":0,' "$TEST_TMP/stdout"
check_eq "boot/syslinux/syslinux.cfg is the link into boot/loader" ../loader/syslinux.cfg \
	"$(readlink "$SYS/boot/syslinux/syslinux.cfg")"
check_match "... with the deployment's APPEND line" "APPEND root=/dev/vda2 ostree=/ostree/boot" \
	"$SYS/boot/syslinux/syslinux.cfg"
check "the device config is the one given, byte for byte" \
	cmp "$TEST_TMP/factory.conf" "$(deployment_dir "$SYS")/etc/ostick/ostick.conf"
check "no uEnv.txt" test ! -e "$SYS/boot/loader/uEnv.txt"

# ---- GRUB, through a stub generator (libostree runs $OSTREE_GRUB2_EXEC -o boot/loader.N/grub.cfg)
GRUB=$TEST_TMP/disk-grub
make_loop_fs 256 ext4 "$GRUB"
cat >"$TEST_TMP/grub-stub" <<'EOF'
#!/bin/sh
set -e
[ "$1" = -o ] && [ $# -eq 2 ]
for e in "$(dirname "$2")"/entries/*.conf; do
	echo "menuentry '$(sed -n 's/^title //p' "$e")' {"
	sed -n 's/^linux /  linux /p; s/^options /  options /p' "$e"
	echo "}"
done >"$2"
EOF
chmod +x "$TEST_TMP/grub-stub"
check_exit 0 "provision for grub2: exit 0" env OSTREE_GRUB2_EXEC="$TEST_TMP/grub-stub" \
	"$APPLY" provision --sysroot "$GRUB" --os "$SAMPLE_OS" --keyring "$K" --bootloader grub2 \
	--karg quiet "$B/v1.ostick"
check_eq "boot/grub/grub.cfg is the link into boot/loader" ../loader/grub.cfg \
	"$(readlink "$GRUB/boot/grub/grub.cfg")"
check_match "... and the generator wrote the entry" '^  options quiet ostree=/ostree/boot' \
	"$GRUB/boot/grub/grub.cfg"

# ---- none: BLS entries only
NONE=$TEST_TMP/disk-none
make_loop_fs 256 ext4 "$NONE"
check_exit 0 "provision with --bootloader none (the default): exit 0" "$APPLY" provision \
	--sysroot "$NONE" --os "$SAMPLE_OS" --keyring "$K" "$B/v1.ostick"
check "... one BLS entry" test -f "$NONE/boot/loader/entries/ostree-1-$SAMPLE_OS.conf"
check "... no bootloader file" bash -c "! find '$NONE/boot' -name uEnv.txt -o -name \
	syslinux.cfg -o -name grub.cfg | grep -q ."
check_eq "... sysroot.bootloader=none" none \
	"$(ostree --repo="$NONE/ostree/repo" config get sysroot.bootloader)"

done_testing
