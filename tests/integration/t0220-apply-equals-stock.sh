#!/bin/bash
# t0220-apply-equals-stock.sh: what ostick-apply puts into the device repo is exactly what the
# stock tools make of the same delta (tar -x of its ostree-xz twin, then `ostree static-delta
# apply-offline`) in a fresh bare repo. ostick installs the default (zstd) bundles; a third
# device installs the ostree-xz twins themselves, so both encodings are held to stock: for 1.0 (from scratch), the 2.0 delta, a multi-part 3.0 delta
# (--max-part-size 1) and a multi-part 3.0 from-scratch bundle, the same commit, the same tree
# (ostree ls -R -C -X), the same set of reachable object files, byte for byte with the same
# mode, owner and xattrs, and both repos pass ostree fsck.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (object comparison)"

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
make_rootfs 3.0 "$B/rootfs-3.0" 10
common=(--ref demo/stable --compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem"
	--max-part-size 1)
"$BUNDLE" create --rootfs "$B/rootfs-3.0" --repo "$B/repo" --version 3.0 --from demo/stable \
	"${common[@]}" -o "$B/v3-multi.ostick" >/dev/null
V3=$(ostree --repo="$B/repo" rev-parse demo/stable)
"$BUNDLE" create --repo "$B/repo" --version 3.0 --from-scratch "${common[@]}" \
	-o "$B/v3-full-multi.ostick" >/dev/null

# The same deltas with libostree's own part files: what stock ostree can apply.
mkdir "$B/xz"
xz_twin() { # xz_twin NAME CREATE-ARGS...
	local name=$1
	shift
	"$BUNDLE" create --repo "$B/repo" --ref demo/stable --compatible "$SAMPLE_COMPATIBLE" \
		--key "$KEYS/test-ed25519.key.pem" --part-encoding ostree-xz \
		-o "$B/xz/$name.ostick" "$@" >/dev/null
}
xz_twin v1 --to "$V1" --version 1.0
xz_twin v2 --from "$V1" --to "$V2" --version 2.0
xz_twin v3-multi --from "$V2" --to "$V3" --version 3.0 --max-part-size 1
xz_twin v3-full-multi --to "$V3" --from-scratch --version 3.0 --max-part-size 1
encodings() { # the part encodings of a bundle, once each
	"$BUNDLE" inspect --json "$1" | python3 -c '
import json, sys
print(" ".join(sorted({m["encoding"] for m in json.load(sys.stdin)["members"]
                       if m["name"] != "delta/superblock"})))'
}
check_eq "precondition: the bundles ostick installs have zstd parts" zstd \
	"$(encodings "$B/v3-multi.ostick")"
check_eq "precondition: their twins have libostree's xz parts" ostree-xz \
	"$(encodings "$B/xz/v3-multi.ostick")"

# parts BUNDLE: how many delta parts the bundle has.
parts() {
	"$BUNDLE" inspect --json "$1" | python3 -c '
import json, sys
print(sum(1 for m in json.load(sys.stdin)["members"] if m["name"] != "delta/superblock"))'
}
check "precondition: v3-multi.ostick has at least 10 parts" \
	test "$(parts "$B/v3-multi.ostick")" -ge 10
check "precondition: v3-full-multi.ostick has at least 12 parts" \
	test "$(parts "$B/v3-full-multi.ostick")" -ge 12
diag "parts: v1 $(parts "$B/v1.ostick"), v2 $(parts "$B/v2.ostick"), v3-multi $(parts \
	"$B/v3-multi.ostick"), v3-full-multi $(parts "$B/v3-full-multi.ostick")"

# stock_apply REPO BUNDLE: the stock way, without ostick.
stock_apply() {
	local x
	x=$(mktemp -d "$TEST_TMP/extract.XXXXXX")
	tar -xf "$2" -C "$x" && ostree --repo="$1" static-delta apply-offline "$x/delta"
	local rc=$?
	rm -rf "$x"
	return $rc
}

