#!/bin/bash
# t0120-bundle-inspect-verify.sh: `ostick-bundle inspect` (human and --json, with and without
# --keyring) says what the repo and the manifest say; `ostick-bundle verify --keyring` passes
# with the right key (directory or single file) and exits 4, naming the problem, for an unknown
# key, an empty keyring or one with only unusable keys, a byte changed in the manifest, in the
# signature block (value, key ID, magic; its version field: 3), in the superblock or a part (at
# an offset found by parsing the tar, so that the tar stays valid), members renamed, swapped or
# added, and a bundle truncated at any member; a missing keyring is 7, a missing option 2.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/bundle-lib.sh"
command -v python3 >/dev/null || skip_all "needs python3 (JSON and tar checks)"

T=$TEST_TMP
R=$T/repo
REF=acme/os
EPOCH1=1650000000
EPOCH2=1660000000 # 2022-08-08 23:06:40 UTC
export SOURCE_DATE_EPOCH=1700000000
make_rootfs 1.0 "$T/rootfs-1.0"
make_rootfs 2.0 "$T/rootfs-2.0"
commit_at "$R" "$REF" "$T/rootfs-1.0" 1.0 "$EPOCH1"
commit_at "$R" "$REF" "$T/rootfs-2.0" 2.0 "$EPOCH2"
V1=$(ostree --repo="$R" rev-parse "$REF^")
V2=$(ostree --repo="$R" rev-parse "$REF")
ID=$(key_id "$KEYS/test-ed25519.pub.pem")
ID2=$(key_id "$KEYS/test-ed25519-2.pub.pem")
K=$T/keyring
mkdir -p "$K" "$T/keyring-other" "$T/keyring-empty" "$T/keyring-unusable" "$T/keyring-mixed"
cp "$KEYS/test-ed25519.pub.pem" "$K/"
cp "$KEYS/test-ed25519-2.pub.pem" "$T/keyring-other/"
cp "$KEYS/test-rsa.pub.pem" "$T/keyring-unusable/"
echo "not a key" >"$T/keyring-unusable/junk.pem"
cp "$KEYS/test-rsa.pub.pem" "$KEYS/test-ed25519.pub.pem" "$T/keyring-mixed/"
echo "not a key" >"$T/keyring-mixed/junk.pem"
COMMON=(--repo "$R" --ref "$REF" --compatible acme-board --key "$KEYS/test-ed25519.key.pem")
FULL=$T/full.ostick
DELTA=$T/delta.ostick
# (the full bundle in libostree's encoding, which stock ostree applies; the delta in zstd)
"$BUNDLE" create "${COMMON[@]}" "${XZ[@]}" --description "all of 2.0" -o "$FULL" >/dev/null
"$BUNDLE" create "${COMMON[@]}" --part-encoding zstd --from "$V1" -o "$DELTA" >/dev/null

# ---- inspect, human
check_exit 0 "inspect the delta: exit 0" "$BUNDLE" inspect "$DELTA"
cp "$TEST_TMP/stdout" "$T/delta.txt"
tar -xOf "$DELTA" delta/superblock >"$T/delta.sb"
SB_SHA=$(sha256sum <"$T/delta.sb" | cut -d' ' -f1)
P0_SHA=$(tar -xOf "$DELTA" delta/0 | sha256sum | cut -d' ' -f1)
N_DELTA=$(tar -tf "$DELTA" | grep -c '^delta/[0-9]')
for line in "^Bundle: +${DELTA//./\\.}$" "^Format: +1$" "^Created: +2023-11-14T22:13:20Z$" \
	"^Compatible: +acme-board$" "^Version: +2\.0$" "^OS: +ostick-demo$" "^Ref: +acme/os$" \
	"^Target: +$V2 \(2022-08-08 23:06:40 UTC\)$" "^Base: +$V1$" \
	"^Install size: +[0-9.]+.[kM]B, [0-9]+ objects in $N_DELTA parts?$" \
	"^Signatures: +1 \(not verified; pass --keyring, or use verify\)$" \
	"^  ed25519 +key $ID$" "^Payload:$" \
	"^  delta/superblock +$(stat -c %s "$T/delta.sb") bytes +none +sha256 ${SB_SHA:0:16}$" \
	"^  delta/0 +[0-9.]+.[kM]B +zstd +-> [0-9.]+.[kM]B +sha256 ${P0_SHA:0:16}$"; do
	check_match "inspect: /$line/" "$line" "$T/delta.txt"
done
check "inspect: no Description line without one" bash -c '! grep -q "^Description:" "$1"' _ \
	"$T/delta.txt"
