#!/bin/bash
# t0110-bundle-rootfs.sh: `ostick-bundle create --rootfs` from a directory, .tar, .tar.gz,
# .tar.xz and .tar.zst: the committed tree is the rootfs laid out as libostree deploys it
# (/etc -> /usr/etc, boot/vmlinuz-VER + initrd + dtbs -> usr/lib/modules/VER/, Debian's /vmlinuz
# links gone, device nodes/FIFOs/sockets skipped), with modes, setuid, owners, symlinks and
# hard links kept: `ostree ls` and a checkout of what stock ostree applies from the bundle equal
# the expected tree, and every format gives the same tree. `--from REF` names the commit the
# ref had before the new one. Bad input: a nonexistent path (7), not a file or directory,
# garbage, an empty file, tarballs truncated or corrupted mid-member (1, quickly, not a hang),
# an unreadable tarball, a tree without kernel or with both /etc and /usr/etc (1); tarballs with
# "..", absolute or symlinked member paths write nothing outside; failures (also after the
# commit: a bad --compatible, disk full) leave no output and do not move the ref, so a retry
# with the same --from makes the same delta.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/bundle-lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (tar fixtures)"
tar --zstd --version >/dev/null 2>&1 || skip_all "needs GNU tar with --zstd"

T=$TEST_TMP
B=$T/build-repo
KEY=$KEYS/test-ed25519.key.pem
KV=6.1.0-ostick-sample
export SOURCE_DATE_EPOCH=1700000000
mkdir -p "$T/keyring"
cp "$KEYS/test-ed25519.pub.pem" "$T/keyring/"
COMMON=(--repo "$B" --compatible acme-board --key "$KEY" "${XZ[@]}")

# rootfs_tree VERSION DIR: the sample tree as a distribution ships it: kernel, initramfs and
# device trees in /boot with Debian's /vmlinuz links, files with special modes and owners,
# symlinks, a hard link, and a /dev with a device node, a FIFO and a socket.
rootfs_tree() {
	local d=$2
	make_rootfs "$1" "$d"
	mv "$d/usr/lib/modules/$KV/vmlinuz" "$d/boot/vmlinuz-$KV"
	mv "$d/usr/lib/modules/$KV/initramfs.img" "$d/boot/initrd.img-$KV"
	mkdir -p "$d/boot/dtbs/$KV/vendor"
	echo "dtb of $1" >"$d/boot/dtbs/$KV/vendor/board.dtb"
	ln -s "boot/vmlinuz-$KV" "$d/vmlinuz"
	ln -s "boot/initrd.img-$KV" "$d/initrd.img"
	echo "root:*:19000:0:99999:7:::" >"$d/etc/shadow"
	chown 0:42 "$d/etc/shadow"
	chmod 0640 "$d/etc/shadow"
	echo "setuid tool" >"$d/usr/bin/su-tool"
	chmod 4755 "$d/usr/bin/su-tool"
	mkdir -p "$d/var/lib/svc"
	chown 1234:5678 "$d/var/lib/svc"
	chmod 0700 "$d/var/lib/svc"
	echo "service data" >"$d/usr/share/ostick-demo/owned"
	chown 1234:5678 "$d/usr/share/ostick-demo/owned"
	chmod 0600 "$d/usr/share/ostick-demo/owned"
	ln -s /usr/bin/app "$d/usr/bin/app-abs"
	ln "$d/usr/bin/tool-1" "$d/usr/bin/tool-1-hard"
	mkdir -p "$d/dev/pts"
	mknod "$d/dev/null" c 1 3
	mkfifo "$d/dev/initctl"
	ln -s /proc/self/fd "$d/dev/fd"
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$d/dev/log"
}

