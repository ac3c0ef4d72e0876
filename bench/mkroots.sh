#!/bin/bash
# mkroots.sh OUTDIR DEBCACHE: the benchmark's pair of root filesystems, built from Debian 12
# packages (bench/packages) and committed with stock `ostree commit` into the archive repo
# OUTDIR/repo, both on ref bench/debian (B's parent is A):
#   A (1.0): debootstrap --variant=minbase bookworm with the `a:` packages;
#   B (1.1): A, then apt-get upgrade from the `b-upgrade:` suites, the `b-backports:` packages
#            from bookworm-backports, the `b-add:` packages installed, the `b-remove:` ones purged.
# Both are trimmed as device images are (see trim below) and get the layout libostree deploys:
# /etc in /usr/etc, /var empty, a small dummy kernel in usr/lib/modules/VER/vmlinuz (the same
# in A and B: deploy needs one, the bench needs no real one).
# Writes OUTDIR/{a,b}.commit, OUTDIR/{a,b}.packages (dpkg -l), OUTDIR/summary and, last,
# OUTDIR/complete. Debian packages are cached in DEBCACHE. Runs as root. Every mount is undone
# on exit, whatever happens.
set -euo pipefail
export LC_ALL=C.UTF-8

out=${1:?usage: mkroots.sh OUTDIR DEBCACHE}
debs=${2:?usage: mkroots.sh OUTDIR DEBCACHE}
here=$(cd "$(dirname "$0")" && pwd)
REF=bench/debian
KVER=6.1.0-bench
MIRROR=${BENCH_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${BENCH_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

log() { printf 'mkroots: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
packages() { sed -n "s/^$1: *//p" "$here/packages"; }

_cleanups=()
on_exit() { _cleanups+=("$*"); }
run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[$i]}" >/dev/null 2>&1 || true
	done
	_cleanups=()
}
trap run_cleanups EXIT
trap 'exit 130' INT TERM

# safe_rm DIR...: unmount what a crashed run left mounted below DIR, then remove it without
# crossing into another filesystem (a bind-mounted host /dev).
safe_rm() {
	local d m
	for d in "$@"; do
		[ -e "$d" ] || continue
		d=$(realpath "$d")
		awk '{ print $5 }' /proc/self/mountinfo | { grep -E "^$d(/|$)" || true; } | sort -r |
			while read -r m; do umount -l "$m" || true; done
		rm -rf --one-file-system "$d"
	done
}

bind_chroot_fs() {
	local d
	for d in proc sys dev; do
		mount --bind "/$d" "$1/$d"
		on_exit "umount -l $1/$d"
	done
}
unbind_chroot_fs() {
	local d
	for d in dev sys proc; do
		! mountpoint -q "$1/$d" || umount -l "$1/$d"
	done
}

safe_rm "$out"
mkdir -p "$out" "$debs"
out=$(realpath "$out")
debs=$(realpath "$debs")
A=$out/rootfs-a
B=$out/rootfs-b
on_exit "safe_rm $A $B"

t0=$(date +%s)
log "A: debootstrap --variant=minbase bookworm from $MIRROR (+ $(packages a | wc -w) packages)"
debootstrap --variant=minbase --cache-dir="$debs" --include="$(packages a | tr ' ' ',')" \
	bookworm "$A" "$MIRROR" >"$out/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$out/debootstrap.log" >&2; die "debootstrap failed (log: $out/debootstrap.log)"; }
echo "deb $MIRROR bookworm main" >"$A/etc/apt/sources.list"
t1=$(date +%s)
log "A: debootstrap took $((t1 - t0)) s"

log "B: a copy of A, then upgrade / backports / add / remove in a chroot"
cp -a "$A" "$B"
{
	echo "deb $MIRROR bookworm main"
	for s in $(packages b-upgrade); do
		case $s in
		*-security) echo "deb $SECURITY_MIRROR $s main" ;;
		*) echo "deb $MIRROR $s main" ;;
		esac
	done
	[ -z "$(packages b-backports)" ] || echo "deb $MIRROR bookworm-backports main"
} >"$B/etc/apt/sources.list"
bind_chroot_fs "$B"
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$B/usr/sbin/policy-rc.d"
chmod 0755 "$B/usr/sbin/policy-rc.d"
in_b() { DEBIAN_FRONTEND=noninteractive chroot "$B" "$@"; }
apt_b() {
	in_b apt-get -y -q -o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=false \
		--no-install-recommends "$@"
}
# One && chain: `set -e` does not apply inside a command list tested with ||.
# shellcheck disable=SC2046
{
	in_b apt-get -q update &&
		apt_b upgrade &&
		{ [ -z "$(packages b-backports)" ] ||
			apt_b install -t bookworm-backports $(packages b-backports); } &&
		apt_b install $(packages b-add) &&
		apt_b purge $(packages b-remove) &&
		apt_b autoremove --purge &&
		apt_b clean
} >"$out/chroot.log" 2>&1 ||
	{ tail -n 30 "$out/chroot.log" >&2; die "B's chroot step failed (log: $out/chroot.log)"; }
