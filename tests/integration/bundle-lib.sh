# bundle-lib.sh: helpers for the ostick-bundle tests (t01xx). Source it after lib.sh.

# json_check DESCRIPTION FILE PYTHON-EXPRESSION: FILE is JSON and the expression (over d) is
# True; on failure the expression's value and the JSON are shown.
json_check() {
	local desc=$1
	shift
	if python3 - "$@" >"$TEST_TMP/.json-out" 2>&1 <<'PY'; then ok "$desc"; else
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
try:
    result = eval("(" + sys.argv[2] + "\n)", {"d": d})
except Exception as e:
    result = "%s: %s" % (type(e).__name__, e)
if result is not True:
    print("expression: %s -> %r" % (sys.argv[2], result))
    print(json.dumps(d, indent=1)[:3000])
    sys.exit(1)
PY
		not_ok "$desc"
		diag_file "$TEST_TMP/.json-out"
	fi
}

# json_get FILE PYTHON-EXPRESSION: prints the expression's value over the JSON d in FILE.
json_get() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"
}

# inspect_json BUNDLE OUT: `ostick-bundle inspect --json BUNDLE` into OUT (exit status kept).
inspect_json() { "$BUNDLE" inspect --json "$1" >"$2"; }

# tar_names FILE: the member names of a tar file in archive order, space-separated.
tar_names() { tar -tf "$1" | paste -sd ' '; }

# expected_names N_PARTS: the member order FORMAT.md fixes for a bundle with N_PARTS parts.
expected_names() {
	local i names="ostick.manifest ostick.sig delta/superblock"
	for ((i = 0; i < $1; i++)); do names="$names delta/$i"; done
	echo "$names"
}

# members_match_manifest BUNDLE JSON: every member the manifest (inspect --json output JSON)
# lists has, extracted with stock tar, the size and SHA-256 the manifest says. Prints the
# mismatches; fails on any, or on an empty member list.
members_match_manifest() {
	local bundle=$1 json=$2 name size sha n=0 bad=0 got_size got_sha
	while read -r name size sha; do
		n=$((n + 1))
		got_size=$(tar -xOf "$bundle" "$name" | wc -c)
		got_sha=$(tar -xOf "$bundle" "$name" | sha256sum | cut -d' ' -f1)
		if [ "$got_size" != "$size" ] || [ "$got_sha" != "$sha" ]; then
			echo "$name: tar gives $got_size bytes $got_sha, manifest says $size $sha"
			bad=1
		fi
	done < <(json_get "$json" '"\n".join("%s %d %s" % (m["name"], m["size"], m["sha256"])
for m in d["members"])')
	[ "$n" -gt 0 ] || { echo "no members in $json"; return 1; }
	return $bad
}

# member_offset BUNDLE MEMBER: "DATA_OFFSET SIZE" of a tar member, as Python's tarfile parses
# the archive (so that a byte flipped there keeps the tar valid).
member_offset() {
	python3 -c 'import sys, tarfile
m = tarfile.open(sys.argv[1]).getmember(sys.argv[2])
print(m.offset_data, m.size)' "$1" "$2"
}

# flip_byte IN OUT OFFSET: OUT is a copy of IN with the byte at OFFSET xor 0x01.
flip_byte() {
	python3 - "$@" <<'PY'
import shutil, sys
src, dst, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copyfile(src, dst)
with open(dst, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    assert len(b) == 1, "offset %d is past the end" % off
    f.seek(off)
    f.write(bytes([b[0] ^ 0x01]))
PY
}

# flip_member_byte IN OUT MEMBER INDEX: flip_byte at byte INDEX of MEMBER's data (a negative
# INDEX counts from the member's end).
flip_member_byte() {
	local off size
	read -r off size < <(member_offset "$1" "$3")
	if [ "$4" -lt 0 ]; then off=$((off + size + $4)); else off=$((off + $4)); fi
	flip_byte "$1" "$2" "$off"
}

# key_id PUB.pem: the key ID ostick names a key by: SHA-256 of the DER SubjectPublicKeyInfo.
key_id() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

# commit_at REPO REF DIR VERSION EPOCH [OSTREE-COMMIT-OPTION...]: like lib.sh's commit_tree
# (stock ostree, etc -> usr/etc) with the commit time EPOCH; VERSION "" adds no version metadata.
commit_at() {
	local repo=$1 ref=$2 dir=$3 version=$4 epoch=$5 stage
	shift 5
	stage=$(mktemp -d "$TEST_TMP/stage.XXXXXX")
	cp -a "$dir/." "$stage/"
	[ ! -d "$stage/etc" ] || mv "$stage/etc" "$stage/usr/etc"
	[ -d "$repo/objects" ] || ostree --repo="$repo" init --mode=archive
	ostree --repo="$repo" commit --branch="$ref" --tree=dir="$stage" --owner-uid=0 \
		--owner-gid=0 ${version:+--add-metadata-string=version="$version"} --bootable \
		--timestamp="@$epoch" --subject="sample ${version:-unversioned}" "$@" >/dev/null
	rm -rf "$stage"
}

# commit_time REPO REV: the commit's timestamp (Unix seconds) as `ostree show` prints it.
commit_time() {
	date -u -d "$(ostree --repo="$1" show "$2" | sed -n 's/^Date: *//p')" +%s
}

# tree_listing DIR: what a checkout must reproduce, one line per file: type and mode, owner,
# size (regular files), symlink target, path.
tree_listing() {
	(cd "$1" && find . -mindepth 1 -printf '%M %U:%G %s %l %p\n' |
		awk '$1 ~ /^d/ { $3 = "-" } { print }' | sort -k5)
}

# stock_apply BUNDLE REPO: extract BUNDLE with tar and apply its delta into REPO with stock
# `ostree static-delta apply-offline` (README "Make a bundle"), then `ostree fsck`.
stock_apply() {
	local x
	x=$(mktemp -d "$TEST_TMP/extract.XXXXXX")
	tar -xf "$1" -C "$x" &&
		ostree --repo="$2" static-delta apply-offline "$x/delta" &&
		ostree --repo="$2" fsck
	local rc=$?
	rm -rf "$x"
	return $rc
}

# same_checkout REPO_A REPO_B REV: `ostree checkout` of REV from both repos gives the same tree:
# contents (diff -r), modes, owners and symlink targets.
same_checkout() {
	local a=$TEST_TMP/co-a b=$TEST_TMP/co-b
	rm -rf "$a" "$b"
	ostree --repo="$1" checkout "$3" "$a" && ostree --repo="$2" checkout "$3" "$b" &&
		diff -r --no-dereference "$a" "$b" &&
		diff -u <(tree_listing "$a") <(tree_listing "$b")
	local rc=$?
	rm -rf "$a" "$b"
	return $rc
}

# dir_is_empty DIR: DIR has no entry at all (no output, no hidden work or temporary files).
dir_is_empty() {
	local left
	left=$(ls -A "$1")
	[ -z "$left" ] || { echo "left in $1: $left"; return 1; }
}

# repeat_text TEXT BYTES: BYTES of TEXT lines (compressible file content; yes's SIGPIPE is fine).
repeat_text() { { yes "$1" || true; } | head -c "$2"; }

# The part encoding stock `ostree static-delta apply-offline` reads (libostree's own part files);
# also the cheaper one to make. Tests that do not check the default encoding pass it.
XZ=(--part-encoding ostree-xz)