# same_objects DESCRIPTION REPO-A REPO-B COMMIT: the objects reachable from COMMIT (the commit,
# its detached metadata if any, every dirtree, dirmeta and file named by ls -R -C) are present
# in both repos, and are the same files: type, mode, owner, size, content or link target, xattrs.
same_objects() {
	local desc=$1 a=$2 b=$3 commit=$4
	ostree --repo="$a" ls -R -C "$commit" >"$TEST_TMP/ls-objects" 2>&1 || true
	if python3 - "$a" "$b" "$commit" "$TEST_TMP/ls-objects" >"$TEST_TMP/.objects" 2>&1 <<'PY'
import hashlib, os, re, stat, sys
a, b, commit, listing = sys.argv[1:]
names = {"%s.commit" % commit}
for line in open(listing):
    sums = re.findall(r"\b[0-9a-f]{64}\b", line.split(" /", 1)[0])
    if line.startswith("d"):
        assert len(sums) == 2, line
        names |= {sums[0] + ".dirtree", sums[1] + ".dirmeta"}
    elif line[0] in "-l":
        assert len(sums) == 1, line
        names.add(sums[0] + ".file")
    else:
        raise SystemExit("unexpected ls line: %r" % line)
meta = "%s.commitmeta" % commit
for repo in (a, b):
    if os.path.lexists(os.path.join(repo, "objects", commit[:2], meta[2:])):
        names.add(meta)
def path(repo, name):
    return os.path.join(repo, "objects", name[:2], name[2:])
def describe(p):
    st = os.lstat(p)
    d = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size]
    if stat.S_ISLNK(st.st_mode):
        d.append(os.readlink(p))
    else:
        d.append(hashlib.sha256(open(p, "rb").read()).hexdigest())
    d.append(sorted((x, os.getxattr(p, x, follow_symlinks=False))
                    for x in os.listxattr(p, follow_symlinks=False)))
    return d
bad = []
for name in sorted(names):
    pa, pb = path(a, name), path(b, name)
    if not os.path.lexists(pa) or not os.path.lexists(pb):
        bad.append("%s: in ostick's repo %s, in stock repo %s" %
                   (name, os.path.lexists(pa), os.path.lexists(pb)))
    elif describe(pa) != describe(pb):
        bad.append("%s differs: %r vs %r" % (name, describe(pa), describe(pb)))
print("%d reachable objects compared" % len(names))
for x in bad[:20]:
    print(x)
sys.exit(1 if bad or len(names) < 10 else 0)
PY
	then
		ok "$desc"
		diag "$(head -n 1 "$TEST_TMP/.objects")"
	else
		not_ok "$desc"
		diag_file "$TEST_TMP/.objects"
	fi
}

# compare WHAT REPO-A REPO-B COMMIT: the whole set of equality checks for one commit.
compare() {
	local what=$1 a=$2 b=$3 commit=$4
	check "$what: the commit is in ostick's repo" ostree --repo="$a" rev-parse "$commit"
	check "$what: the commit is in the stock repo" ostree --repo="$b" rev-parse "$commit"
	check_eq "$what: ostree show is the same" "$(ostree --repo="$b" show "$commit" 2>&1)" \
		"$(ostree --repo="$a" show "$commit" 2>&1)"
	ostree --repo="$a" ls -R -C -X "$commit" >"$TEST_TMP/ls-a" 2>&1 || true
	ostree --repo="$b" ls -R -C -X "$commit" >"$TEST_TMP/ls-b" 2>&1 || true
	check "$what: ls -R -C -X lists something" test "$(wc -l <"$TEST_TMP/ls-a")" -gt 20
	check "$what: ls -R -C -X is the same" diff -u "$TEST_TMP/ls-b" "$TEST_TMP/ls-a"
	same_objects "$what: the reachable object files are the same" "$a" "$b" "$commit"
}

# Device A (ostick) and repo S (stock, bare) each on their own loop filesystem.
SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 256
A=$SR/ostree/repo
make_loop_fs 256 ext4 "$TEST_TMP/stockfs"
S=$TEST_TMP/stockfs/repo
ostree --repo="$S" init --mode=bare
check_eq "precondition: ostick's device repo is bare too" "bare" \
	"$(ostree --repo="$A" config get core.mode)"

check_exit 0 "ostick: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
check "stock: apply-offline 1.0" stock_apply "$S" "$B/xz/v1.ostick"
compare "1.0 (from scratch)" "$A" "$S" "$V1"

check_exit 0 "ostick: install the 2.0 delta" "$APPLY" install $(apply_args "$SR" "$K") \
	"$B/v2.ostick"
check "stock: apply-offline the 2.0 delta" stock_apply "$S" "$B/xz/v2.ostick"
compare "2.0 (delta)" "$A" "$S" "$V2"
check "ostick's repo passes ostree fsck" ostree --repo="$A" fsck
check "the stock repo passes ostree fsck" ostree --repo="$S" fsck