# expected_tree SRC DST: what the commit must hold: SRC with /etc in /usr/etc, the kernel files
# in usr/lib/modules/VER/, /vmlinuz and /initrd.img gone, no special files.
expected_tree() {
	cp -a "$1" "$2"
	mv "$2/etc" "$2/usr/etc"
	mv "$2/boot/vmlinuz-$KV" "$2/usr/lib/modules/$KV/vmlinuz"
	mv "$2/boot/initrd.img-$KV" "$2/usr/lib/modules/$KV/initramfs.img"
	mv "$2/boot/dtbs/$KV" "$2/usr/lib/modules/$KV/dtb"
	rm "$2/vmlinuz" "$2/initrd.img" "$2/dev/null" "$2/dev/initctl" "$2/dev/log"
}

# checkout_equals REPO REV DIR: a checkout of REV equals DIR (contents, modes, owners, links).
checkout_equals() {
	local co=$T/co
	rm -rf "$co"
	ostree --repo="$1" checkout "$2" "$co" && diff -r --no-dereference "$3" "$co" &&
		diff -u <(tree_listing "$3") <(tree_listing "$co")
	local rc=$?
	rm -rf "$co"
	return $rc
}

content_checksum() { ostree --repo="$B" show "$1" | sed -n 's/^ContentChecksum: *//p'; }

rootfs_tree 1.0 "$T/tree-1.0"
expected_tree "$T/tree-1.0" "$T/expect-1.0"

# ---- from a directory
check_exit 0 "create --rootfs DIR --repo REPO (a new repo): exit 0" "$BUNDLE" create \
	"${COMMON[@]}" --rootfs "$T/tree-1.0" --ref acme/gw --version 1.0 -o "$T/v1.ostick"
C1=$(ostree --repo="$B" rev-parse acme/gw)
check_match "... the summary names the new commit" \
	"^$T/v1\.ostick: acme/gw 1\.0 for 'acme-board', full tree ${C1:0:12}, " "$TEST_TMP/stdout"
check_match "the build repo is an archive repo" '^archive(-z2)?$' \
	<(ostree --repo="$B" config get core.mode 2>&1)
ostree --repo="$B" ls -R acme/gw >"$T/ls-1.0"
check_match "ostree ls: /usr/etc/shadow 0640 root:42" '^-00640 0 42 +[0-9]+ /usr/etc/shadow$' \
	"$T/ls-1.0"
check "ostree ls: no /etc at the top" bash -c '! grep -q " /etc\(/\|$\)" "$1"' _ "$T/ls-1.0"
check_match "ostree ls: the kernel is usr/lib/modules/$KV/vmlinuz" \
	"^-00644 0 0 +1048576 /usr/lib/modules/$KV/vmlinuz$" "$T/ls-1.0"
check_match "ostree ls: its initramfs is usr/lib/modules/$KV/initramfs.img" \
	"^-00644 0 0 +524288 /usr/lib/modules/$KV/initramfs.img$" "$T/ls-1.0"
check_match "ostree ls: its device trees are in usr/lib/modules/$KV/dtb/" \
	"^-00644 0 0 +[0-9]+ /usr/lib/modules/$KV/dtb/vendor/board\.dtb$" "$T/ls-1.0"
check "ostree ls: nothing left of the kernel in /boot, no /vmlinuz, /initrd.img" \
	bash -c '! grep -E " /(boot/(vmlinuz|initrd|dtbs/.)|vmlinuz|initrd\.img)" "$1"' _ \
	"$T/ls-1.0"
check_match "ostree ls: setuid kept" '^-04755 0 0 +[0-9]+ /usr/bin/su-tool$' "$T/ls-1.0"
check_match "ostree ls: owner 1234:5678 and mode 0600 kept" \
	'^-00600 1234 5678 +[0-9]+ /usr/share/ostick-demo/owned$' "$T/ls-1.0"
check_match "ostree ls: a 0700 directory owned by 1234:5678 kept" \
	'^d00700 1234 5678 +0 /var/lib/svc$' "$T/ls-1.0"
check_match "ostree ls: absolute symlink kept" '^l00777 0 0 +0 /usr/bin/app-abs -> /usr/bin/app$' \
	"$T/ls-1.0"