check_exit 0 "inspect the full bundle: exit 0" "$BUNDLE" inspect "$FULL"
check_match "... Base: none" '^Base: +\(none: full tree\)$' "$TEST_TMP/stdout"
check_match "... the description" '^Description: +all of 2\.0$' "$TEST_TMP/stdout"
check_exit 0 "inspect --keyring (trusted key): exit 0" "$BUNDLE" inspect --keyring "$K" "$DELTA"
check_match "... the signature is verified" "^Signatures: +1$" "$TEST_TMP/stdout"
check_match "... by that key" "^  ed25519 +key $ID  verified$" "$TEST_TMP/stdout"
check_exit 4 "inspect --keyring (unknown key): 4" "$BUNDLE" inspect --keyring \
	"$T/keyring-other" "$DELTA"
check_match "... says the key is not trusted" \
	"^ostick-bundle inspect: bundle is signed only by keys this device does not trust \(key ${ID:0:16}\)" \
	"$TEST_TMP/stderr"
check_exit 0 "inspect - (the bundle on stdin): exit 0" bash -c '"$1" inspect - <"$2"' _ \
	"$BUNDLE" "$DELTA"
check_match "... the same target" "^Target: +$V2 " "$TEST_TMP/stdout"

# ---- inspect --json
check_exit 0 "inspect --json: exit 0" "$BUNDLE" inspect --json "$DELTA"
cp "$TEST_TMP/stdout" "$T/delta.json"
check "... stdout is one valid JSON object" python3 -c \
	'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, dict)' \
	"$T/delta.json"
json_check "... exactly the documented fields" "$T/delta.json" "sorted(d) == sorted(['format',
'created', 'compatible', 'version', 'os', 'ref', 'description', 'target', 'target_timestamp',
'base', 'install_size', 'required_features', 'members', 'objects', 'signature_verified',
'signatures'])"
json_check "... identity: format, created, compatible, version, os, ref, no description" \
	"$T/delta.json" "(d['format'], d['created'], d['compatible'], d['version'], d['os'],
d['ref'], d['description']) == (1, '2023-11-14T22:13:20Z', 'acme-board', '2.0', 'ostick-demo',
'acme/os', None)"
json_check "... commits: target, its timestamp, base" "$T/delta.json" \
	"(d['target'], d['target_timestamp'], d['base']) == ('$V2', $EPOCH2, '$V1')"
json_check "... members: superblock then parts, with the sizes and hashes of the tar bytes" \
	"$T/delta.json" "[(m['name'], m['size'], m['sha256'], m['encoding']) for m in
d['members'][:2]] == [('delta/superblock', $(stat -c %s "$T/delta.sb"), '$SB_SHA', 'none'),
('delta/0', $(tar -xOf "$DELTA" delta/0 | wc -c), '$P0_SHA', 'zstd')]"
check "... every member matches the tar bytes" members_match_manifest "$DELTA" "$T/delta.json"
json_check "... signatures listed, not verified without --keyring" "$T/delta.json" \
	"d['signature_verified'] is False and d['signatures'] == [{'algorithm': 'ed25519',
'key_id': '$ID', 'verified': False}]"
"$BUNDLE" inspect --json --keyring "$K" "$DELTA" >"$T/delta-k.json"
json_check "inspect --json --keyring: verified" "$T/delta-k.json" \
	"d['signature_verified'] is True and d['signatures'][0]['verified'] is True"
"$BUNDLE" inspect --json "$FULL" >"$T/full.json"
json_check "inspect --json of the full bundle: base null, the description" "$T/full.json" \
	"d['base'] is None and d['description'] == 'all of 2.0' and d['target'] == '$V2'"
ostree --repo="$T/dev" init --mode=bare
check "stock apply-offline of the full (ostree-xz) bundle" stock_apply "$FULL" "$T/dev"
check_eq "the full bundle's object count is what stock ostree writes into an empty repo" \
	"$(find "$T/dev/objects" -type f | wc -l)" "$(json_get "$T/full.json" "d['objects']")"

# ---- verify
check_exit 0 "verify with the right key (keyring directory): 0" \
	"$BUNDLE" verify --keyring "$K" "$DELTA"
check_match "... says OK, what, by which key, how many members" \
	"^${DELTA//./\\.}: OK: acme/os 2\.0 for 'acme-board', signed by key ${ID:0:16}, $((N_DELTA + 3)) members verified$" \
	"$TEST_TMP/stdout"