check_exit 0 "ostick: install the multi-part 3.0 delta" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v3-multi.ostick"
check "stock: apply-offline the multi-part 3.0 delta" stock_apply "$S" "$B/xz/v3-multi.ostick"
compare "3.0 (multi-part delta)" "$A" "$S" "$V3"

# The multi-part from-scratch bundle on a fresh device and a fresh stock repo.
SR2=$TEST_TMP/sysroot2
make_sysroot "$SR2" uboot 256
A2=$SR2/ostree/repo
S2=$TEST_TMP/stockfs/repo2
ostree --repo="$S2" init --mode=bare
check_exit 0 "ostick: install the multi-part 3.0 from scratch (fresh device)" \
	"$APPLY" install $(apply_args "$SR2" "$K") "$B/v3-full-multi.ostick"
check "stock: apply-offline the multi-part 3.0 from scratch (fresh repo)" \
	stock_apply "$S2" "$B/xz/v3-full-multi.ostick"
compare "3.0 (multi-part, from scratch)" "$A2" "$S2" "$V3"
same_objects "3.0: from scratch and by deltas, ostick made the same object files" "$A2" "$A" "$V3"

# Device X: ostick installs the ostree-xz twins: the same objects as stock, too.
SRX=$TEST_TMP/sysroot-xz
make_sysroot "$SRX" uboot 256
AX=$SRX/ostree/repo
for n in v1 v2 v3-multi; do
	check_exit 0 "ostick: install the ostree-xz $n" "$APPLY" install $(apply_args "$SRX" "$K") \
		"$B/xz/$n.ostick"
done
compare "3.0 through ostree-xz parts" "$AX" "$S" "$V3"

# Device Y: the same twins streamed (FORMAT.md §5.7): every part (OSTICK_INLINE_PART_MAX=0),
# then with the limit at the 2.0 delta's largest part's uncompressed size, which its payload
# (modes, opcodes) outgrows once decoded: the inline attempt stops and streams it instead.
SRY=$TEST_TMP/sysroot-xz-streamed
make_sysroot "$SRY" uboot 256
AY=$SRY/ostree/repo
check_exit 0 "ostick: install the ostree-xz v1, every part streamed" \
	env OSTICK_INLINE_PART_MAX=0 "$APPLY" install $(apply_args "$SRY" "$K") "$B/xz/v1.ostick"
V2_DECODED=$("$BUNDLE" inspect --json "$B/xz/v2.ostick" | python3 -c "import json, sys
print(max(m['decoded_size'] for m in json.load(sys.stdin)['members'] if m['name'] != 'delta/superblock'))")
check_exit 0 "ostick: install the ostree-xz v2 with the limit at its part's size ($V2_DECODED)" \
	env OSTICK_INLINE_PART_MAX="$V2_DECODED" "$APPLY" install $(apply_args "$SRY" "$K") \
	--progress=json "$B/xz/v2.ostick"
PEAK=$(python3 -c "import json, sys
print([json.loads(l) for l in open(sys.argv[1]) if '\"result\"' in l][-1]['peak_staging_bytes'])" \
	"$TEST_TMP/stdout")
# (inline, the peak is the staged member; streamed, libostree's copy, on disk here as the
# part's bound (FORMAT.md 5.4) is over twice the limit, plus the member and 1 MiB of slack)
check "... streamed after all: libostree's copy on disk, over the part's size + 1 MiB ($PEAK bytes)" \
	test "$PEAK" -gt "$((V2_DECODED + 1048576))"
check_exit 0 "ostick: install the ostree-xz v3-multi, every part streamed" \
	env OSTICK_INLINE_PART_MAX=0 "$APPLY" install $(apply_args "$SRY" "$K") \
	"$B/xz/v3-multi.ostick"
compare "3.0 through streamed ostree-xz parts" "$AY" "$S" "$V3"
check "... the repo passes ostree fsck" ostree --repo="$AY" fsck

check "ostick's repos pass ostree fsck" ostree --repo="$A" fsck
check "... (the fresh device's too)" ostree --repo="$A2" fsck
check "... (the ostree-xz device's too)" ostree --repo="$AX" fsck
check "the stock repos pass ostree fsck" ostree --repo="$S" fsck
check "... (the fresh one too)" ostree --repo="$S2" fsck

done_testing
