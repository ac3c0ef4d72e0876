#!/bin/bash
# t0100-bundle-create.sh: `ostick-bundle create` from an existing OSTree repo, full (from scratch)
# and as a delta (--from, --to): the manifest (inspect --json) matches the repo (target =
# rev-parse, base, commit timestamp), --version and --os default from the commit; every member's
# size and SHA-256 equals the bytes stock tar extracts; members come in the fixed order; the
# bundle carries every object (a 5 MB file would be an HTTP fallback with libostree's default):
# stock `ostree static-delta apply-offline` into a fresh bare repo (or one holding the base) +
# fsck + refs --create gives the target, whose checkout equals the source repo's (those bundles
# use --part-encoding ostree-xz; the default zstd parts decode to the same payloads). Repeated
# --key: every key signs, a keyring with either verifies. SOURCE_DATE_EPOCH: byte-identical
# bundles (one check fails on a known bug: ECDSA signatures are random). The output appears only
# when complete: nothing after a failure (bad --from, disk full, SIGINT), exit 9 on an existing
# output, --force replaces it (or keeps it on failure).
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/bundle-lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (JSON and tar checks)"

T=$TEST_TMP
R=$T/repo
KEY=$KEYS/test-ed25519.key.pem
REF=acme/os
COMPAT=acme-board
EPOCH1=1650000000
EPOCH2=1660000000
export SOURCE_DATE_EPOCH=1700000000
CREATED=2023-11-14T22:13:20Z

# Two versions of the sample tree, each with a 5 MB file of its own (over libostree's default
# min-fallback-size of 4 MB) and the same 12 compressible files, so that --max-part-size 1
# gives more than ten parts (delta/10 must come after delta/9) and the delta stays cheap.
for v in 1.0 2.0; do
	make_rootfs "$v" "$T/rootfs-$v"
	repeat_text "big file of $v" 5000000 >"$T/rootfs-$v/usr/share/ostick-demo/big-$v.bin"
	for i in $(seq 1 12); do
		repeat_text "file $i" 600000 >"$T/rootfs-$v/usr/share/ostick-demo/text-$i"
	done
done
commit_at "$R" "$REF" "$T/rootfs-1.0" 1.0 "$EPOCH1"
commit_at "$R" "$REF" "$T/rootfs-2.0" 2.0 "$EPOCH2"
V1=$(ostree --repo="$R" rev-parse "$REF^")
V2=$(ostree --repo="$R" rev-parse "$REF")
ID_ED=$(key_id "$KEYS/test-ed25519.pub.pem")
ID_P256=$(key_id "$KEYS/test-p256.pub.pem")
mkdir -p "$T/keyring-ed" "$T/keyring-p256" "$T/keyring-other"
cp "$KEYS/test-ed25519.pub.pem" "$T/keyring-ed/"
cp "$KEYS/test-p256.pub.pem" "$T/keyring-p256/"
cp "$KEYS/test-ed25519-2.pub.pem" "$T/keyring-other/"
COMMON=(--repo "$R" --ref "$REF" --compatible "$COMPAT" --key "$KEY" "${XZ[@]}")

check "control: a stock delta with libostree's default min-fallback-size is refused offline" \
	bash -c 'ostree --repo="$1" static-delta generate --empty --to="$2" --inline \
		--filename="$3/control.delta" >/dev/null && ostree --repo="$3/control" init \
		--mode=bare && ! ostree --repo="$3/control" static-delta apply-offline \
		"$3/control.delta" 2>"$3/control.err" && grep -q "fallback" "$3/control.err"' \
	_ "$R" "$V2" "$T"

# ---- full bundle of 2.0 (no --version, no --os: both from the commit)
FULL=$T/full.ostick
check_exit 0 "create full 2.0 from the repo, --max-part-size 1: exit 0" \
	"$BUNDLE" create "${COMMON[@]}" --max-part-size 1 -o "$FULL"
check_match "... the summary names ref, version, compatible, target" \
	"^$FULL: $REF 2\.0 for '$COMPAT', full tree ${V2:0:12}, [0-9]+ parts, 1 signature, " \
	"$TEST_TMP/stdout"
check_exit 0 "inspect --json the full bundle: exit 0" inspect_json "$FULL" "$T/full.json"
json_check "manifest: target is rev-parse $REF, no base, ref and compatible as given" \
	"$T/full.json" "d['target'] == '$V2' and d['base'] is None and d['ref'] == '$REF' and