check_exit 0 "verify with the key file itself as keyring: 0" \
	"$BUNDLE" verify --keyring "$KEYS/test-ed25519.pub.pem" "$FULL"
check_exit 0 "verify with a keyring that also holds unusable files: 0" \
	"$BUNDLE" verify --keyring "$T/keyring-mixed" "$FULL"
check_exit 0 "verify - (stdin): 0" bash -c '"$1" verify --keyring "$2" - <"$3"' _ "$BUNDLE" \
	"$K" "$DELTA"
check_exit 4 "verify with an unknown key: 4" "$BUNDLE" verify --keyring "$T/keyring-other" \
	"$DELTA"
check_match "... names the bundle's key and the keyring" \
	"^ostick-bundle verify: ${DELTA//./\\.}: bundle is signed only by keys this device does not trust \(key ${ID:0:16}\); keyring $T/keyring-other has 1 key\(s\)$" \
	"$TEST_TMP/stderr"
check_exit 4 "verify with an empty keyring: 4" "$BUNDLE" verify --keyring "$T/keyring-empty" \
	"$DELTA"
check_match "... says the keyring has no key" "keyring $T/keyring-empty has 0 key\(s\)$" \
	"$TEST_TMP/stderr"
check_exit 4 "verify with a keyring of unusable files only (RSA, junk): 4" \
	"$BUNDLE" verify --keyring "$T/keyring-unusable" "$DELTA"
check_match "... says why each was skipped" \
	"has 0 key\(s\), skipped: junk\.pem: no PEM public key .*; test-rsa\.pub\.pem: RSA keys are not supported" \
	"$TEST_TMP/stderr"
check_exit 7 "verify with a nonexistent keyring: 7" "$BUNDLE" verify --keyring "$T/nope" "$DELTA"
check_match "... names it" "^ostick-bundle verify: keyring $T/nope: No such file or directory$" \
	"$TEST_TMP/stderr"
check_exit 7 "verify a nonexistent bundle: 7" "$BUNDLE" verify --keyring "$K" "$T/nope.ostick"
check_match "... names it" "$T/nope\.ostick: No such file or directory$" "$TEST_TMP/stderr"
check_exit 2 "verify without --keyring: 2" "$BUNDLE" verify "$DELTA"
check_match "... says so in one line" "^ostick-bundle verify: missing --keyring$" \
	"$TEST_TMP/stderr"
check_eq "... and nothing else" 1 "$(wc -l <"$TEST_TMP/stderr")"
check_exit 2 "verify without a bundle: 2" "$BUNDLE" verify --keyring "$K"
check_match "... says so" "^ostick-bundle verify: missing BUNDLE$" "$TEST_TMP/stderr"

# ---- tampering: one byte of one member, the tar kept valid
# tampered MEMBER INDEX CODE REGEX DESCRIPTION: verify of DELTA with byte INDEX of MEMBER's data
# flipped exits CODE and says REGEX.
tampered() {
	local out=$T/tampered.ostick
	flip_member_byte "$DELTA" "$out" "$1" "$2"
	check_eq "precondition ($5): the tampered file is still a tar with the same members" \
		"$(tar_names "$DELTA")" "$(tar_names "$out" 2>&1)"
	check_exit "$3" "verify, $5: $3" "$BUNDLE" verify --keyring "$K" "$out"
	check_match "... says: $4" "^ostick-bundle verify: ${out//./\\.}: $4" "$TEST_TMP/stderr"
}
BADSIG="signature 0 by trusted key ${ID:0:16}: signature does not verify$"
tampered ostick.manifest 0 4 "$BADSIG" "first manifest byte"
tampered ostick.manifest 300 4 "$BADSIG" "a manifest byte in the middle"
tampered ostick.manifest -1 4 "$BADSIG" "last manifest byte"
tampered ostick.sig 60 4 "$BADSIG" "a byte of the signature value"
tampered ostick.sig -1 4 "$BADSIG" "the last signature byte"
tampered ostick.sig 25 4 "bundle is signed only by keys this device does not trust" \
	"a byte of the key ID"
tampered ostick.sig 0 4 "" "a byte of the signature block's magic"
check_match "... which names the signature block" "signature block|ostick\.sig" \
	"$TEST_TMP/stderr"
tampered ostick.sig 8 3 "signature block version 0 not supported" \
	"the signature block's version field (unsupported format: 3)"
tampered delta/superblock 100 4 \
	"'delta/superblock' does not match the signed manifest \(SHA-256 [0-9a-f]{16}…, expected ${SB_SHA:0:16}…\)$" \
	"a superblock byte"