rm -f "$B/usr/sbin/policy-rc.d"
unbind_chroot_fs "$B"
echo "deb $MIRROR bookworm main" >"$B/etc/apt/sources.list"
t2=$(date +%s)
log "B: chroot step took $((t2 - t1)) s"

for r in a b; do
	root=$out/rootfs-$r
	# shellcheck disable=SC2016
	chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' | sort >"$out/$r.packages"
done

# kernel_blob NAME BYTES: deterministic, incompressible (like a real compressed kernel).
kernel_blob() {
	python3 -c 'import random, sys
sys.stdout.buffer.write(random.Random(sys.argv[1]).randbytes(int(sys.argv[2])))' "$1" "$2"
}

# trim ROOT: what image builders for devices leave out (Yocto and debos recipes do the same):
# documentation, manual pages, translations, udev's hwdb sources (hwdb.bin is what udev reads),
# glibc's gconv charset modules. Both trees alike, so B's changes stay what the packages changed.
trim() {
	local root=${1:?}
	rm -rf "$root"/usr/share/{doc,man,info}/*
	find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C*' ! -name locale.alias \
		-exec rm -rf {} +
	rm -f "$root"/usr/lib/udev/hwdb.d/*.hwdb
	rm -rf "$root"/usr/lib/x86_64-linux-gnu/gconv
}

# ostree_layout ROOT: what libostree deploys (as tests/e2e/mkbase.sh does for the guest).
ostree_layout() {
	local root=$1 link
	: >"$root/etc/machine-id"
	rm -f "$root"/etc/ssh/ssh_host_*
	mkdir -p "$root/usr/lib/modules/$KVER"
	kernel_blob "vmlinuz-$KVER" 1048576 >"$root/usr/lib/modules/$KVER/vmlinuz"
	kernel_blob "initramfs-$KVER" 524288 >"$root/usr/lib/modules/$KVER/initramfs.img"
	rm -rf "${root:?}"/boot/* "${root:?}"/vmlinuz* "${root:?}"/initrd.img*
	mv "$root/etc" "$root/usr/etc"
	rm -rf --one-file-system "${root:?}"/{var,dev,proc,sys,run,tmp}/*
	for link in home:var/home root:var/roothome opt:var/opt srv:var/srv mnt:var/mnt \
		media:run/media; do
		rm -rf "${root:?}/${link%%:*}"
		ln -s "${link#*:}" "$root/${link%%:*}"
	done
	mkdir -p "$root/sysroot"
	ln -s sysroot/ostree "$root/ostree"
}
for root in "$A" "$B"; do
	trim "$root"
	ostree_layout "$root"
done

log "commit A (1.0) and B (1.1) on $REF"
ostree --repo="$out/repo" init --mode=archive
# Fixed timestamps: B is newer than A (a device refuses downgrades by commit time).
ostree --repo="$out/repo" commit --branch="$REF" --tree=dir="$A" --bootable \
	--timestamp=2024-01-01T00:00:00Z --add-metadata-string=version=1.0 \
	--subject="bench A: Debian 12 minbase" >"$out/a.commit"
ostree --repo="$out/repo" commit --branch="$REF" --tree=dir="$B" --bootable \
	--timestamp=2024-02-01T00:00:00Z --add-metadata-string=version=1.1 \
	--subject="bench B: A upgraded, with packages added and removed" >"$out/b.commit"

# What changed between A and B, in words, for the report.
{
	echo "a_bytes $(du -sb --apparent-size "$A" | cut -f1)"
	echo "b_bytes $(du -sb --apparent-size "$B" | cut -f1)"
	echo "a_files $(find "$A" -xdev | wc -l)"
	echo "b_files $(find "$B" -xdev | wc -l)"
	echo "packages_a $(wc -l <"$out/a.packages")"
	echo "packages_b $(wc -l <"$out/b.packages")"
	echo "packages_upgraded $(join "$out/a.packages" "$out/b.packages" | awk '$2 != $3' | wc -l)"
	echo "packages_added $(join -v2 "$out/a.packages" "$out/b.packages" | wc -l)"
	echo "packages_removed $(join -v1 "$out/a.packages" "$out/b.packages" | wc -l)"
	ostree --repo="$out/repo" diff "$(cat "$out/a.commit")" "$(cat "$out/b.commit")" |
		awk '{ n[$1]++ } END { printf "files_modified %d\nfiles_added %d\nfiles_removed %d\n",
			n["M"], n["A"], n["D"] }'
	echo "build_seconds $(($(date +%s) - t0))"
} >"$out/summary"
join "$out/a.packages" "$out/b.packages" | awk '$2 != $3 { print $1, $2, "->", $3 }' \
	>"$out/upgraded.packages"
safe_rm "$A" "$B"
touch "$out/complete"
log "done in $(($(date +%s) - t0)) s: $(tr '\n' ' ' <"$out/summary")"