d['compatible'] == '$COMPAT' and d['format'] == 1"
json_check "manifest: version 2.0 from the commit's metadata, os from os-release ID" \
	"$T/full.json" "d['version'] == '2.0' and d['os'] == 'ostick-demo'"
check_eq "manifest: target timestamp is the commit's (ostree show)" "$(commit_time "$R" "$V2")" \
	"$(json_get "$T/full.json" "d['target_timestamp']")"
check_eq "... and the one the commit was made with" "$EPOCH2" \
	"$(json_get "$T/full.json" "d['target_timestamp']")"
json_check "manifest: created is SOURCE_DATE_EPOCH, install size set, no required features" \
	"$T/full.json" "d['created'] == '$CREATED' and d['install_size'] > 7000000 and
d['required_features'] == []"
json_check "manifest: one Ed25519 signature named by the key's SHA-256" "$T/full.json" \
	"[(s['algorithm'], s['key_id']) for s in d['signatures']] == [('ed25519', '$ID_ED')]"
N_FULL=$(json_get "$T/full.json" "len(d['members']) - 1")
check "more than 10 parts with --max-part-size 1 (got $N_FULL)" test "$N_FULL" -gt 10
json_check "manifest: the superblock, then parts 0..N-1; parts are ostree-xz" "$T/full.json" \
	"[m['name'] for m in d['members']] == ['delta/superblock'] +
['delta/%d' % i for i in range(len(d['members']) - 1)] and d['members'][0]['encoding'] == 'none'
and all(m['encoding'] == 'ostree-xz' and m['decoded_size'] > 0 for m in d['members'][1:])"
check "every member's size and SHA-256 in the manifest equal the bytes tar extracts" \
	members_match_manifest "$FULL" "$T/full.json"
check_eq "tar lists manifest, signatures, superblock, then the parts in order" \
	"$(expected_names "$N_FULL")" "$(tar_names "$FULL")"
tar -tvf "$FULL" >"$T/full.tvf"
check "every tar member: a regular file, 0644, root:root, mtime SOURCE_DATE_EPOCH" \
	bash -c '! grep -v "^-rw-r--r-- 0/0 .* 2023-11-14 22:13 " "$1"' _ "$T/full.tvf"
tar -xOf "$FULL" ostick.manifest >"$T/full.manifest"
check_match "the manifest text (GKeyFile) names the target" "^target=$V2$" "$T/full.manifest"
check_match "... and the parts count" "^parts=$N_FULL$" "$T/full.manifest"

ostree --repo="$T/dev-scratch" init --mode=bare
check "stock apply-offline of the full bundle into an empty bare repo, then fsck" \
	stock_apply "$FULL" "$T/dev-scratch"
check "... refs --create=$REF on the target" \
	ostree --repo="$T/dev-scratch" refs --create="$REF" "$V2"
check_eq "... the ref resolves to the target" "$V2" \
	"$(ostree --repo="$T/dev-scratch" rev-parse "$REF" 2>&1)"
check "... its checkout equals the source repo's (contents, modes, owners, links)" \
	same_checkout "$R" "$T/dev-scratch" "$V2"
check "... the 5 MB file (a fallback by default) is there, byte for byte" \
	bash -c 'ostree --repo="$1" cat "$2" /usr/share/ostick-demo/big-2.0.bin |
		cmp - "$3/rootfs-2.0/usr/share/ostick-demo/big-2.0.bin"' _ "$T/dev-scratch" "$V2" "$T"

# ---- --to: full bundle of 1.0, which then seeds a device for the delta
V1B=$T/v1.ostick
check_exit 0 "create --to $REF^ (a full 1.0): exit 0" "$BUNDLE" create "${COMMON[@]}" \
	--to "$REF^" -o "$V1B"
inspect_json "$V1B" "$T/v1.json"
json_check "--to: target is 1.0's commit, version 1.0 from its metadata, its timestamp" \
	"$T/v1.json" "d['target'] == '$V1' and d['base'] is None and d['version'] == '1.0' and
d['target_timestamp'] == $EPOCH1"
ostree --repo="$T/dev-delta" init --mode=bare
check "stock apply-offline of the full 1.0 into a second empty bare repo" \
	stock_apply "$V1B" "$T/dev-delta"

# ---- delta 1.0 -> 2.0, with explicit commits
DELTA=$T/delta.ostick
check_exit 0 "create --from 1.0 --to 2.0 (commit checksums): exit 0" \
	"$BUNDLE" create "${COMMON[@]}" --from "$V1" --to "$V2" -o "$DELTA"
