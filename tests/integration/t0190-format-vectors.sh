#!/bin/bash
# The committed test vectors are exactly what gen-vectors.sh makes with this tree's bundler, and
# stock tools read the valid ones as FORMAT.md says (tar, openssl, ostree).
. "$(dirname "$0")/lib.sh"

check "format-spec/vectors/ regenerates byte for byte" \
	env OSTICK_BUNDLE="$BUNDLE" TMPDIR="$TEST_TMP" "$OSTICK_SRCDIR/format-spec/gen-vectors.sh" --check

V=$OSTICK_SRCDIR/format-spec/vectors
check_eq "members in FORMAT.md order" \
	"ostick.manifest ostick.sig delta/superblock delta/0" "$(tar -tf "$V/valid/001-scratch.ostick" | xargs)"

# The signature over the manifest verifies with stock openssl, keyed as FORMAT.md §4 says.
x=$TEST_TMP/x
mkdir "$x"
tar -xf "$V/valid/001-scratch.ostick" -C "$x"
dd if="$x/ostick.sig" of="$x/value" bs=1 skip=52 count=64 status=none
check "Ed25519 signature verifies with openssl pkeyutl" openssl pkeyutl -verify -pubin \
	-inkey "$KEYS/test-ed25519.pub.pem" -rawin -in "$x/ostick.manifest" -sigfile "$x/value"
want_id=$(openssl pkey -pubin -in "$KEYS/test-ed25519.pub.pem" -outform DER | sha256sum | cut -c1-64)
check_eq "key ID is the SHA-256 of the DER public key" "$want_id" \
	"$(dd if="$x/ostick.sig" bs=1 skip=20 count=32 status=none | xxd -p -c 64)"

# The stock recipe of README and FORMAT.md applies the delta of a valid vector.
repo=$TEST_TMP/repo
ostree --repo="$repo" init --mode=bare-user
check "stock ostree static-delta apply-offline takes the extracted delta" \
	ostree --repo="$repo" static-delta apply-offline "$x/delta"
target=$(sed -n 's/^target=//p' "$x/ostick.manifest")
check "stock ostree refs --create sets the ref" ostree --repo="$repo" refs --create=vectors/stable "$target"
check "the applied commit is complete (fsck)" ostree --repo="$repo" fsck -q
done_testing