tampered delta/0 "$(($(tar -xOf "$DELTA" delta/0 | wc -c) / 2))" 4 \
	"'delta/0' does not match the signed manifest \(SHA-256 [0-9a-f]{16}…, expected ${P0_SHA:0:16}…\)$" \
	"a byte in the middle of part 0"
LAST=delta/$((N_DELTA - 1))
tampered "$LAST" -1 4 "'${LAST}' does not match the signed manifest" \
	"the very last payload byte"

# ---- members renamed, swapped, added (tar rebuilt by Python; the same bytes in each member)
# rebuild OUT PYTHON-LIST-EXPRESSION: OUT holds the members of DELTA as the expression (over
# the list m of (name, data) in order) gives them.
rebuild() {
	python3 - "$DELTA" "$@" <<'PY'
import io, sys, tarfile
src, dst, expr = sys.argv[1:]
with tarfile.open(src) as s:
    m = [(x.name, s.extractfile(x).read()) for x in s.getmembers()]
with tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in eval(expr):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
PY
}
rebuild "$T/same.ostick" "m"
check_exit 0 "control: the members repacked by Python's tarfile verify: 0" \
	"$BUNDLE" verify --keyring "$K" "$T/same.ostick"
rebuild "$T/renamed.ostick" "[(n if n != 'delta/0' else 'delta/00', d) for n, d in m]"
check_exit 4 "verify, part 0 renamed delta/00: 4" "$BUNDLE" verify --keyring "$K" \
	"$T/renamed.ostick"
check_match "... says what it expected" "expected member 'delta/0', found 'delta/00'$" \
	"$TEST_TMP/stderr"
rebuild "$T/swapped.ostick" "[m[1], m[0]] + m[2:]"
check_exit 4 "verify, manifest and signatures swapped: 4" "$BUNDLE" verify --keyring "$K" \
	"$T/swapped.ostick"
check_match "... says what it expected" "expected member 'ostick.manifest', found 'ostick.sig'$" \
	"$TEST_TMP/stderr"
rebuild "$T/extra.ostick" "m + [('run-me.sh', b'echo pwned\n')]"
check_exit 4 "verify, a member added after the last part: 4" "$BUNDLE" verify --keyring "$K" \
	"$T/extra.ostick"
check_match "... names it" "unexpected member 'run-me\.sh' after the last part$" \
	"$TEST_TMP/stderr"

# ---- truncated bundles
# truncated OFFSET DESCRIPTION REGEX: verify of the first OFFSET bytes of FULL exits 4, says REGEX.
truncated() {
	head -c "$1" "$FULL" >"$T/truncated.ostick"
	check_exit 4 "verify, truncated $2: 4" "$BUNDLE" verify --keyring "$K" "$T/truncated.ostick"
	check_match "... says: $3" "^ostick-bundle verify: $T/truncated\.ostick: $3" \
		"$TEST_TMP/stderr"
}
offset_of() { member_offset "$FULL" "$1" | awk -v w="$2" '{ print $1 + (w == "end" ? $2 : 0) }'; }
truncated 0 "to nothing" "not a bundle"
truncated 100 "in the first tar header" "not a bundle"
truncated $(($(offset_of ostick.manifest start) + 10)) "inside the manifest" \
	"ostick\.manifest: .*[Tt]runcated"
truncated $(($(offset_of ostick.sig start) + 10)) "inside the signature block" \
	"ostick\.sig: .*[Tt]runcated"
truncated $(($(offset_of delta/superblock start) + 10)) "inside the superblock" \
	"delta/superblock: .*[Tt]runcated"
truncated $(($(offset_of delta/0 start) + 100000)) "inside part 0" "delta/0: .*[Tt]runcated"
LAST=delta/$(($(tar -tf "$FULL" | grep -c '^delta/[0-9]') - 1))
truncated $(($(offset_of "$LAST" end) - 1)) "one byte short of the last part" \
	"${LAST}: .*[Tt]runcated"
: >"$T/empty.ostick"
check_exit 4 "inspect an empty file: 4" "$BUNDLE" inspect "$T/empty.ostick"
check_match "... says it is not a bundle" "^ostick-bundle inspect: not a bundle" \
	"$TEST_TMP/stderr"
check_exit 7 "inspect a nonexistent file: 7" "$BUNDLE" inspect "$T/nope.ostick"
check_exit 2 "inspect without a bundle: 2" "$BUNDLE" inspect
check_match "... says so" "^ostick-bundle inspect: missing BUNDLE$" "$TEST_TMP/stderr"

done_testing
