#!/bin/bash
# t0140-bundle-errors.sh: `ostick-bundle create` refuses bad command lines with exit 2 and one
# specific line ("ostick-bundle create: missing --ref"), never a help dump: each missing
# required option, conflicting options, unknown options and commands, stray arguments, bad
# values (--max-part-size, --ref, --compatible, --version, --os, SOURCE_DATE_EPOCH), a commit
# without version metadata or os-release; a missing repo, ref or commit (or a partial one) is 7;
# every failure leaves no output file, no work directory, no new repo and the source repo
# untouched (as does a successful run).
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/integration/bundle-lib.sh"

T=$TEST_TMP
R=$T/repo
KEY=$KEYS/test-ed25519.key.pem
make_rootfs 1.0 "$T/rootfs"
commit_tree "$R" acme/os "$T/rootfs" 1.0
V1=$(ostree --repo="$R" rev-parse acme/os)
# A commit without version metadata, and one whose tree has no os-release.
commit_at "$R" acme/unversioned "$T/rootfs" "" 1650000000
cp -a "$T/rootfs" "$T/no-os-release"
rm "$T/no-os-release/usr/lib/os-release" "$T/no-os-release/etc/os-release"
commit_at "$R" acme/anonymous "$T/no-os-release" 1.0 1650000000

# repo_state: what no create may change in the source repo: refs, objects, deltas, config.
repo_state() {
	ostree --repo="$R" refs | sort
	(cd "$R" && { find objects deltas refs state config -type f 2>/dev/null || true; } | sort)
	cat "$R/config"
}
repo_state >"$T/repo-before"
OUT=$T/out
mkdir "$OUT"
O=$OUT/b.ostick

# fails CODE REGEX DESCRIPTION ARGS...: `ostick-bundle ARGS` exits CODE with exactly one line on
# stderr matching REGEX, nothing on stdout, and leaves $OUT empty.
fails() {
	local code=$1 regex=$2 desc=$3
	shift 3
	check_exit "$code" "$desc: $code" "$BUNDLE" "$@"
	check_match "... says: $regex" "$regex" "$TEST_TMP/stderr"
	check_eq "... in one line, nothing on stdout" "1 0" \
		"$(wc -l <"$TEST_TMP/stderr") $(wc -c <"$TEST_TMP/stdout")"
	check "... no output, no work directory" dir_is_empty "$OUT"
}
FULL_ARGS=(--repo "$R" --ref acme/os --compatible acme-board --key "$KEY" "${XZ[@]}" -o "$O")

# ---- usage: exit 2
fails 2 "^ostick-bundle create: missing --ref$" "no --ref" \
	create --repo "$R" --compatible acme-board --key "$KEY" -o "$O"
fails 2 "^ostick-bundle create: missing --repo or --rootfs$" "neither --repo nor --rootfs" \
	create --ref acme/os --compatible acme-board --key "$KEY" -o "$O"
fails 2 "^ostick-bundle create: missing --compatible$" "no --compatible" \
	create --repo "$R" --ref acme/os --key "$KEY" -o "$O"
fails 2 "^ostick-bundle create: missing --key$" "no --key" \
	create --repo "$R" --ref acme/os --compatible acme-board -o "$O"
fails 2 "^ostick-bundle create: missing --output$" "no -o" \
	create --repo "$R" --ref acme/os --compatible acme-board --key "$KEY"
fails 2 "^ostick-bundle create: --to makes no sense with --rootfs$" "--rootfs with --to" \
	create "${FULL_ARGS[@]}" --rootfs "$T/rootfs" --version 1.0 --to "$V1"
fails 2 "^ostick-bundle create: --from with --rootfs needs --repo holding the base$" \
	"--rootfs --from without --repo" create --rootfs "$T/rootfs" --version 1.0 --from acme/os \
	--ref acme/os --compatible acme-board --key "$KEY" -o "$O"
fails 2 "^ostick-bundle create: --from and --from-scratch exclude each other$" \
	"--from with --from-scratch" create "${FULL_ARGS[@]}" --from "$V1" --from-scratch
fails 2 "^ostick-bundle create: --rootfs needs --version$" "--rootfs without --version" \
	create --rootfs "$T/rootfs" --repo "$T/new-repo" --ref acme/os --compatible acme-board \
	--key "$KEY" -o "$O"
