#!/bin/bash
# t0130-bundle-keygen.sh: `ostick-bundle keygen -o NAME` writes NAME.key.pem (an unencrypted
# Ed25519 private key, mode 0600 whatever the umask) and NAME.pub.pem (0644), prints the key ID
# ostick names it by; --type ecdsa-p256; it never overwrites either file (exit 9, both left
# as they were); the key signs a bundle that verifies against the public key and not against
# another. Keys create refuses: RSA, P-384, encrypted, a public key given as --key (8, naming
# the file and why); a missing key file (7). No output file after any of these.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/bundle-lib.sh"

T=$TEST_TMP
K=$T/keys
mkdir -p "$K"

# ---- keygen under a permissive and a strict umask
check_exit 0 "keygen -o NAME under umask 000: exit 0" bash -c 'umask 000 && "$@"' _ \
	"$BUNDLE" keygen -o "$K/release"
cp "$TEST_TMP/stdout" "$T/keygen.out"
check_eq "... private key mode 0600" 600 "$(stat -c %a "$K/release.key.pem")"
check_eq "... public key mode 0644" 644 "$(stat -c %a "$K/release.pub.pem")"
check_eq "... exactly these two files" "release.key.pem release.pub.pem" \
	"$(ls -A "$K" | paste -sd ' ')"
check_exit 0 "keygen under umask 077: exit 0" bash -c 'umask 077 && "$@"' _ \
	"$BUNDLE" keygen -o "$K/strict"
check_eq "... private key mode 0600" 600 "$(stat -c %a "$K/strict.key.pem")"
check_eq "... public key mode 0644 (the umask does not narrow it either)" 644 \
	"$(stat -c %a "$K/strict.pub.pem")"
check "the private key is an unencrypted Ed25519 key (openssl reads it without a passphrase)" \
	bash -c 'openssl pkey -in "$1" -noout -text -passin pass: 2>&1 | grep -q "^ED25519 Private-Key"' \
	_ "$K/release.key.pem"
check "the public key is the private key's (openssl derives the same)" bash -c \
	'cmp <(openssl pkey -in "$1" -pubout) "$2"' _ "$K/release.key.pem" "$K/release.pub.pem"
check "the two key pairs differ" bash -c '! cmp -s "$1" "$2"' _ "$K/release.pub.pem" \
	"$K/strict.pub.pem"
ID=$(key_id "$K/release.pub.pem")
check_match "keygen prints both paths and the key ID (SHA-256 of the DER public key)" \
	"^key id: +$ID$" "$T/keygen.out"
check_match "... the private key path" "^private key: $K/release\.key\.pem$" "$T/keygen.out"
check_match "... the public key path" "^public key: +$K/release\.pub\.pem$" "$T/keygen.out"

# ---- never overwrites
cp "$K/release.key.pem" "$T/saved.key.pem"
cp "$K/release.pub.pem" "$T/saved.pub.pem"
check_exit 9 "keygen over an existing pair: 9" "$BUNDLE" keygen -o "$K/release"
check_match "... names the existing file" "^ostick-bundle keygen: $K/release\.(key|pub)\.pem: File exists$" \
	"$TEST_TMP/stderr"
check "... both files unchanged" bash -c 'cmp "$1" "$2" && cmp "$3" "$4"' _ \
	"$T/saved.key.pem" "$K/release.key.pem" "$T/saved.pub.pem" "$K/release.pub.pem"
check "... private key still 0600" test "$(stat -c %a "$K/release.key.pem")" = 600
mv "$K/release.pub.pem" "$T/moved.pub.pem"
check_exit 9 "keygen where only NAME.key.pem exists: 9" "$BUNDLE" keygen -o "$K/release"
check_match "... names it" "^ostick-bundle keygen: $K/release\.key\.pem: File exists$" \
	"$TEST_TMP/stderr"
check "... the private key unchanged, no public key written" bash -c \
	'cmp "$1" "$2" && [ ! -e "$3" ]' _ "$T/saved.key.pem" "$K/release.key.pem" \
	"$K/release.pub.pem"
mv "$T/moved.pub.pem" "$K/release.pub.pem"
mv "$K/strict.key.pem" "$T/strict.key.pem"
check_exit 9 "keygen where only NAME.pub.pem exists: 9" "$BUNDLE" keygen -o "$K/strict"
check_match "... names it" "^ostick-bundle keygen: $K/strict\.pub\.pem: File exists$" \
	"$TEST_TMP/stderr"
check "... no private key written" test ! -e "$K/strict.key.pem"
ln -s "$T/elsewhere.key.pem" "$K/dangling.key.pem"
check_exit 9 "keygen where NAME.key.pem is a dangling symlink: 9 (nothing written through it)" \
	"$BUNDLE" keygen -o "$K/dangling"
check "... nothing created at the symlink's target" test ! -e "$T/elsewhere.key.pem"
check_exit 7 "keygen into a missing directory: 7" "$BUNDLE" keygen -o "$T/nodir/x"
check_match "... names the path" "^ostick-bundle keygen: $T/nodir/x\.key\.pem: No such file or directory$" \
	"$TEST_TMP/stderr"