check_match "... the summary says delta" "^$DELTA: $REF 2\.0 for '$COMPAT', delta to ${V2:0:12}," \
	"$TEST_TMP/stdout"
inspect_json "$DELTA" "$T/delta.json"
json_check "delta manifest: base 1.0, target 2.0, version 2.0, target timestamp" \
	"$T/delta.json" "d['base'] == '$V1' and d['target'] == '$V2' and d['version'] == '2.0' and
d['target_timestamp'] == $EPOCH2 and d['created'] == '$CREATED'"
check "delta: every member's size and SHA-256 match the tar bytes" \
	members_match_manifest "$DELTA" "$T/delta.json"
check_eq "delta: tar member order" \
	"$(expected_names "$(json_get "$T/delta.json" "len(d['members']) - 1")")" \
	"$(tar_names "$DELTA")"
check "delta: smaller than the full bundle" \
	test "$(stat -c %s "$DELTA")" -lt "$(stat -c %s "$FULL")"
ostree --repo="$T/dev-empty" init --mode=bare
not_applied() { ! stock_apply "$@"; }
check "control: the delta does not apply to a repo without its base" \
	not_applied "$DELTA" "$T/dev-empty"
check "stock apply-offline of the delta into the repo holding 1.0, then fsck" \
	stock_apply "$DELTA" "$T/dev-delta"
check "... refs --create=$REF on the target" ostree --repo="$T/dev-delta" refs --create="$REF" "$V2"
check "... its checkout equals the source repo's" same_checkout "$R" "$T/dev-delta" "$V2"

# ---- the delta again, --from as a ref expression: the same bundle
check_exit 0 "create --from $REF^ (a ref expression): exit 0" \
	"$BUNDLE" create "${COMMON[@]}" --from "$REF^" -o "$T/delta-ref.ostick"
check "... byte-identical to the one made from checksums" cmp "$DELTA" "$T/delta-ref.ostick"

# ---- --version, --os, --description override the defaults
check_exit 0 "create with --version, --os, --description: exit 0" \
	"$BUNDLE" create "${COMMON[@]}" --from "$V1" --version 2.0-rc1 --os acme-os \
	--description "field test build" -o "$T/override.ostick"
inspect_json "$T/override.ostick" "$T/override.json"
json_check "... the manifest has the given version, os and description" "$T/override.json" \
	"d['version'] == '2.0-rc1' and d['os'] == 'acme-os' and
d['description'] == 'field test build' and d['target'] == '$V2'"
json_check "... without them: no description" "$T/full.json" "d['description'] is None"

# ---- repeated --key: both sign, either key verifies
TWO=$T/two-keys.ostick
check_exit 0 "create with --key Ed25519 --key P-256: exit 0" \
	"$BUNDLE" create "${COMMON[@]}" --from "$V1" --key "$KEYS/test-p256.key.pem" -o "$TWO"
check_match "... the summary says 2 signatures" ", 2 signatures, " "$TEST_TMP/stdout"
inspect_json "$TWO" "$T/two.json"
json_check "... two signatures, one per key, in --key order" "$T/two.json" \
	"[(s['algorithm'], s['key_id']) for s in d['signatures']] ==
[('ed25519', '$ID_ED'), ('ecdsa-p256-sha256', '$ID_P256')]"
check_exit 0 "verify with a keyring holding only the Ed25519 key: 0" \
	"$BUNDLE" verify --keyring "$T/keyring-ed" "$TWO"
check_match "... signed by that key" "signed by key ${ID_ED:0:16}" "$TEST_TMP/stdout"
check_exit 0 "verify with a keyring holding only the P-256 key: 0" \
	"$BUNDLE" verify --keyring "$T/keyring-p256" "$TWO"
check_match "... signed by that key" "signed by key ${ID_P256:0:16}" "$TEST_TMP/stdout"
check_exit 4 "verify with a keyring holding neither: 4" \
	"$BUNDLE" verify --keyring "$T/keyring-other" "$TWO"
check_match "... names both untrusted keys" \
	"not trust .*${ID_ED:0:16}.*${ID_P256:0:16}" "$TEST_TMP/stderr"
mkdir "$T/out-dup"
check_exit 8 "the same key twice: 8" "$BUNDLE" create "${COMMON[@]}" --key "$KEY" \
	-o "$T/out-dup/b.ostick"