check_match "ostree ls: relative symlink kept" \
	'^l00777 0 0 +0 /usr/etc/os-release -> \.\./usr/lib/os-release$' "$T/ls-1.0"
check "ostree ls: /dev keeps its directory and symlink, not the node, FIFO or socket" \
	bash -c 'grep -q " /dev/fd -> /proc/self/fd$" "$1" && grep -q " /dev/pts$" "$1" &&
		! grep -E " /dev/(null|initctl|log)$" "$1"' _ "$T/ls-1.0"
check_eq "commit metadata: version 1.0" "'1.0'" \
	"$(ostree --repo="$B" show --print-metadata-key=version acme/gw 2>&1)"
check_eq "commit metadata: the kernel version (ostree.linux, bootable)" "'$KV'" \
	"$(ostree --repo="$B" show --print-metadata-key=ostree.linux acme/gw 2>&1)"
check_eq "commit time: SOURCE_DATE_EPOCH" "$SOURCE_DATE_EPOCH" "$(commit_time "$B" acme/gw)"
check "checkout of the commit equals the expected tree (contents, modes, owners, links)" \
	checkout_equals "$B" "$C1" "$T/expect-1.0"
check "hard link kept: tool-1 and tool-1-hard are one object" bash -c \
	'[ "$(ostree --repo="$1" ls -C acme/gw /usr/bin/tool-1 | awk "{print \$5}")" = \
	"$(ostree --repo="$1" ls -C acme/gw /usr/bin/tool-1-hard | awk "{print \$5}")" ]' _ "$B"
inspect_json "$T/v1.ostick" "$T/v1.json"
json_check "manifest: target is the new commit, full tree, version, os from os-release" \
	"$T/v1.json" "d['target'] == '$C1' and d['base'] is None and d['version'] == '1.0' and
d['os'] == 'ostick-demo' and d['ref'] == 'acme/gw'"
ostree --repo="$T/device" init --mode=bare
check "stock apply-offline of the bundle into an empty bare repo, then fsck" \
	stock_apply "$T/v1.ostick" "$T/device"
check "... the applied commit's checkout equals the expected tree" \
	checkout_equals "$T/device" "$C1" "$T/expect-1.0"

# ---- the same tree as tarballs: each gives the same tree (deltas from the previous commit,
# so that each is cheap to make)
# (tar warns that it skips the socket /dev/log: so does ostick)
tar --numeric-owner -C "$T/tree-1.0" -cf "$T/rootfs.tar" . 2>/dev/null
tar --numeric-owner -C "$T/tree-1.0" -czf "$T/rootfs.tar.gz" . 2>/dev/null
# (member names without "./" this time)
(cd "$T/tree-1.0" && XZ_OPT=-1 tar --numeric-owner -cJf "$T/rootfs.tar.xz" -- * 2>/dev/null)
tar --numeric-owner --zstd -C "$T/tree-1.0" -cf "$T/rootfs.tar.zst" . 2>/dev/null
check_match "precondition: the tarballs carry the special owners" \
	'^-rw------- 1234/5678 .* \./usr/share/ostick-demo/owned$' <(tar -tvf "$T/rootfs.tar.gz")
WANT=$(content_checksum acme/gw)
PREV=$C1
for f in rootfs.tar rootfs.tar.gz rootfs.tar.xz rootfs.tar.zst; do
	check_exit 0 "create --rootfs $f --from acme/gw: exit 0" "$BUNDLE" create "${COMMON[@]}" \
		--rootfs "$T/$f" --ref acme/gw --version 1.0 --from acme/gw -o "$T/$f.ostick"
	NEW=$(ostree --repo="$B" rev-parse acme/gw)
	check_eq "... the same tree as from the directory (content checksum)" "$WANT" \
		"$(content_checksum "$NEW")"
	check_eq "... --from acme/gw was the ref's previous commit" "$PREV" \
		"$(json_get <("$BUNDLE" inspect --json "$T/$f.ostick") "d['base']")"
	check_eq "... which is the new commit's parent" "$PREV" \
		"$(ostree --repo="$B" rev-parse acme/gw^ 2>&1)"
	PREV=$NEW
