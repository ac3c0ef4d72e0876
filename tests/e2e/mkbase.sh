#!/bin/bash
# mkbase.sh OUTDIR: the guest's base tree, built from Debian 12 packages only and committed as
# ref e2e/base into the archive repo OUTDIR/repo. OUTDIR/complete marks a finished cache entry.
#   stage 1: debootstrap --variant=minbase with guest-packages' stage1 list;
#   stage 2: in the chroot, apt-get install the stage2 list (ostree, ostree-boot, dracut, the
#            libraries ostick links), then the kernel, whose dracut hook builds the initramfs;
#   then the layout libostree deploys: kernel and initramfs in /usr/lib/modules/VER/, /etc in
#   /usr/etc, /var empty (ostree 2022.7 does not copy it; tmpfiles.d fills it at boot).
# Packages come from the Debian mirror the host's apt uses (or $E2E_MIRROR). Runs as root.
source "$(dirname "$0")/lib.sh"

out=$(realpath -m "${1:?usage: mkbase.sh OUTDIR}")
BASE_REF=e2e/base
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
packages() { sed -n "s/^$1: *//p" "$E2E_DIR/guest-packages"; }

mirror() {
	local m=${E2E_MIRROR:-}
	[ -n "$m" ] || m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources \
		2>/dev/null | grep -v security | head -n1 || true)
	[ -n "$m" ] || m=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null || true)
	echo "${m:-http://deb.debian.org/debian}"
}

MIRROR=$(mirror)
safe_rm "$out"
mkdir -p "$out" "$WORK/debs"
root=$out/rootfs
on_exit "safe_rm $root"

log "stage 1: debootstrap bookworm from $MIRROR"
debootstrap --variant=minbase --cache-dir="$WORK/debs" \
	--include="$(packages stage1 | tr ' ' ',')" bookworm "$root" "$MIRROR"
echo "deb $MIRROR bookworm main" >"$root/etc/apt/sources.list"

log "stage 2: $(packages stage2) $(packages kernel)"
bind_chroot_fs "$root"
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
in_root() { DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }
apt_get() { in_root apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@"; }
in_root apt-get -q update
# shellcheck disable=SC2046
apt_get install $(packages stage2)
# A generic initramfs (not for the build host), with the drivers the guest's root disk needs;
# ostree-boot's dracut.conf.d already adds the ostree module.
cat >"$root/etc/dracut.conf.d/90-ostick-e2e.conf" <<'EOF'
hostonly="no"
hostonly_cmdline="no"
drivers=" virtio_blk virtio_pci virtio_scsi sd_mod ext4 crc32c_generic "
filesystems=" ext4 "
EOF
# shellcheck disable=SC2046
apt_get install $(packages kernel)
apt_get clean
rm -f "$root/usr/sbin/policy-rc.d"
kver=$(ls "$root/usr/lib/modules")
[ -f "$root/boot/vmlinuz-$kver" ] || die "no kernel in /boot"
initrd=$(find "$root/boot" -maxdepth 1 -name "init*$kver*" | head -n1)
[ -n "$initrd" ] || die "the kernel's dracut hook made no initramfs"
in_root lsinitrd "/boot/${initrd##*/}" >"$out/initramfs.txt"
grep -q 'usr/lib/ostree/ostree-prepare-root$' "$out/initramfs.txt" ||
	die "the initramfs has no ostree-prepare-root (ostree-boot's dracut module)"

log "customise: root without password, no periodic jobs, empty machine-id"
in_root passwd -d root >/dev/null
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	fstrim.timer e2scrub_reap.service >/dev/null 2>&1 || true
: >"$root/etc/machine-id"
: >"$root/etc/fstab"
echo ostick-e2e >"$root/etc/hostname"

log "trim: documentation, locales, kernel modules no guest here uses"
rm -rf "$root"/usr/share/{doc,man,info}/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C*' -exec rm -rf {} +
m=$root/usr/lib/modules/$kver/kernel
rm -rf "$m"/drivers/{gpu,media,net,infiniband,staging,iio,isdn,bluetooth,video,comedi} \
	"$m"/drivers/{mtd,nfc,hid/amd-sfh-hid,platform/x86,thunderbolt,soundwire,fpga,edac} \
	"$m"/drivers/{hwmon,watchdog,md,atm,accessibility,w1,leds,target,nvme,parport,pcmcia} \
	"$m"/drivers/{firewire,message,hv,xen,scsi/*/} "$m"/arch/x86/kvm "$m"/lib/test_*.ko \
	"$m"/net/{wireless,mac80211,bluetooth,netfilter,ipv4/netfilter,ipv6/netfilter,sunrpc,ceph} \
	"$m"/sound "$m"/fs/{nfs,nfsd,ceph,cifs,smb,ocfs2,gfs2,xfs,btrfs,f2fs,jfs,ntfs3,afs}
in_root depmod "$kver"

log "OSTree layout"
mv "$root/boot/vmlinuz-$kver" "$root/usr/lib/modules/$kver/vmlinuz"
mv "$initrd" "$root/usr/lib/modules/$kver/initramfs.img"
rm -rf "${root:?}"/boot/* "$root"/vmlinuz* "$root"/initrd.img*
unbind_chroot_fs "$root"
mv "$root/etc" "$root/usr/etc"
rm -rf --one-file-system "${root:?}"/{var,dev,proc,sys,run,tmp}/*
for link in home:var/home root:var/roothome opt:var/opt srv:var/srv mnt:var/mnt \
	media:run/media; do
	rm -rf "${root:?}/${link%%:*}"
	ln -s "${link#*:}" "$root/${link%%:*}"
done
mkdir -p "$root/sysroot"
ln -s sysroot/ostree "$root/ostree"

log "commit $BASE_REF"
ostree --repo="$out/repo" init --mode=archive
ostree --repo="$out/repo" commit --branch="$BASE_REF" --tree=dir="$root" \
	--subject="ostick e2e base: Debian 12, kernel $kver" --add-metadata-string=version=base \
	--bootable
echo "$kver" >"$out/kernel-version"
du -sh "$root" | cut -f1 >"$out/tree-size"
touch "$out/complete"
log "done: $(cat "$out/tree-size") tree, kernel $kver"