check_match "... says so, naming the file" \
	"^ostick-bundle create: $KEY: the same key is given twice$" "$TEST_TMP/stderr"
check "... no output, no work directory" dir_is_empty "$T/out-dup"

# ---- reproducible: same commits, keys and SOURCE_DATE_EPOCH give the same bytes
check_exit 0 "the full 1.0 bundle again: exit 0" "$BUNDLE" create "${COMMON[@]}" --to "$REF^" \
	-o "$T/v1-again.ostick"
check "... byte-identical (cmp)" cmp "$V1B" "$T/v1-again.ostick"
check_exit 0 "the delta again: exit 0" "$BUNDLE" create "${COMMON[@]}" --from "$V1" \
	-o "$T/delta-again.ostick"
check "... byte-identical (cmp)" cmp "$DELTA" "$T/delta-again.ostick"
check_exit 0 "the delta with another SOURCE_DATE_EPOCH: exit 0" \
	env SOURCE_DATE_EPOCH=1700000001 "$BUNDLE" create "${COMMON[@]}" --from "$V1" \
	-o "$T/delta-later.ostick"
check "... differs (the time is really in the bundle)" \
	bash -c '! cmp -s "$1" "$2"' _ "$DELTA" "$T/delta-later.ostick"
check "... but its parts are identical (only the manifest and superblock carry the time)" \
	bash -c 'for m in $(tar -tf "$1" | grep -E "^delta/[0-9]+$"); do
		cmp <(tar -xOf "$1" "$m") <(tar -xOf "$2" "$m") || exit 1; done' _ "$DELTA" \
	"$T/delta-later.ostick"
check_exit 0 "the two-key bundle again: exit 0" "$BUNDLE" create "${COMMON[@]}" --from "$V1" \
	--key "$KEYS/test-p256.key.pem" -o "$T/two-again.ostick"
# README: the same commits and Ed25519 keys give the same bytes; OpenSSL 3.0 draws a random
# ECDSA nonce (no RFC 6979 before 3.2), so only the P-256 record may differ.
check "... the Ed25519 signature record is byte-identical (the first of ostick.sig)" \
	cmp <(tar -xOf "$TWO" ostick.sig | head -c 116) \
	<(tar -xOf "$T/two-again.ostick" ostick.sig | head -c 116)
check "... manifest and payload identical (only the ECDSA signature differs)" \
	bash -c 'for m in $(tar -tf "$1" | grep -v "^ostick.sig$"); do
		cmp <(tar -xOf "$1" "$m") <(tar -xOf "$2" "$m") || exit 1; done' _ "$TWO" \
	"$T/two-again.ostick"
check_exit 2 "SOURCE_DATE_EPOCH that is not a number: 2" env SOURCE_DATE_EPOCH=yesterday \
	"$BUNDLE" create "${COMMON[@]}" -o "$T/never.ostick"
check_match "... says so" "SOURCE_DATE_EPOCH='yesterday' is not a Unix time" "$TEST_TMP/stderr"

# ostree-xz parts are stock's own (no xz preset override): byte for byte what `ostree
# static-delta generate` writes with the same options.
stock_parts_equal() {
	local dir=$T/stock-delta i n
	mkdir -p "$dir" "$T/xz-members" &&
		ostree --repo="$R" static-delta generate --empty --to="$V2" \
			--min-fallback-size=0 --max-chunk-size=1 --filename="$dir/superblock" \
			>/dev/null &&
		tar -C "$T/xz-members" -xf "$FULL" || return 1
	n=$(find "$dir" -name '[0-9]*' | wc -l)
	[ "$n" -gt 1 ] && [ "$n" = "$(find "$T/xz-members/delta" -name '[0-9]*' | wc -l)" ] ||
		{ echo "part counts: stock $n"; return 1; }
	for ((i = 0; i < n; i++)); do
		cmp "$dir/$i" "$T/xz-members/delta/$i" || return 1
	done
}
check "the full ostree-xz bundle's parts are byte-identical to stock static-delta generate's" \
	stock_parts_equal

# ---- the default part encoding, zstd: each part is libostree's part payload, re-encoded
ZD=$T/delta-zstd.ostick
check_exit 0 "create the delta with the default part encoding: exit 0" \
	env G_MESSAGES_DEBUG=all "$BUNDLE" create --repo "$R" --ref "$REF" \
	--compatible "$COMPAT" --key "$KEY" --from "$V1" -o "$ZD"
