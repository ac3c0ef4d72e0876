#!/bin/bash
# t0210-apply-rejections.sh: every way `ostick-apply install` refuses a bundle, on real
# loop-mounted sysroots: the documented exit code (2 usage, 3 not for this device, 4 not
# authentic or corrupt, 5 no space, 6 busy, 7 not found), a message saying why, and the device
# exactly as it was (device_fingerprint, the repo's objects, nothing staged). Then the good
# bundle still installs. Also SIGTERM in the middle of applying a big bundle: exit 10, nothing
# left but (at most) libostree's own staging directory, and a retry succeeds.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (tar offsets, lock holder)"

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
# A big from-scratch bundle (3.0, ~62 MB incompressible): does not fit a 48 MB device, and
# takes long enough to apply to be interrupted.
make_rootfs 3.0 "$B/rootfs-big" 60
"$BUNDLE" create --rootfs "$B/rootfs-big" --repo "$TEST_TMP/repo-big" --ref demo/stable \
	--version 3.0 --compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem" \
	-o "$B/big.ostick" >/dev/null
V3=$(ostree --repo="$TEST_TMP/repo-big" rev-parse demo/stable)

# member_offset BUNDLE MEMBER: "OFFSET SIZE" of MEMBER's data in the tar file.
member_offset() {
	python3 - "$@" <<'PY'
import sys, tarfile
m = tarfile.open(sys.argv[1]).getmember(sys.argv[2])
print(m.offset_data, m.size)
PY
}

# flip_byte IN OUT OFFSET: OUT is IN with the byte at OFFSET xor 1.
flip_byte() {
	python3 - "$@" <<'PY'
import shutil, sys
src, dst, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copyfile(src, dst)
with open(dst, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 1]))
PY
}

# state SYSROOT: device_fingerprint plus what each ref points at (the fingerprint lists only
# the names) and the repo's object files.
state() {
	local ref
	device_fingerprint "$1"
	echo "== ref targets"
	ostree --repo="$1/ostree/repo" refs | sort | while read -r ref; do
		echo "$ref $(ostree --repo="$1/ostree/repo" rev-parse "$ref")"
	done
	echo "== objects"
	(cd "$1/ostree/repo/objects" && find . -type f | sort)
}

# unchanged DESCRIPTION SYSROOT BASELINE: the device's state equals BASELINE. On a difference,
# libostree's staging directories are removed afterwards, so that later checks stand alone.
unchanged() {
	state "$2" >"$TEST_TMP/state-now"
	if diff -u "$3" "$TEST_TMP/state-now" >"$TEST_TMP/state-diff"; then ok "$1"; else
		not_ok "$1" "device differs from before:"
		diag_file "$TEST_TMP/state-diff"
		rm -rf "$2"/ostree/repo/tmp/staging-*
	fi
}

# reject CODE WHAT REGEX COMMAND...: on device $SR (baseline $BASE), COMMAND exits CODE, says
# why on stderr (REGEX), and leaves the device as it was.
reject() {
	local code=$1 what=$2 re=$3
	shift 3
	check_exit "$code" "$what: exit $code" "$@"
	check_match "... $what: says why" "^ostick-apply: install: .*($re)" "$TEST_TMP/stderr"
	unchanged "... $what: device unchanged, nothing staged" "$SR" "$BASE"
}