done
check "the .tar.zst bundle verifies" "$BUNDLE" verify --keyring "$T/keyring" \
	"$T/rootfs.tar.zst.ostick"
# --owner/--group in tar: the tarball's owners count, not the files'
tar --owner=0 --group=0 --numeric-owner -C "$T/tree-1.0" -cf "$T/flat.tar" . 2>/dev/null
check_exit 0 "create --rootfs from a tarball made with --owner=0 --group=0: exit 0" \
	"$BUNDLE" create "${COMMON[@]}" --rootfs "$T/flat.tar" --ref acme/flat --version 1.0 \
	--from acme/gw -o "$T/flat.ostick"
ostree --repo="$B" ls -R acme/flat >"$T/ls-flat"
check_match "... the commit has the tarball's owners (0:0)" \
	'^-00600 0 0 +[0-9]+ /usr/share/ostick-demo/owned$' "$T/ls-flat"

# ---- 2.0 from a tarball, delta from the version the ref names now
rootfs_tree 2.0 "$T/tree-2.0"
expected_tree "$T/tree-2.0" "$T/expect-2.0"
tar --numeric-owner --zstd -C "$T/tree-2.0" -cf "$T/rootfs-2.0.tar.zst" . 2>/dev/null
BEFORE=$(ostree --repo="$B" rev-parse acme/gw)
check_exit 0 "create --rootfs 2.0.tar.zst --from acme/gw: exit 0" "$BUNDLE" create \
	"${COMMON[@]}" --rootfs "$T/rootfs-2.0.tar.zst" --ref acme/gw --version 2.0 --from acme/gw \
	-o "$T/v2.ostick"
C2=$(ostree --repo="$B" rev-parse acme/gw)
check "... the ref moved to a new commit" test "$C2" != "$BEFORE"
inspect_json "$T/v2.ostick" "$T/v2.json"
json_check "... base: the ref before the commit; target: the new commit, version 2.0" \
	"$T/v2.json" "d['base'] == '$BEFORE' and d['target'] == '$C2' and d['version'] == '2.0'"
# apply_over DEVICE BASE BUNDLE: the base commit (its tree is 1.0's, already there) from the build
# repo, then the bundle with stock ostree.
apply_over() { ostree --repo="$1" pull-local "$B" "$2" >/dev/null && stock_apply "$3" "$1"; }
check "stock apply-offline of the 2.0 delta onto the device holding its base" \
	apply_over "$T/device" "$BEFORE" "$T/v2.ostick"
check "... the checkout of 2.0 equals the expected 2.0 tree" \
	checkout_equals "$T/device" "$C2" "$T/expect-2.0"

# ---- a failure after the commit leaves the ref where it was: a retry with the same
# "--from acme/gw" still makes the delta from the version the devices run
HEAD=$(ostree --repo="$B" rev-parse acme/gw)
mkdir "$T/out-late"
cp -a "$T/tree-2.0" "$T/tree-2.1"
head -c 409600 /dev/urandom >"$T/tree-2.1/usr/share/ostick-demo/new-in-2.1.bin"
check_exit 2 "--rootfs with an empty --compatible (found after the commit): 2" \
	"$BUNDLE" create --repo "$B" --key "$KEY" --compatible "" --rootfs "$T/tree-2.0" \
	--ref acme/gw --version 2.1 --from acme/gw -o "$T/out-late/b.ostick"
check_match "... says what is wrong" "^ostick-bundle create: compatible: missing or empty$" \
	"$TEST_TMP/stderr"