cp "$TEST_TMP/stdout" "$T/zstd-create.out" # GLib prints debug messages there
inspect_json "$ZD" "$T/zstd.json"
json_check "... the parts are zstd, with their payload size" "$T/zstd.json" \
	"all(m['encoding'] == 'zstd' and m['payload_size'] > 0 for m in d['members'][1:]) and
len(d['members']) > 1 and (d['base'], d['target']) == ('$V1', '$V2')"
# bundler/xz-preset.c: libostree's xz, thrown away after the re-encoding, is preset 0.
check_match "... libostree called ostick's lzma_easy_encoder for every part: xz preset 0" \
	"DEBUG: .*xz preset 0 \(not libostree's 8\) for $(($(json_get "$T/zstd.json" \
	"len(d['members'])") - 1)) delta parts$" "$T/zstd-create.out"
check "... every member's size and SHA-256 match the tar bytes" \
	members_match_manifest "$ZD" "$T/zstd.json"
check "... it verifies" "$BUNDLE" verify --keyring "$T/keyring-ed" "$ZD"
# same_payloads ZSTD_BUNDLE XZ_BUNDLE: each zstd part decodes (stock zstd) to what the ostree-xz
# part holds after its compression byte (stock xz), and to the payload size the manifest says.
same_payloads() {
	local i n
	n=$(json_get "$T/zstd.json" "len(d['members']) - 1")
	[ "$n" = "$(tar -tf "$2" | grep -c '^delta/[0-9]')" ] || { echo "part counts differ"; return 1; }
	for ((i = 0; i < n; i++)); do
		tar -xOf "$1" "delta/$i" | zstd -dcq >"$T/z.payload" &&
			tar -xOf "$2" "delta/$i" | tail -c +2 | xz -dc >"$T/x.payload" &&
			cmp "$T/z.payload" "$T/x.payload" &&
			[ "$(stat -c %s "$T/z.payload")" = \
				"$(json_get "$T/zstd.json" "d['members'][$i + 1]['payload_size']")" ] ||
			{ echo "part $i differs"; return 1; }
	done
}
if command -v zstd >/dev/null && command -v xz >/dev/null; then
	check "... each zstd part decodes to the ostree-xz part's payload (stock zstd, xz)" \
		same_payloads "$ZD" "$DELTA"
else
	not_ok "zstd and xz are needed to compare part payloads"
fi
check_exit 0 "the zstd delta again: exit 0" "$BUNDLE" create --repo "$R" --ref "$REF" \
	--compatible "$COMPAT" --key "$KEY" --from "$V1" -o "$T/delta-zstd-again.ostick"
check "... byte-identical (cmp): multi-threaded zstd is reproducible too" \
	cmp "$ZD" "$T/delta-zstd-again.ostick"
# --branch-filter x86 forces zstd-x86 (FORMAT.md §5.8) where the trial found nothing to gain
# (this tree has no code): the same payloads, converted, so each frame holds other bytes.
ZX=$T/delta-zstd-x86.ostick
check_exit 0 "the delta with --branch-filter x86: exit 0" "$BUNDLE" create --repo "$R" \
	--ref "$REF" --compatible "$COMPAT" --key "$KEY" --from "$V1" --branch-filter x86 -o "$ZX"
inspect_json "$ZX" "$T/zstd-x86.json"
json_check "... the parts are zstd-x86, with the zstd parts' payload sizes" "$T/zstd-x86.json" \
	"[(m['encoding'], m['payload_size']) for m in d['members'][1:]] ==
	[('zstd-x86', m['payload_size'])
	 for m in __import__('json').load(open('$T/zstd.json'))['members'][1:]]"
check "... the first part's frame content differs from the zstd part's (stock zstd)" \
	bash -c '! cmp -s <(tar -xOf "$1" delta/0 | zstd -dcq) <(tar -xOf "$2" delta/0 | zstd -dcq)' \
	_ "$ZX" "$ZD"
check "... it verifies" "$BUNDLE" verify --keyring "$T/keyring-ed" "$ZX"

# ---- the output appears only when complete
OUT=$T/out-fail
mkdir "$OUT"
check_exit 7 "a nonexistent --from: 7" "$BUNDLE" create "${COMMON[@]}" --from acme/nope \
	-o "$OUT/b.ostick"
check_match "... names it" "^ostick-bundle create: no ref or commit 'acme/nope'$" \
	"$TEST_TMP/stderr"