# only_cache DIR: DIR holds nothing but libostree's cache directory.
only_cache() {
	local e
	for e in "$1"/* "$1"/.[!.]*; do
		[ ! -e "$e" ] || [ "$e" = "$1/cache" ] || { echo "left: $e"; return 1; }
	done
}

# deployed SYSROOT: the deployments' commits in admin status order, one line.
deployed() {
	ostree admin --sysroot="$1" status | grep -oE "$SAMPLE_OS [0-9a-f]{64}\.[0-9]+" |
		awk '{print $2}' | paste -sd ' '
}

# ---- bundles that are not authentic or not intact
X=$TEST_TMP/x
mkdir -p "$X"
tar -xf "$B/v2.ostick" -C "$X"
members=(ostick.manifest ostick.sig delta/superblock delta/0)
check_eq "precondition: v2.ostick's members, in order" "${members[*]}" \
	"$(tar -tf "$B/v2.ostick" | paste -sd ' ')"
repack() { tar -C "$X" --format=ustar --owner=0 --group=0 -cf "$@"; }
repack "$TEST_TMP/repacked.ostick" "${members[@]}"
repack "$TEST_TMP/nosig.ostick" ostick.manifest delta/superblock delta/0
cp "$X/ostick.sig" "$TEST_TMP/ostick.sig.good"
printf 'OSTICKSG\x01\0\0\0\0\0\0\0' >"$X/ostick.sig"
repack "$TEST_TMP/zerosig.ostick" "${members[@]}"
cp "$TEST_TMP/ostick.sig.good" "$X/ostick.sig"
LC_ALL=C sed 's/^version=2\.0$/version=2.1/' "$B/v2.ostick" >"$TEST_TMP/badsig.ostick"
check_eq "precondition: badsig.ostick differs from v2.ostick in exactly one byte" 1 \
	"$({ cmp -l "$B/v2.ostick" "$TEST_TMP/badsig.ostick" || true; } | wc -l)"
read -r P0_OFF P0_SIZE < <(member_offset "$B/v2.ostick" delta/0)
flip_byte "$B/v2.ostick" "$TEST_TMP/tampered.ostick" $((P0_OFF + P0_SIZE / 2))
TRUNC_LEN=$((P0_OFF + P0_SIZE / 2))
head -c "$TRUNC_LEN" "$B/v2.ostick" >"$TEST_TMP/truncated.ostick"
mkdir -p "$TEST_TMP/other-tar"
echo hello >"$TEST_TMP/other-tar/hello.txt"
tar -C "$TEST_TMP/other-tar" -cf "$TEST_TMP/other.tar" hello.txt
cp "$OSTICK_SRCDIR/README.md" "$TEST_TMP/readme.ostick"
: >"$TEST_TMP/empty.ostick"
mkdir -p "$TEST_TMP/keyring2"
cp "$KEYS/test-ed25519-2.pub.pem" "$TEST_TMP/keyring2/"
"$BUNDLE" create --repo "$B/repo" --ref demo/stable --to "$V2" --os other \
	--compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem" \
	-o "$TEST_TMP/os-other.ostick" >/dev/null

# ---- device A: 1.0 installed
SR=$TEST_TMP/sysroot-a
make_sysroot "$SR" uboot 256
check_exit 0 "device A: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
ostree admin --sysroot="$SR" os-init other >/dev/null # a second stateroot, for --os other
BASE=$TEST_TMP/state-a
state "$SR" >"$BASE"
ARGS=(--sysroot "$SR" --os "$SAMPLE_OS" --keyring "$K" --compatible "$SAMPLE_COMPATIBLE")

check_exit 0 "control: the repacked, unmodified 2.0 verifies (the repacking is sound)" \
	"$APPLY" verify "${ARGS[@]}" "$TEST_TMP/repacked.ostick"

reject 4 "unsigned (no ostick.sig member)" "expected member 'ostick\.sig'" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/nosig.ostick"
reject 4 "unsigned (signature block with 0 signatures)" "0 signatures" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/zerosig.ostick"
reject 4 "signed by a key the device does not trust" "not trust" \
	"$APPLY" install --sysroot "$SR" --os "$SAMPLE_OS" --keyring "$TEST_TMP/keyring2" \
	--compatible "$SAMPLE_COMPATIBLE" "$B/v2.ostick"
reject 4 "bad signature (one manifest byte changed)" "signature .*does not verify" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/badsig.ostick"
reject 3 "incompatible (--compatible other-board)" \
	"'$SAMPLE_COMPATIBLE'.*'other-board'" \
	"$APPLY" install --sysroot "$SR" --os "$SAMPLE_OS" --keyring "$K" \
	--compatible other-board "$B/v2.ostick"
reject 3 "wrong OS (bundle created with --os other)" \
	"bundle is for OS 'other', this device runs '$SAMPLE_OS'" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/os-other.ostick"
reject 3 "wrong OS (device stateroot 'other')" \
	"bundle is for OS '$SAMPLE_OS', this device runs 'other'" \
	"$APPLY" install --sysroot "$SR" --os other --keyring "$K" \
	--compatible "$SAMPLE_COMPATIBLE" "$B/v2.ostick"
reject 3 "unknown OS (--os nosuch)" "no OS \(stateroot\) named 'nosuch'" \
	"$APPLY" install --sysroot "$SR" --os nosuch --keyring "$K" \
	--compatible "$SAMPLE_COMPATIBLE" "$B/v2.ostick"
reject 4 "tampered payload (one byte of delta/0 flipped)" "'delta/0'" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/tampered.ostick"
TRUNCATED_RE='delta/0.*[Tt]runcated|[Tt]runcated.*delta/0'
reject 4 "truncated in the middle of delta/0" "$TRUNCATED_RE" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/truncated.ostick"
# (head may die of SIGPIPE when the applier stops reading: only the applier's status counts)
truncated_pipe() { { head -c "$TRUNC_LEN" "$B/v2.ostick" || true; } |
	"$APPLY" install "${ARGS[@]}" -; }
reject 4 "truncated through a pipe (head -c | install -)" "$TRUNCATED_RE" truncated_pipe
reject 4 "not a bundle (a text file)" "not a bundle" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/readme.ostick"
reject 4 "not a bundle (a tar of something else)" "ostick\.manifest" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/other.tar"
reject 4 "not a bundle (an empty file)" "." \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/empty.ostick"
reject 7 "missing bundle path" "$TEST_TMP/no-such\.ostick" \
	"$APPLY" install "${ARGS[@]}" "$TEST_TMP/no-such.ostick"
reject 7 "missing keyring" "$TEST_TMP/no-such-keyring" \
	"$APPLY" install --sysroot "$SR" --os "$SAMPLE_OS" --keyring "$TEST_TMP/no-such-keyring" \
	--compatible "$SAMPLE_COMPATIBLE" "$B/v2.ostick"
reject 2 "usage: no bundle" "BUNDLE" "$APPLY" install "${ARGS[@]}"
reject 2 "usage: BUNDLE and --fd together" "BUNDLE.*--fd|--fd.*BUNDLE" \
	"$APPLY" install "${ARGS[@]}" --fd 5 "$B/v2.ostick" 5<"$B/v2.ostick"
reject 2 "usage: --progress=bogus" "--progress" \
	"$APPLY" install "${ARGS[@]}" --progress=bogus "$B/v2.ostick"

# busy: libostree locks ostree/lock with an OFD fcntl() lock (not flock(2)); a POSIX record
# lock conflicts with it.
python3 - "$SR/ostree/lock" >"$TEST_TMP/holder.out" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
PY
holder=$!
on_exit "kill $holder"
for _ in $(seq 100); do grep -q locked "$TEST_TMP/holder.out" && break; sleep 0.1; done
check_match "precondition: a process holds the sysroot lock" '^locked$' "$TEST_TMP/holder.out"
reject 6 "busy (the sysroot lock is held)" "lock" "$APPLY" install "${ARGS[@]}" "$B/v2.ostick"
kill "$holder"
wait "$holder" 2>/dev/null || true

check_exit 0 "after all that, the good 2.0 delta installs: exit 0" \
	"$APPLY" install "${ARGS[@]}" "$B/v2.ostick"
check_eq "... admin status: 2.0 first, 1.0 second" "$V2.0 $V1.0" "$(deployed "$SR")"
check "... nothing left in the repo's tmp but its cache" \
	only_cache "$SR/ostree/repo/tmp"

# ---- device B: nothing installed; the 2.0 delta has no base
SR=$TEST_TMP/sysroot-b
make_sysroot "$SR" uboot 256
BASE=$TEST_TMP/state-b
state "$SR" >"$BASE"
reject 3 "base missing (delta on an empty device)" "delta from ${V1:0:12}, which is not on" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick"

# ---- device C: 1.0 installed, then one of its objects deleted from the repo
SR=$TEST_TMP/sysroot-c
make_sysroot "$SR" uboot 256
check_exit 0 "device C: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
csum=$(ostree --repo="$SR/ostree/repo" ls -C "$V1" /usr/bin/tool-1 | awk '{print $5}')
obj=$SR/ostree/repo/objects/${csum:0:2}/${csum:2}.file
check "precondition: usr/bin/tool-1's object exists (and the delta does not carry it)" \
	test -f "$obj"
rm -f "$obj"
BASE=$TEST_TMP/state-c
state "$SR" >"$BASE"
reject 3 "base incomplete (one object of 1.0 deleted)" "incomplete on this device" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick"

# ---- device D: 2.0 installed; 1.0 is a downgrade
SR=$TEST_TMP/sysroot-d
make_sysroot "$SR" uboot 256
check_exit 0 "device D: install 2.0 (full)" "$APPLY" install $(apply_args "$SR" "$K") \
	"$B/v2-full.ostick"
BASE=$TEST_TMP/state-d
state "$SR" >"$BASE"
reject 3 "downgrade (1.0 over 2.0)" "older than the installed" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
check_exit 0 "... but --allow-downgrade installs it: exit 0" \
	"$APPLY" install $(apply_args "$SR" "$K") --allow-downgrade "$B/v1.ostick"
check_eq "... admin status: 1.0 first, 2.0 second" "$V1.0 $V2.0" "$(deployed "$SR")"

# ---- device E: a 48 MB filesystem; the 62 MB bundle does not fit
SR=$TEST_TMP/sysroot-e
make_sysroot "$SR" uboot 48
check_exit 0 "small device: 1.0 fits and installs" "$APPLY" install $(apply_args "$SR" "$K") \
	"$B/v1.ostick"
BASE=$TEST_TMP/state-e
state "$SR" >"$BASE"
diag "small device: $(df -k --output=avail "$SR" | tail -1) KiB free;" \
	"big.ostick: $(stat -c %s "$B/big.ostick") bytes"
reject 5 "no space (62 MB bundle, 48 MB device)" "not enough space" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/big.ostick"

# ---- device F: SIGTERM while applying the big bundle
SR=$TEST_TMP/sysroot-f
make_sysroot "$SR" uboot 512
check_exit 0 "device F: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
BASE=$TEST_TMP/state-f
state "$SR" >"$BASE"
PROGRESS=$TEST_TMP/term-progress
"$APPLY" install $(apply_args "$SR" "$K") --progress-fd 7 "$B/big.ostick" \
	7>"$PROGRESS" >"$TEST_TMP/term-stdout" 2>"$TEST_TMP/term-stderr" &
pid=$!
on_exit "kill -KILL $pid"
# Wait until it streams a part (the transaction is open), stop it there, check where it is,
# then send SIGTERM and let it go on: the signal arrives in the apply stage, whatever the speed.
caught=no
for _ in $(seq 3000); do
	if grep -q '"stage":"apply","bytes_done":[1-9]' "$PROGRESS"; then
		kill -STOP "$pid"
		caught=yes
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.01
done
where=$(tail -n 1 "$PROGRESS")
check_eq "SIGTERM: caught ostick-apply in the apply stage" "yes apply" \
	"$caught $(echo "$where" | sed -n 's/.*"stage":"\([a-z]*\)".*/\1/p')"
diag "stopped at: $where"
kill -TERM "$pid" 2>/dev/null || true
kill -CONT "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
check_eq "SIGTERM in the apply stage: exit 10 (interrupted)" 10 "$rc"
diag_file "$TEST_TMP/term-stderr"
check_match "... the result line says failed, exit 10" \
	'^\{"event":"result","outcome":"failed","exit_code":10,' "$PROGRESS"
state "$SR" >"$TEST_TMP/state-term"
diff -u "$BASE" "$TEST_TMP/state-term" >"$TEST_TMP/term-diff" || true
diag "left behind after SIGTERM (diff of the device state; empty if nothing):"
diag_file "$TEST_TMP/term-diff"
# Everything but the staging section must be as before; staging may only hold libostree's own
# staging-* directory (and its lock file).
section_without() { awk -v s="== $1" '/^== /{skip = ($0 == s)} !skip' "$2"; }
check "SIGTERM: device unchanged except repo/tmp staging (deployments, /boot, refs, objects)" \
	diff -u <(section_without staging "$BASE") <(section_without staging "$TEST_TMP/state-term")
awk '/^== /{in_s = ($0 == "== staging")} in_s && !/^== /' "$TEST_TMP/state-term" \
	>"$TEST_TMP/term-staging"
check "SIGTERM: repo/tmp holds nothing but libostree's staging-* entries" \
	bash -c '! grep -v "^\./staging-" "$1"' _ "$TEST_TMP/term-staging"
while read -r entry; do
	left=$SR/ostree/repo/tmp/${entry#./}
	diag "remains: repo/tmp/${entry#./}: $(find "$left" | wc -l) paths, $(du -sk "$left" |
		cut -f1) KiB"
done <"$TEST_TMP/term-staging"
check_exit 0 "SIGTERM: a retry installs the big bundle: exit 0" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/big.ostick"
check_eq "... admin status: 3.0 first, 1.0 second" "$V3.0 $V1.0" "$(deployed "$SR")"
check "... after the retry, nothing left in the repo's tmp but its cache" \
	only_cache "$SR/ostree/repo/tmp"

done_testing