check_eq "... the ref did not move" "$HEAD" "$(ostree --repo="$B" rev-parse acme/gw)"
SMALL=$T/small
mkdir "$SMALL"
# Room for the generated delta (~400 KiB, incompressible) but not for the bundle as well.
SIZE_K=600
if mount -t tmpfs -o size="${SIZE_K}k" tmpfs "$SMALL"; then
	on_exit "umount -l $SMALL"
	check_exit 5 "--rootfs, disk full while writing the bundle: 5" "$BUNDLE" create \
		"${COMMON[@]}" --rootfs "$T/tree-2.1" --ref acme/gw --version 2.1 --from acme/gw \
		-o "$SMALL/b.ostick"
	check_match "... says no space" "No space left on device$" "$TEST_TMP/stderr"
	check "... nothing left there" dir_is_empty "$SMALL"
	check_eq "... the ref did not move" "$HEAD" "$(ostree --repo="$B" rev-parse acme/gw)"
else
	not_ok "mount a tmpfs for the disk-full case"
fi
check_exit 0 "the same command again, with room: exit 0" "$BUNDLE" create "${COMMON[@]}" \
	--rootfs "$T/tree-2.1" --ref acme/gw --version 2.1 --from acme/gw -o "$T/out-late/b.ostick"
check_eq "... its base is still the commit the ref had before the failures" "$HEAD" \
	"$(json_get <("$BUNDLE" inspect --json "$T/out-late/b.ostick") "d['base']")"
check_eq "... and now the ref moved to its target" \
	"$(json_get <("$BUNDLE" inspect --json "$T/out-late/b.ostick") "d['target']")" \
	"$(ostree --repo="$B" rev-parse acme/gw)"

# ---- without --repo: a throw-away repo
mkdir "$T/out-norepo"
check_exit 0 "create --rootfs without --repo: exit 0" "$BUNDLE" create --rootfs "$T/tree-1.0" \
	--ref acme/gw --version 1.0 --compatible acme-board --key "$KEY" "${XZ[@]}" \
	-o "$T/out-norepo/b.ostick"
check_eq "... only the bundle is left (no repo, no work directory)" b.ostick \
	"$(ls -A "$T/out-norepo")"
check "... it verifies" "$BUNDLE" verify --keyring "$T/keyring" "$T/out-norepo/b.ostick"
check_eq "... the same commit as the first one in the build repo (same tree, time, subject)" \
	"$C1" "$(json_get <("$BUNDLE" inspect --json "$T/out-norepo/b.ostick") "d['target']")"

# ---- bad input: clear messages, documented codes, no output, the ref not moved
HEAD=$(ostree --repo="$B" rev-parse acme/gw)
OUT=$T/out-bad
mkdir "$OUT"
# bad_rootfs CODE DESCRIPTION PATH REGEX: create --rootfs PATH exits CODE within 60 s (a read
# error inside a member once made libostree loop forever), says REGEX, leaves nothing behind.
bad_rootfs() {
	local code=$1 desc=$2 path=$3 regex=$4
	check_exit "$code" "$desc: $code" timeout 60 "$BUNDLE" create "${COMMON[@]}" \
		--rootfs "$path" --ref acme/gw --version 9.9 -o "$OUT/b.ostick"
	check_match "... says: $regex" "^ostick-bundle create: rootfs $path: $regex" \
		"$TEST_TMP/stderr"
	check "... no output, no work directory" dir_is_empty "$OUT"
	check_eq "... the ref did not move" "$HEAD" "$(ostree --repo="$B" rev-parse acme/gw)"
}
bad_rootfs 7 "a nonexistent path" "$T/nope.tar.zst" \
	"no such directory or tarball: No such file or directory$"
bad_rootfs 1 "a character device" /dev/null "not a directory or a tarball$"
head -c 100000 /dev/urandom >"$T/garbage.tar.gz"
bad_rootfs 1 "random bytes named .tar.gz" "$T/garbage.tar.gz" \
	"not a readable tarball: Unrecognized archive format$"