check "... no output, no work directory left" dir_is_empty "$OUT"

mkdir "$T/out-force"
EXISTING=$T/out-force/existing.ostick
cp "$DELTA" "$EXISTING"
check_exit 9 "an existing output without --force: 9" "$BUNDLE" create "${COMMON[@]}" \
	--compatible other-board -o "$EXISTING"
check_match "... says use --force" "^ostick-bundle create: .*existing\.ostick \(use --force to replace it\): File exists$" \
	"$TEST_TMP/stderr"
check "... the existing file is untouched" cmp "$DELTA" "$EXISTING"
check_exit 7 "--force, but a nonexistent --to: 7" "$BUNDLE" create "${COMMON[@]}" --force \
	--to 0000000000000000000000000000000000000000000000000000000000000000 -o "$EXISTING"
check "... the existing file is untouched" cmp "$DELTA" "$EXISTING"
check_exit 0 "--force replaces it (no SOURCE_DATE_EPOCH this time): exit 0" \
	env -u SOURCE_DATE_EPOCH "$BUNDLE" create "${COMMON[@]}" --force \
	--compatible other-board --from "$V1" -o "$EXISTING"
inspect_json "$EXISTING" "$T/existing.json"
json_check "... it is the new bundle" "$T/existing.json" "d['compatible'] == 'other-board'"
check "... created is the current time (within 10 minutes)" python3 -c 'import datetime, json, sys
c = json.load(open(sys.argv[1]))["created"]
t = datetime.datetime.strptime(c, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
now = datetime.datetime.now(datetime.timezone.utc)
sys.exit(0 if abs((now - t).total_seconds()) < 600 else "created %s, now %s" % (c, now))' \
	"$T/existing.json"
check "... which verifies" "$BUNDLE" verify --keyring "$T/keyring-ed" "$EXISTING"
check_eq "... nothing else beside it" existing.ostick "$(ls -A "$T/out-force")"

# Disk full while the bundle is written: a filesystem with room for the generated delta
# (the work directory) but not for the bundle as well.
SMALL=$T/small
mkdir "$SMALL"
SIZE_K=$(($(stat -c %s "$DELTA") * 3 / 2 / 1024))
if mount -t tmpfs -o size="${SIZE_K}k" tmpfs "$SMALL"; then
	on_exit "umount -l $SMALL"
	check_exit 5 "disk full while writing the bundle: 5" "$BUNDLE" create "${COMMON[@]}" \
		--from "$V1" -o "$SMALL/delta.ostick"
	check_match "... says no space" "^ostick-bundle create: .*No space left on device$" \
		"$TEST_TMP/stderr"
	check "... no partial output, no work directory left" dir_is_empty "$SMALL"
	echo "old bundle" >"$SMALL/delta.ostick"
	check_exit 5 "disk full with --force over an existing file: 5" \
		"$BUNDLE" create "${COMMON[@]}" --from "$V1" --force -o "$SMALL/delta.ostick"
	check_eq "... the existing file is untouched, nothing else left" "delta.ostick old bundle" \
		"$(ls -A "$SMALL" | paste -sd ' ') $(cat "$SMALL/delta.ostick")"
else
	not_ok "mount a tmpfs for the disk-full case"
fi

# SIGINT during the delta generation (3 MB of incompressible data take seconds to xz; small
# parts, as libostree checks for cancellation between parts): exit 10, nothing left.
make_rootfs 3.0 "$T/rootfs-3.0" 3
commit_at "$T/repo-big" big "$T/rootfs-3.0" 3.0 "$EPOCH2"
mkdir "$T/out-int"
"$BUNDLE" create --repo "$T/repo-big" --ref big --compatible "$COMPAT" --key "$KEY" \
	--max-part-size 1 -o "$T/out-int/b.ostick" >"$T/int.out" 2>"$T/int.err" &
PID=$!
for _ in $(seq 200); do
	compgen -G "$T/out-int/.ostick-create-*/delta" >/dev/null && break
	sleep 0.05
done
check "precondition: the delta generation started" \
	compgen -G "$T/out-int/.ostick-create-*/delta"
kill -INT "$PID"
RC=0
wait "$PID" || RC=$?
check_eq "SIGINT during generation: exit 10" 10 "$RC"
check_match "... says it was cancelled" "^ostick-bundle create: .*[Cc]ancel" "$T/int.err"
check "... no output, no work directory left" dir_is_empty "$T/out-int"

done_testing