check "... and the --repo it names was not created" test ! -e "$T/new-repo"
fails 2 "^ostick-bundle create: Unknown option --repo-only$" "an unknown option (--repo-only)" \
	create "${FULL_ARGS[@]}" --repo-only
fails 2 "^ostick-bundle create: Unknown option --bogus$" "an unknown option (--bogus)" \
	create "${FULL_ARGS[@]}" --bogus
fails 2 "^ostick-bundle create: unexpected argument 'extra'$" "a stray argument" \
	create "${FULL_ARGS[@]}" extra
fails 2 "^ostick-bundle create: --max-part-size must be 1\.\.4096 MB$" "--max-part-size 0" \
	create "${FULL_ARGS[@]}" --max-part-size 0
fails 2 "^ostick-bundle create: --max-part-size must be 1\.\.4096 MB$" "--max-part-size 5000" \
	create "${FULL_ARGS[@]}" --max-part-size 5000
fails 2 "^ostick-bundle create: Cannot parse integer value .abc. for --max-part-size$" \
	"--max-part-size abc" create "${FULL_ARGS[@]}" --max-part-size abc
fails 2 "^ostick-bundle create: --part-encoding: 'gzip' is not zstd or ostree-xz$" \
	"--part-encoding gzip" create "${FULL_ARGS[@]}" --part-encoding gzip
fails 2 "^ostick-bundle create: --zstd-level: 23 is not in 1\.\.22$" "--zstd-level 23" \
	create "${FULL_ARGS[@]}" --zstd-level 23
fails 2 "^ostick-bundle create: --branch-filter: 'arm' is not auto, x86 or none$" \
	"--branch-filter arm" create "${FULL_ARGS[@]}" --branch-filter arm
fails 2 "^ostick-bundle create: --branch-filter x86 needs zstd parts$" \
	"--branch-filter x86 with ostree-xz parts" create "${FULL_ARGS[@]}" --branch-filter x86 \
	--part-encoding ostree-xz
fails 2 "^ostick-bundle create: --ref 'bad ref' is not a valid ref name$" "--ref with a space" \
	create --repo "$R" --ref "bad ref" --compatible acme-board --key "$KEY" -o "$O"
fails 2 "^ostick-bundle create: compatible: missing or empty$" "an empty --compatible" \
	create "${FULL_ARGS[@]}" --compatible ""
fails 2 "^ostick-bundle create: compatible: contains a control character$" \
	"a --compatible with a newline" create "${FULL_ARGS[@]}" --compatible "$(printf 'a\nb')"
fails 2 "^ostick-bundle create: compatible: longer than 256 bytes$" "a 300-byte --compatible" \
	create "${FULL_ARGS[@]}" --compatible "$(printf 'a%.0s' $(seq 300))"
fails 2 "^ostick-bundle create: version: missing or empty$" "an empty --version" \
	create "${FULL_ARGS[@]}" --version ""
fails 2 "^ostick-bundle create: os: only letters, digits, '\.', '_' and '-' allowed$" \
	"--os with a slash" create "${FULL_ARGS[@]}" --os "a/b"
fails 2 "^ostick-bundle create: --from acme/os is the target commit itself$" \
	"--from the target" create "${FULL_ARGS[@]}" --from acme/os
fails 2 "^ostick-bundle create: missing --version \(the commit has no version metadata\)$" \
	"a commit without version metadata, no --version" \
	create "${FULL_ARGS[@]}" --ref acme/unversioned
fails 2 "^ostick-bundle create: missing --os \(the tree has no os-release ID\)$" \
	"a tree without os-release, no --os" create "${FULL_ARGS[@]}" --ref acme/anonymous
export SOURCE_DATE_EPOCH=-1
fails 2 "^ostick-bundle create: SOURCE_DATE_EPOCH='-1' is not a Unix time$" \
	"SOURCE_DATE_EPOCH=-1" create "${FULL_ARGS[@]}"
unset SOURCE_DATE_EPOCH
fails 2 "^ostick-bundle: unknown command 'bogus' \(see ostick-bundle --help\)$" \
	"an unknown command" bogus
