#!/bin/sh
# Regenerates the test vectors of FORMAT.md, byte for byte, from the test keys.
#
# usage: format-spec/gen-vectors.sh [--check]
#   (no option)  rewrite format-spec/vectors/
#   --check      generate into a scratch directory and fail if anything differs from the
#                committed vectors (code, spec and vectors must agree)
# Environment: OSTICK_BUNDLE (default build/ostick-bundle), SOURCE_DATE_EPOCH (fixed below).
#
# Valid bundles are made by ostick-bundle itself from tiny commits whose bytes are fixed
# (owner, modes, timestamps); format-spec/vectors.py derives the other vectors from them.
# ECDSA signatures are randomised, so 004-p256 keeps its committed signature block for as long
# as the manifest it signs is unchanged.
set -eu

spec=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$spec")
bundle=${OSTICK_BUNDLE:-$top/build/ostick-bundle}
keys=$top/tests/data/keys
export SOURCE_DATE_EPOCH=1767225600 # 2026-01-01T00:00:00Z
export LC_ALL=C
umask 022

check=
[ "${1:-}" = "--check" ] && check=1
[ -x "$bundle" ] || { echo "gen-vectors: $bundle not built (run make)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ostick-vectors.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/vectors
mkdir -p "$out/valid" "$out/invalid"

# tree DIR VERSION: a tiny OSTree-layout tree (usr/etc, os-release) that differs per version.
tree() {
	mkdir -p "$1/usr/bin" "$1/usr/etc" "$1/usr/lib"
	printf 'ID=vectors\nVERSION_ID=%s\n' "$2" >"$1/usr/lib/os-release"
	printf '#!/bin/sh\necho "vectors %s"\n' "$2" >"$1/usr/bin/hello"
	printf 'vectors\n' >"$1/usr/etc/hostname"
	[ "$2" = 1.0 ] && printf 'removed in 2.0\n' >"$1/usr/lib/old-file"
	[ "$2" = 2.0 ] && printf 'new in 2.0\n' >"$1/usr/lib/new-file"
	chmod 0755 "$1/usr/bin/hello"
}

# commit REPO REF DIR VERSION: a commit whose checksum depends on nothing but its arguments.
commit() {
	ostree --repo="$1" commit --branch="$2" --tree=dir="$3" --owner-uid=0 --owner-gid=0 \
		--no-xattrs --timestamp="@$SOURCE_DATE_EPOCH" --add-metadata-string=version="$4" \
		--subject="vectors $4" >/dev/null
}

# expect_valid BUNDLE KEYRING: the .expect file of a valid vector, from its own manifest.
expect_valid() {
	"$bundle" inspect --json "$1" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print("[expect]")
print("keyring = " + sys.argv[1])
for k in ("target", "version", "compatible", "os", "ref"):
    print(f"{k} = {m[k]}")
print("base = " + (m["base"] or ""))
print("parts = %d" % (len(m["members"]) - 1))
print("install-size = %d" % m["install_size"])
' "$2" >"${1%.ostick}.expect"
}

mk() { # mk NAME KEYRING CREATE-ARGS...
	name=$1 keyring=$2
	shift 2
	"$bundle" create --compatible vectors-board --force -o "$out/valid/$name.ostick" \
		--part-encoding ostree-xz "$@" >/dev/null
	expect_valid "$out/valid/$name.ostick" "$keyring"
}

repo=$work/repo
ostree --repo="$repo" init --mode=archive
tree "$work/t1" 1.0
tree "$work/t2" 2.0
commit "$repo" vectors/stable "$work/t1" 1.0
v1=$(ostree --repo="$repo" rev-parse vectors/stable)
commit "$repo" vectors/stable "$work/t2" 2.0
# Two incompressible 700 kB files and 1 MB parts: two parts.
mkdir -p "$work/big/usr/lib"
python3 -c '
import hashlib, sys
for n in ("a", "b"):
    with open(sys.argv[1] + "/" + n, "wb") as f:
        block = n.encode()
        for _ in range(700 * 1024 // 32):
            block = hashlib.sha256(block).digest()
            f.write(block)
' "$work/big/usr/lib"
tree "$work/big" 1.0
commit "$repo" vectors/big "$work/big" 1.0

# x86-like code (FORMAT.md §5.8): calls and jumps to a few places, from everywhere, between
# bytes that never look like an opcode, with far and back-to-back opcodes among them.
mkdir -p "$work/x86/usr/lib"
python3 -c '
import struct, sys
out = bytearray()
targets = (0x400, 0x1234, 0x8000, 0x20000)
for i in range(4000):
    pos = len(out)
    if i % 97 == 0:
        out += bytes((0xE8, 0xE8, 0x10, 0x00, 0x12))     # far: left alone, blocks the next
    op = 0xE9 if i % 5 == 0 else 0xE8
    rel = (targets[i % 4] - (len(out) + 5)) & 0xFFFFFFFF
    out += bytes((op,)) + struct.pack("<I", rel)
    out += bytes((0x48, 0x89, 0xC7, 0x90, 0x31, 0xC0)[: 1 + i % 6])
open(sys.argv[1] + "/code.bin", "wb").write(out)
' "$work/x86/usr/lib"
tree "$work/x86" 1.0
commit "$repo" vectors/x86 "$work/x86" 1.0

ed=$keys/test-ed25519.key.pem
mk 001-scratch test-ed25519.pub.pem --repo "$repo" --ref vectors/stable --to "$v1" --key "$ed"
mk 002-delta test-ed25519.pub.pem --repo "$repo" --ref vectors/stable --from "$v1" --key "$ed"
mk 003-two-signatures test-ed25519-2.pub.pem --repo "$repo" --ref vectors/stable --key "$ed" \
	--key "$keys/test-ed25519-2.key.pem"
mk 004-p256 test-p256.pub.pem --repo "$repo" --ref vectors/stable --to "$v1" \
	--key "$keys/test-p256.key.pem"
mk 006-two-parts test-ed25519.pub.pem --repo "$repo" --ref vectors/big --key "$ed" \
	--max-part-size 1
# Later --part-encoding wins over mk's ostree-xz.
mk 007-zstd-scratch test-ed25519.pub.pem --repo "$repo" --ref vectors/stable --to "$v1" \
	--key "$ed" --part-encoding zstd
mk 008-zstd-delta test-ed25519.pub.pem --repo "$repo" --ref vectors/stable --from "$v1" \
	--key "$ed" --part-encoding zstd
# The same x86 tree with and without the branch conversion: the payloads must agree.
mk 009-zstd-x86 test-ed25519.pub.pem --repo "$repo" --ref vectors/x86 --key "$ed" \
	--part-encoding zstd --branch-filter x86
mk 010-zstd-x86-tree-unconverted test-ed25519.pub.pem --repo "$repo" --ref vectors/x86 \
	--key "$ed" --part-encoding zstd --branch-filter none

committed=$spec/vectors/valid/004-p256.ostick
if [ -f "$committed" ] && cmp -s "$committed" "$out/valid/004-p256.ostick" 2>/dev/null; then
	:
elif [ -f "$committed" ] && [ "$(tar -xOf "$committed" ostick.manifest | sha256sum)" = \
	"$(tar -xOf "$out/valid/004-p256.ostick" ostick.manifest | sha256sum)" ]; then
	cp "$committed" "$out/valid/004-p256.ostick" # same manifest: the old signature holds
fi

python3 "$spec/vectors.py" derive "$keys" "$out"

if [ -n "$check" ]; then
	if ! diff -r "$spec/vectors" "$out" >"$work/diff" 2>&1; then
		echo "gen-vectors: format-spec/vectors/ differs from what the code generates:" >&2
		cat "$work/diff" >&2
		exit 1
	fi
	echo "gen-vectors: $(find "$out" -name '*.ostick' | wc -l) vectors match"
	exit 0
fi
rm -rf "$spec/vectors"
cp -r "$out" "$spec/vectors"
echo "gen-vectors: wrote $(find "$spec/vectors" -name '*.ostick' | wc -l) vectors"