: >"$T/empty.tar"
bad_rootfs 1 "an empty file" "$T/empty.tar" "not a readable tarball: "
# Cut inside the kernel's data (the largest member), so that the cut is not at a member
# boundary (which tar readers accept as an archive without end marker).
read -r KOFF KSIZE < <(python3 -c 'import sys, tarfile
m = max(tarfile.open(sys.argv[1]).getmembers(), key=lambda m: m.size)
print(m.offset_data, m.size)' "$T/rootfs.tar")
head -c $((KOFF + KSIZE / 2)) "$T/rootfs.tar" >"$T/cut.tar"
bad_rootfs 1 "a .tar cut mid-member" "$T/cut.tar" \
	"corrupt tarball at member '\./boot/vmlinuz-$KV': Truncated tar archive$"
for z in gz xz zst; do
	LEN=$(stat -c %s "$T/rootfs.tar.$z")
	head -c $((LEN / 2)) "$T/rootfs.tar.$z" >"$T/cut.tar.$z"
	bad_rootfs 1 "a .tar.$z cut in the middle" "$T/cut.tar.$z" "corrupt tarball at member '"
done
flip_byte "$T/rootfs.tar.xz" "$T/flipped.tar.xz" $(($(stat -c %s "$T/rootfs.tar.xz") / 2))
bad_rootfs 1 "a .tar.xz with a byte changed mid-stream" "$T/flipped.tar.xz" \
	"corrupt tarball( at member '[^']*')?: "
# Unreadable: root reads anything, so the bundler runs as nobody for this one.
if command -v setpriv >/dev/null; then
	mkdir -p "$T/nobody/out"
	cp "$T/rootfs.tar" "$KEY" "$T/nobody/"
	chmod 0711 "$T" "$T/nobody"
	chown 65534 "$T/nobody/out" "$T/nobody/$(basename "$KEY")"
	chmod 0000 "$T/nobody/rootfs.tar"
	check_exit 1 "an unreadable tarball (as nobody): 1" setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$BUNDLE" create --rootfs "$T/nobody/rootfs.tar" --ref acme/gw \
		--version 1.0 --compatible acme-board --key "$T/nobody/$(basename "$KEY")" \
		-o "$T/nobody/out/b.ostick"
	check_match "... says permission denied" \
		"^ostick-bundle create: rootfs $T/nobody/rootfs\.tar: not a readable tarball: Permission denied$" \
		"$TEST_TMP/stderr"
	check "... no output" dir_is_empty "$T/nobody/out"
	chmod 0700 "$T"
else
	not_ok "an unreadable tarball" "setpriv (util-linux) is missing"
fi
cp -a "$T/tree-1.0" "$T/no-kernel"
rm "$T/no-kernel/boot/vmlinuz-$KV" "$T/no-kernel/vmlinuz"
bad_rootfs 1 "a tree without a kernel" "$T/no-kernel" \
	"no kernel: expected usr/lib/modules/<version>/vmlinuz or boot/vmlinuz-<version>"
cp -a "$T/tree-1.0" "$T/two-etc"
cp -a "$T/two-etc/etc" "$T/two-etc/usr/etc"
bad_rootfs 1 "a tree with both /etc and /usr/etc" "$T/two-etc" \
	"the root filesystem has both /etc and /usr/etc$"

# ---- hostile member names: nothing is written outside the build
mkdir -p "$T/jail/work" "$T/outside"
# hostile_tar OUT MEMBER...: the 1.0 tarball plus a file for each "NAME" (or "NAME=>TARGET" for
# a symlink, "NAME==>TARGET" for a hard link).
hostile_tar() {
	python3 - "$T/rootfs.tar" "$@" <<'PY'
import io, sys, tarfile
src, dst, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
with tarfile.open(src) as s, tarfile.open(dst, "w") as t:
    for m in s.getmembers():
        t.addfile(m, s.extractfile(m) if m.isfile() else None)
    for spec in extra:
        if "==>" in spec:
            name, target = spec.split("==>")
            ti = tarfile.TarInfo(name); ti.type = tarfile.LNKTYPE; ti.linkname = target
            t.addfile(ti)
        elif "=>" in spec:
            name, target = spec.split("=>")
            ti = tarfile.TarInfo(name); ti.type = tarfile.SYMTYPE; ti.linkname = target
            t.addfile(ti)
        else:
            data = b"written by a hostile tarball\n"
            ti = tarfile.TarInfo(spec); ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
PY
}
outside_is_clean() {
	local found
	found=$(find "$T/outside" "$T/jail" / -xdev -maxdepth 1 -name 'escaped-*' 2>/dev/null
		find "$T" -name 'escaped-*' 2>/dev/null)
	[ -z "$found" ] || { echo "found: $found"; return 1; }
}
DEPTH=$(echo "$T/jail/work" | tr -cd / | wc -c)
UP=$(printf '../%.0s' $(seq "$DEPTH"))
hostile_tar "$T/dotdot.tar" "../escaped-1" "./usr/../../escaped-2" "${UP}${T#/}/outside/escaped-3"
cd "$T/jail/work"
check_exit 1 "a tarball with '..' members: 1" "$BUNDLE" create --repo "$T/jail/repo" \
	--rootfs "$T/dotdot.tar" --ref acme/gw --version 1.0 --compatible acme-board --key "$KEY" \
	-o "$T/jail/b.ostick"
check_match "... names the member" \
	"^ostick-bundle create: rootfs $T/dotdot\.tar: member '\.\./escaped-1' leaves the root filesystem \('\.\.'\)$" \
	"$TEST_TMP/stderr"
check "... nothing written outside (no escaped-* anywhere near)" outside_is_clean
check "... no bundle" test ! -e "$T/jail/b.ostick"
hostile_tar "$T/hardlink.tar" "usr/bin/passwd-link==>../../etc/passwd"
check_exit 1 "a hard link member with '..' in its target: 1" "$BUNDLE" create \
	--repo "$T/jail/repo" --rootfs "$T/hardlink.tar" --ref acme/gw --version 1.0 \
	--compatible acme-board --key "$KEY" -o "$T/jail/b.ostick"
check_match "... names member and target" \
	"member 'usr/bin/passwd-link' linked to \.\./\.\./etc/passwd leaves the root filesystem" \
	"$TEST_TMP/stderr"
hostile_tar "$T/via-link.tar" "usr/escape-link=>$T/outside" "usr/escape-link/escaped-via-link"
check_exit 1 "a tarball with a member below a symlink member: 1 (libostree fails silently there)" \
	"$BUNDLE" create --repo "$T/jail/repo" --rootfs "$T/via-link.tar" --ref acme/gw \
	--version 1.0 --compatible acme-board --key "$KEY" -o "$T/jail/b.ostick"
check_match "... names the member and the symlink" \
	"member 'usr/escape-link/escaped-via-link' is below 'usr/escape-link', which is not a directory$" \
	"$TEST_TMP/stderr"
check "... nothing written outside, through the symlink or elsewhere" outside_is_clean
hostile_tar "$T/abs.tar" "$T/outside/escaped-abs"
check_exit 0 "a tarball with an absolute member name: 0" "$BUNDLE" create "${COMMON[@]}" \
	--rootfs "$T/abs.tar" --ref acme/abs --version 1.0 --from acme/gw -o "$T/jail/abs.ostick"
cd "$T"
check "... nothing written outside" outside_is_clean
check "... the outside directory is still empty" dir_is_empty "$T/outside"
check_match "... the member is inside the tree, relative to its root (as tar extracts it)" \
	" /${T#/}/outside/escaped-abs$" <(ostree --repo="$B" ls -R acme/abs)
check "... nothing of the build is left in the working directory" dir_is_empty "$T/jail/work"

done_testing