check_exit 2 "no command at all: 2" "$BUNDLE"
check_match "... prints the usage on stderr" "^Usage: ostick-bundle COMMAND" "$TEST_TMP/stderr"
check_exit 0 "create --help: 0" "$BUNDLE" create --help
check_match "... the usage names the command" "^Usage:$|ostick-bundle create" "$TEST_TMP/stdout"
check_match "... and lists --rootfs" "--rootfs=PATH" "$TEST_TMP/stdout"

# ---- the defaults those two need, given: both work
# (deltas from acme/os: the same files, cheap to make)
check_exit 0 "the unversioned commit with --version: exit 0" "$BUNDLE" create \
	"${FULL_ARGS[@]}" --ref acme/unversioned --from acme/os --version 1.0-unversioned
json_check "... the manifest has it" <("$BUNDLE" inspect --json "$O") \
	"d['version'] == '1.0-unversioned' and d['os'] == 'ostick-demo'"
rm "$O"
check_exit 0 "the tree without os-release with --os: exit 0" "$BUNDLE" create \
	"${FULL_ARGS[@]}" --ref acme/anonymous --from acme/os --os acme-os
json_check "... the manifest has it" <("$BUNDLE" inspect --json "$O") \
	"d['os'] == 'acme-os' and d['version'] == '1.0'"
rm "$O"

# ---- not found: exit 7
mkdir "$T/not-a-repo"
fails 7 "^ostick-bundle create: no OSTree repository at $T/nope$" "a nonexistent --repo" \
	create --repo "$T/nope" --ref acme/os --compatible acme-board --key "$KEY" -o "$O"
check "... and it was not created" test ! -e "$T/nope"
fails 7 "^ostick-bundle create: no OSTree repository at $T/not-a-repo$" \
	"a --repo that is no repo" \
	create --repo "$T/not-a-repo" --ref acme/os --compatible acme-board --key "$KEY" -o "$O"
fails 7 "^ostick-bundle create: no ref or commit 'acme/nope'$" "a nonexistent --ref" \
	create "${FULL_ARGS[@]}" --ref acme/nope
MISSING=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
fails 7 "^ostick-bundle create: commit $MISSING \($MISSING\): No such metadata object $MISSING\.commit$" \
	"a nonexistent --to commit" create "${FULL_ARGS[@]}" --to "$MISSING"
fails 7 "^ostick-bundle create: no ref or commit 'acme/nope'$" "a nonexistent --from ref" \
	create "${FULL_ARGS[@]}" --from acme/nope
fails 7 "^ostick-bundle create: commit $MISSING \($MISSING\): " "a nonexistent --from commit" \
	create "${FULL_ARGS[@]}" --from "$MISSING"
fails 7 "^ostick-bundle create: acme/os\^: Commit $V1 has no parent$" "--from a parent that is not there" \
	create "${FULL_ARGS[@]}" --from "acme/os^"
fails 7 "^ostick-bundle create: creating a work directory in $T/nodir: No such file or directory$" \
	"-o in a missing directory" create --repo "$R" --ref acme/os --compatible acme-board \
	--key "$KEY" -o "$T/nodir/b.ostick"
check "... the directory was not created" test ! -e "$T/nodir"
repo_state >"$T/repo-after"
check "no failed create changed the source repo (refs, objects, deltas, config)" \
	diff -u "$T/repo-before" "$T/repo-after"
# A partial commit (what an interrupted pull leaves): refused, not packed half.
cp -a "$R" "$T/partial-repo"
mkdir -p "$T/partial-repo/state"
touch "$T/partial-repo/state/$V1.commitpartial"
fails 7 "^ostick-bundle create: commit $V1 \(acme/os\) is partial: not all its objects are in the repo$" \
	"a partial commit" create --repo "$T/partial-repo" --ref acme/os --compatible acme-board \
	--key "$KEY" -o "$O"

# ---- a successful create leaves the source repo untouched too
check_exit 0 "a successful create: exit 0" "$BUNDLE" create "${FULL_ARGS[@]}" \
	--from acme/unversioned
repo_state >"$T/repo-after"
check "... the source repo is unchanged (no delta, ref or object written into it)" \
	diff -u "$T/repo-before" "$T/repo-after"
check_eq "... and the output directory holds just the bundle" b.ostick "$(ls -A "$OUT")"

done_testing