check_exit 2 "keygen without -o: 2" "$BUNDLE" keygen
check_match "... says so in one line" "^ostick-bundle keygen: missing --output$" "$TEST_TMP/stderr"
check_eq "... and nothing else" 1 "$(wc -l <"$TEST_TMP/stderr")"
check_exit 2 "keygen --type rsa: 2" "$BUNDLE" keygen --type rsa -o "$K/rsa"
check_match "... names the types" "^ostick-bundle keygen: --type must be ed25519 or ecdsa-p256$" \
	"$TEST_TMP/stderr"
check "... wrote nothing" bash -c '! ls "$1"/rsa.* 2>/dev/null' _ "$K"
check_exit 0 "keygen --type ecdsa-p256: exit 0" "$BUNDLE" keygen --type ecdsa-p256 -o "$K/ec"
check "... a P-256 key" bash -c 'openssl pkey -in "$1" -noout -text | grep -q "NIST CURVE: P-256"' \
	_ "$K/ec.key.pem"
check_eq "... mode 0600" 600 "$(stat -c %a "$K/ec.key.pem")"

# ---- the new keys sign bundles that verify against their public keys
make_rootfs 1.0 "$T/rootfs"
commit_tree "$T/repo" acme/os "$T/rootfs" 1.0
# (a second commit of the same tree: the ECDSA bundle below is a cheap delta from the first)
commit_tree "$T/repo" acme/os "$T/rootfs" 1.0-again
mkdir -p "$T/ring" "$T/ring-ec" "$T/ring-other"
cp "$K/release.pub.pem" "$T/ring/"
cp "$K/ec.pub.pem" "$T/ring-ec/"
cp "$K/strict.pub.pem" "$T/ring-other/"
COMMON=(--repo "$T/repo" --ref acme/os --compatible acme-board "${XZ[@]}")
check_exit 0 "create signed with the new Ed25519 key: exit 0" "$BUNDLE" create "${COMMON[@]}" \
	--to "acme/os^" --key "$K/release.key.pem" -o "$T/b.ostick"
check_exit 0 "... verify against its public key: 0" "$BUNDLE" verify --keyring "$T/ring" \
	"$T/b.ostick"
check_match "... signed by that key ID" "signed by key ${ID:0:16}" "$TEST_TMP/stdout"
check_exit 4 "... verify against another new key: 4" "$BUNDLE" verify --keyring "$T/ring-other" \
	"$T/b.ostick"
check_exit 0 "create signed with the new P-256 key: exit 0" \
	"$BUNDLE" create "${COMMON[@]}" --from "acme/os^" --key "$K/ec.key.pem" -o "$T/ec.ostick"
check_exit 0 "... verify against its public key: 0" "$BUNDLE" verify --keyring "$T/ring-ec" \
	"$T/ec.ostick"
json_check "... the manifest names the ECDSA signature" <("$BUNDLE" inspect --json "$T/ec.ostick") \
	"[s['algorithm'] for s in d['signatures']] == ['ecdsa-p256-sha256']"

# ---- keys create refuses (before any work: no output, no work directory)
mkdir "$T/out"
# refused CODE KEY REGEX DESCRIPTION
refused() {
	check_exit "$1" "create --key $4: $1" "$BUNDLE" create "${COMMON[@]}" --key "$2" \
		-o "$T/out/b.ostick"
	check_match "... says: $3" "^ostick-bundle create: ${2//./\\.}: $3$" "$TEST_TMP/stderr"
	check "... no output" dir_is_empty "$T/out"
}
refused 8 "$KEYS/test-rsa.key.pem" "RSA keys are not supported \(use Ed25519 or ECDSA P-256\)" \
	"an RSA key"
refused 8 "$KEYS/test-p384.key.pem" \
	"EC key on curve secp384r1 is not supported \(use P-256 or Ed25519\)" "a P-384 key"
refused 8 "$KEYS/test-encrypted.key.pem" "encrypted private keys are not supported" \
	"an encrypted key"
check "... and it did not ask for a passphrase (no terminal read)" test ! -s "$TEST_TMP/stdout"
refused 8 "$KEYS/test-ed25519.pub.pem" "not a PEM private key \(.*\)" "a public key"
refused 8 "$K/release.pub.pem" "not a PEM private key \(.*\)" "keygen's public key"
echo "garbage" >"$T/garbage.pem"
refused 8 "$T/garbage.pem" "not a PEM private key \(.*\)" "a file that is no key"
check_exit 7 "create --key with a missing key file: 7" "$BUNDLE" create "${COMMON[@]}" \
	--key "$T/missing.key.pem" -o "$T/out/b.ostick"
check_match "... names the file" "^ostick-bundle create: .*$T/missing\.key\.pem.*: No such file or directory$" \
	"$TEST_TMP/stderr"
check "... no output" dir_is_empty "$T/out"
check_exit 7 "a missing second --key: 7 (every key is checked first)" "$BUNDLE" create \
	"${COMMON[@]}" --key "$K/release.key.pem" --key "$T/missing.key.pem" -o "$T/out/b.ostick"
check "... no output" dir_is_empty "$T/out"
check_exit 8 "an RSA second --key: 8" "$BUNDLE" create "${COMMON[@]}" --key "$K/release.key.pem" \
	--key "$KEYS/test-rsa.key.pem" -o "$T/out/b.ostick"
check "... no output" dir_is_empty "$T/out"

done_testing
