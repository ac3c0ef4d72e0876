#!/bin/sh
# Builds a small, deployable sample root filesystem for demos and tests.
# usage: samples/make-rootfs.sh VERSION OUTDIR [EXTRA_MB]
#   VERSION   goes into /usr/lib/os-release (VERSION_ID) and /usr/share/ostick-demo/version
#   OUTDIR    the tree is written there (must not exist)
#   EXTRA_MB  incompressible payload to add (default 0), to make big bundles
# The tree follows the layout libostree deploys: kernel and initramfs in
# usr/lib/modules/<kver>/, defaults in /etc (ostick-bundle moves them to /usr/etc).
# Content is a function of VERSION only (plus EXTRA_MB), so trees are reproducible.
set -eu
version=$1
out=$2
extra_mb=${3:-0}
kver=6.1.0-ostick-sample

[ ! -e "$out" ] || { echo "make-rootfs: $out exists" >&2; exit 1; }
mkdir -p "$out"/usr/bin "$out"/usr/lib/modules/$kver "$out"/usr/share/ostick-demo \
	"$out"/etc/ostick-demo "$out"/var "$out"/boot

# Deterministic "binary" content: a keyed stream from openssl, so no two files compress alike.
blob() { # blob NAME BYTES
	openssl enc -aes-128-ctr -nosalt -pass "pass:ostick-sample-$1" -in /dev/zero 2>/dev/null |
		head -c "$2"
}

blob "kernel-$kver" 1048576 > "$out"/usr/lib/modules/$kver/vmlinuz
blob "initramfs-$kver" 524288 > "$out"/usr/lib/modules/$kver/initramfs.img
cat > "$out"/usr/lib/os-release <<EOR
NAME="ostick sample OS"
ID=ostick-demo
PRETTY_NAME="ostick sample OS $version"
VERSION_ID=$version
EOR
echo "$version" > "$out"/usr/share/ostick-demo/version
# Files that stay the same across versions (a delta need not carry them)...
for i in 1 2 3 4 5 6 7 8; do
	blob "stable-tool-$i" 65536 > "$out"/usr/bin/tool-$i
	chmod 755 "$out"/usr/bin/tool-$i
done
# ...and files that change with the version.
blob "app-$version" 262144 > "$out"/usr/bin/app
chmod 755 "$out"/usr/bin/app
seq 1 2000 | sed "s/\$/ line of release notes for $version/" > "$out"/usr/share/ostick-demo/notes
if [ "$extra_mb" -gt 0 ]; then
	i=0
	while [ $i -lt "$extra_mb" ]; do
		blob "extra-$version-$i" 1048576 > "$out"/usr/share/ostick-demo/data-$i.bin
		i=$((i + 1))
	done
fi
echo "ostick-demo" > "$out"/etc/hostname
printf 'greeting=hello from %s\n' "$version" > "$out"/etc/ostick-demo/demo.conf
ln -s ../usr/lib/os-release "$out"/etc/os-release
