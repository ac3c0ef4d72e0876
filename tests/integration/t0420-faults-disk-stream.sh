#!/bin/bash
# t0420-faults-disk-stream.sh: a full disk and a stream that ends early, on one real sysroot on
# a small loop filesystem (64 MB) running 1.0, with a 5-part 2.0 delta that fits.
#
# Disk full: the install passes the up-front space check, then gdb stops it at a point (the
# transaction opening, a part in the middle, the commit, the commit once it has moved some
# objects into the repo, the deployment, the bootloader write) and fills the filesystem from
# there (to nothing, or, with a 10% min-free-space reserve, to 8 MB: libostree's reserve then
# runs out first) before letting it go on. It must exit 5 with a message that says so, and once
# the filler is gone the device must be exactly as before (same refs, same objects, nothing
# staged); a retry then installs.
#
# Early end of stream (a stick pulled out): `head -c N bundle | ostick-apply install -` at
# several N; a writer that stalls, then exits or is killed; a writer that stalls and the
# applier is stopped with SIGTERM while it waits; a slow writer that gets there in the end; and
# a stick whose reads start failing with EIO (its loop device shrunk under the bundle, before
# the install and in the middle of the payload). Each refused one exits with its documented
# code (4 cut short, 10 interrupted, 1 an I/O error) and leaves the device unchanged.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
source "$OSTICK_SRCDIR/tests/adversarial/device.sh"
require_root
command -v gdb >/dev/null || skip_all "needs gdb (scripts/deps.sh check installs it)"
command -v python3 >/dev/null || skip_all "needs python3 (stalling writers)"

B=$TEST_TMP/bundles
mkdir -p "$B/keyring"
cp "$KEYS/test-ed25519.pub.pem" "$B/keyring/"
make_rootfs 1.0 "$B/rootfs-1.0"
make_rootfs 2.0 "$B/rootfs-2.0" 4
common=(--ref demo/stable --compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem"
	--max-part-size 1)
"$BUNDLE" create --rootfs "$B/rootfs-1.0" --repo "$B/repo" --version 1.0 "${common[@]}" \
	-o "$B/v1.ostick" >/dev/null
"$BUNDLE" create --rootfs "$B/rootfs-2.0" --repo "$B/repo" --version 2.0 --from demo/stable \
	"${common[@]}" -o "$B/v2.ostick" >/dev/null
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)

SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 64
DEV=$LOOP_DEV
ARGS=(--sysroot "$SR" --os "$SAMPLE_OS" --keyring "$B/keyring" --compatible "$SAMPLE_COMPATIBLE")
check_exit 0 "device (64 MB): install 1.0" "$APPLY" install "${ARGS[@]}" "$B/v1.ostick"
image_save "$SR" "$DEV" v1
device_state "$SR" >"$TEST_TMP/state-v1"
check_exit 0 "precondition: the 2.0 delta passes the up-front checks, space included (verify)" \
	"$APPLY" verify "${ARGS[@]}" "$B/v2.ostick"
diag "device: $(df -k --output=avail "$SR" | tail -n 1) KiB free;" \
	"2.0 delta: $(stat -c %s "$B/v2.ostick") bytes," \
	"$(tar -tf "$B/v2.ostick" | grep -c '^delta/[0-9]') parts"

deployed() {
	ostree admin --sysroot="$SR" status | grep -oE "$SAMPLE_OS [0-9a-f]{64}" | cut -d' ' -f2 |
		paste -sd ' '
}

# unchanged_and_retry BASELINE: the device equals BASELINE; a retry installs 2.0; then the
# pristine image comes back. Appends to $problems.
unchanged_and_retry() {
	local rc=0
	device_state "$SR" >"$TEST_TMP/state-now"
	if ! diff -u "$1" "$TEST_TMP/state-now" >"$TEST_TMP/state-diff"; then
		problems+=("the device changed:")
		while IFS= read -r line; do problems+=("  $line"); done < <(head -n 16 \
			"$TEST_TMP/state-diff")
	fi
	"$APPLY" install "${ARGS[@]}" "$B/v2.ostick" >"$TEST_TMP/retry.out" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		problems+=("retry: exit $rc: $(head -c 300 "$TEST_TMP/retry.out")")
	elif [ "$(deployed)" != "$V2 $V1" ]; then
		problems+=("after the retry: deployments $(deployed), expected 2.0 then 1.0")
	fi
	image_restore "$SR" "$DEV" v1
}

# ---- disk full

# fill.sh DIR KEEP: fills the filesystem of DIR (root's free blocks, the reserved ones
# included) until about KEEP KiB are left; KEEP 0: until a write fails.
cat >"$TEST_TMP/fill.sh" <<'SH'
#!/bin/bash
dir=$1 keep=$2
free=$(($(stat -f -c '%f * %S' "$dir") / 1024))
[ $((free - keep - 256)) -le 0 ] || fallocate -l $((free - keep - 256))KiB "$dir/filler"
if [ "$keep" = 0 ]; then
	dd if=/dev/zero of="$dir/filler.2" bs=4k status=none 2>/dev/null
else
	free=$(($(stat -f -c '%f * %S' "$dir") / 1024))
	[ $((free - keep)) -le 0 ] || dd if=/dev/zero of="$dir/filler.2" bs=1k \
		count=$((free - keep)) status=none 2>/dev/null
fi
sync
echo "FREE-KIB $(($(stat -f -c '%f * %S' "$dir") / 1024))"
SH
chmod +x "$TEST_TMP/fill.sh"

# full_case NAME FUNC N KEEP WHAT [SETUP...]: after SETUP (a command changing the device for
# this case), stop at FUNC's Nth call, fill the disk to KEEP KiB, go on.
full_case() {
	local name=$1 func=$2 n=$3 keep=$4 what=$5 rc order base=$TEST_TMP/state-v1
	shift 5
	problems=()
	if [ $# -gt 0 ]; then
		"$@"
		base=$TEST_TMP/state-case
		device_state "$SR" >"$base"
	fi
	gdb_batch -ex "break $func" -ex "ignore 1 $((n - 1))" -ex run -ex "delete" \
		-ex "shell ${FILL:-$TEST_TMP/fill.sh} $SR $keep" -ex continue -ex 'print $_exitcode' \
		--args "$APPLY" install "${ARGS[@]}" "$B/v2.ostick" >"$TEST_TMP/gdb.out" 2>&1 || true
	gdb_stopped "$TEST_TMP/gdb.out" || problems+=("gdb did not stop at $func #$n")
	! grep -q '^COMMIT-ORDER .* 0 later' "$TEST_TMP/gdb.out" ||
		problems+=("no object directory left for the commit to create: nothing cut it short")
	rc=$(sed -n 's/^\$1 = //p' "$TEST_TMP/gdb.out")
	[ "$rc" = 5 ] || problems+=("exit ${rc:-?}, expected 5 (not enough space)")
	grep -qE '^ostick-apply: install: .*(not enough space|No space left|min-free-space)' \
		"$TEST_TMP/gdb.out" || problems+=("no message about space: $(grep -m1 \
		'^ostick-apply:' "$TEST_TMP/gdb.out")")
	order=$(grep -m1 '^COMMIT-ORDER' "$TEST_TMP/gdb.out" || true)
	diag "$name: $(grep -m1 '^FREE-KIB' "$TEST_TMP/gdb.out" || echo '?') left;" ${order:+"$order"} \
		"$(grep -m1 '^ostick-apply:' "$TEST_TMP/gdb.out" || echo 'no message')"
	rm -f "$SR/filler" "$SR/filler.2"
	unchanged_and_retry "$base"
	local known=${KNOWN_BUGS[$name]:-}
	# Under make asan, one run in five of these gdb-driven cases once exited 1 with the right
	# message (the issue-6 note; cause not found): there it is a TODO, not a failure.
	if [ -z "$known" ] && [ -n "${OSTICK_SANITIZED:-}" ] && [ "$rc" = 1 ] &&
		[ ${#problems[@]} -eq 1 ]; then
		known="under ASan and gdb the exit code was once seen as 1, not 5 (message right)"
	fi
	report_case "$name" "$what: exit 5, device unchanged once the filler is gone, retry installs" \
		"$known"
}

declare -A KNOWN_BUGS=()
full_case full-at-transaction ostree_repo_prepare_transaction 1 0 \
	"disk filled when the transaction opens"
full_case full-at-first-part ostick_bundle_reader_read_part 1 0 \
	"disk filled before part 0 is staged"
full_case full-mid-apply ostree_repo_static_delta_execute_offline 3 0 \
	"disk filled before part 2 is applied"
# libostree's reserve (core.min-free-space-percent, 10% here: 6.4 MB) counts when the
# transaction opens; with 8 MB left then, the objects exhaust it long before the disk is full.
full_case full-reserve ostree_repo_prepare_transaction 1 8000 \
	"disk filled to 8 MB free when the transaction opens, libostree's reserve set to 10%" \
	ostree --repo="$SR/ostree/repo" config set core.min-free-space-percent 10
full_case full-at-commit ostree_repo_commit_transaction 1 0 \
	"disk filled when the transaction commits"
# The commit renames the staged objects into objects/ one by one, in the staging directory's
# order, creating object directories as it goes. On a full disk the first directory it must
# create fails, and whether objects moved before depends on that order (the filesystem's hash
# seed). Here the first one it takes is made to exist, so some objects are in the repo when it
# fails: the applier must take them out again.
cat >"$TEST_TMP/fill-mid-commit.sh" <<'SH'
#!/bin/bash
sr=$1 keep=$2 repo=$1/ostree/repo
staging=$(find "$repo/tmp" -maxdepth 1 -name 'staging-*' ! -name '*-lock' | head -n 1)
mapfile -t dirs < <(ls -U "$staging" | grep -E '^[0-9a-f]{2}$')
mkdir -p "$repo/objects/${dirs[0]}"
later=0
for d in "${dirs[@]:1}"; do [ -d "$repo/objects/$d" ] || later=$((later + 1)); done
echo "COMMIT-ORDER first ${dirs[0]} ($(ls "$staging/${dirs[0]}" | wc -l) objects)," \
	"$later later directories to create"
exec "${0%/*}/fill.sh" "$sr" "$keep"
SH
chmod +x "$TEST_TMP/fill-mid-commit.sh"
FILL=$TEST_TMP/fill-mid-commit.sh full_case full-mid-commit ostree_repo_commit_transaction 1 0 \
	"disk filled when the commit has moved the objects of one directory"
full_case full-at-deploy ostree_sysroot_deploy_tree_with_options 1 0 \
	"disk filled when the deployment is checked out"
full_case full-at-boot-write ostree_sysroot_simple_write_deployment 1 0 \
	"disk filled when the bootloader configuration is written"

# The ref moves once the deployment is live. With the disk full right then, the install has
# still succeeded (exit 0) and says the ref did not move; the retry, which finds 2.0 installed,
# moves it.
problems=()
gdb_batch -ex "break ostree_repo_set_ref_immediate" -ex run -ex "delete" \
	-ex "shell $TEST_TMP/fill.sh $SR 0" -ex continue -ex 'print $_exitcode' \
	--args "$APPLY" install "${ARGS[@]}" "$B/v2.ostick" >"$TEST_TMP/gdb.out" 2>&1 || true
rm -f "$SR/filler" "$SR/filler.2"
gdb_stopped "$TEST_TMP/gdb.out" || problems+=("gdb did not stop at ostree_repo_set_ref_immediate")
rc=$(sed -n 's/^\$1 = //p' "$TEST_TMP/gdb.out")
[ "$rc" = 0 ] || problems+=("exit ${rc:-?}, expected 0 (installed)")
warning="^ostick-apply: installed, but: the ref demo/stable was not moved to ${V2:0:12}"
grep -qE "$warning: .*No space left" "$TEST_TMP/gdb.out" ||
	problems+=("no warning about the ref: $(grep -m1 '^ostick-apply:' "$TEST_TMP/gdb.out")")
[ "$(deployed)" = "$V2 $V1" ] || problems+=("deployments $(deployed), expected 2.0 then 1.0")
ref_now=$(cat "$SR/ostree/repo/refs/heads/demo/stable")
[ "$ref_now" = "$V1" ] || problems+=("the ref is at ${ref_now:0:12}, expected 1.0's")
rc=0
"$APPLY" install "${ARGS[@]}" "$B/v2.ostick" >"$TEST_TMP/retry.out" 2>&1 || rc=$?
grep -q "already installed" "$TEST_TMP/retry.out" && [ "$rc" = 0 ] ||
	problems+=("retry: exit $rc: $(head -c 300 "$TEST_TMP/retry.out")")
ref_now=$(cat "$SR/ostree/repo/refs/heads/demo/stable")
[ "$ref_now" = "$V2" ] || problems+=("after the retry: the ref is at ${ref_now:0:12}, not 2.0's")
report_case full-at-ref \
	"disk filled when the ref moves, after the switch: exit 0 with a warning, retry moves it" ""
image_restore "$SR" "$DEV" v1

# ---- streams that end early

read -r -a LAYOUT < <(python3 - "$B/v2.ostick" <<'PY'
import sys, tarfile
t = tarfile.open(sys.argv[1])
print(" ".join(f"{m.name}:{m.offset}:{m.offset_data}:{m.size}" for m in t.getmembers()))
PY
)
offset_of() { # MEMBER WHAT(header|data|mid|end)
	local m name off data size
	for m in "${LAYOUT[@]}"; do
		IFS=: read -r name off data size <<<"$m"
		[ "$name" = "$1" ] || continue
		case "$2" in
		header) echo $((off + 100)) ;;
		data) echo "$data" ;;
		mid) echo $((data + size / 2)) ;;
		end) echo $((data + size)) ;;
		esac
	done
}

# stream_case NAME WANT REGEX WHAT COMMAND...: COMMAND (a pipeline into install -) exits WANT
# with a message matching REGEX, and the device is as before.
stream_case() {
	local name=$1 want=$2 re=$3 what=$4 rc=0
	shift 4
	problems=()
	timeout -k 5 60 bash -c "$*" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
	[ "$rc" = "$want" ] || problems+=("exit $rc, expected $want: $(head -c 300 "$TEST_TMP/err")")
	grep -qE -- "$re" "$TEST_TMP/err" "$TEST_TMP/out" ||
		problems+=("no line matches /$re/: $(head -c 300 "$TEST_TMP/err")")
	device_state "$SR" >"$TEST_TMP/state-now"
	if ! diff -u "$TEST_TMP/state-v1" "$TEST_TMP/state-now" >"$TEST_TMP/state-diff"; then
		problems+=("the device changed:")
		while IFS= read -r line; do problems+=("  $line"); done < <(head -n 16 \
			"$TEST_TMP/state-diff")
		image_restore "$SR" "$DEV" v1
	fi
	report_case "$name" "$what: exit $want, device unchanged" "${KNOWN_BUGS[$name]:-}"
}

INSTALL="$APPLY install ${ARGS[*]} -"
TRUNC='[Tt]runcated'
for spec in ostick.manifest:mid ostick.sig:data delta/superblock:header delta/superblock:mid \
	delta/0:mid delta/1:data delta/2:mid delta/4:mid delta/4:end; do
	n=$(offset_of "${spec%:*}" "${spec#*:}")
	stream_case "pipe-cut-${spec//\//-}" 4 "$TRUNC" "head -c $n ($spec) | install -" \
		"{ head -c $n '$B/v2.ostick' || true; } | $INSTALL"
done

# writer WAIT_AFTER BYTES HOW: writes BYTES of the bundle, sleeps, then: exit, kill (SIGKILL
# itself), rest (writes the rest), stall (sleeps a minute more).
cat >"$TEST_TMP/writer.py" <<'PY'
import os, signal, sys, time
path, n, pause, how = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
data = open(path, "rb").read()
try:
    os.write(1, data[:n])
    time.sleep(pause)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "rest":
        os.write(1, data[n:])
    if how == "stall":
        time.sleep(60)
except BrokenPipeError:
    pass
PY
W="python3 $TEST_TMP/writer.py $B/v2.ostick"
mid2=$(offset_of delta/2 mid)
stream_case writer-stalls-then-exits 4 "$TRUNC" "a writer stalls 2 s in part 2, then exits" \
	"$W $mid2 2 exit | $INSTALL"
stream_case writer-stalls-then-killed 4 "$TRUNC" \
	"a writer stalls 2 s in part 2, then is killed (SIGKILL)" "$W $mid2 2 kill | $INSTALL"
hdr=$(offset_of ostick.sig data)
stream_case writer-killed-before-signature 4 "$TRUNC|ostick\\.sig" \
	"a writer killed right before the signature" "$W $hdr 1 kill | $INSTALL"

# SIGTERM while the applier waits on a stalled writer: it must stop (exit 10), not wait.
problems=()
mkfifo "$TEST_TMP/stall.fifo"
python3 "$TEST_TMP/writer.py" "$B/v2.ostick" "$mid2" 0 stall >"$TEST_TMP/stall.fifo" &
writer=$!
on_exit "kill -KILL $writer"
"$APPLY" install "${ARGS[@]}" - <"$TEST_TMP/stall.fifo" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
applier=$!
on_exit "kill -KILL $applier"
sleep 2 # it has read what there is and waits for more
kill -TERM "$applier"
t0=$(date +%s%N)
for _ in $(seq 100); do kill -0 "$applier" 2>/dev/null || break; sleep 0.1; done
waited=$((($(date +%s%N) - t0) / 1000000))
hung=""
if kill -0 "$applier" 2>/dev/null; then
	problems+=("still running ${waited} ms after SIGTERM (it waits in read() on the stalled pipe)")
	kill -KILL "$applier"
	hung=yes
fi
rc=0
wait "$applier" 2>/dev/null || rc=$?
kill -KILL "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
if [ -z "$hung" ]; then
	[ "$rc" = 10 ] || problems+=("exit $rc, expected 10 (interrupted): $(head -c 300 "$TEST_TMP/err")")
	device_state "$SR" >"$TEST_TMP/state-now"
	diff -q "$TEST_TMP/state-v1" "$TEST_TMP/state-now" >/dev/null ||
		problems+=("the device changed")
fi
image_restore "$SR" "$DEV" v1 # (after a SIGKILL, libostree's staging may remain)
diag "SIGTERM to the applier waiting on a stalled writer: gone after ${waited} ms, exit $rc"
report_case writer-stalls-sigterm \
	"SIGTERM while the applier waits on a stalled writer: exit 10 within 10 s, device unchanged" \
	"${KNOWN_BUGS[writer-stalls-sigterm]:-}"

# A slow stick that gets there: a 3 s stall in the middle of a part is not an error.
problems=()
rc=0
python3 "$TEST_TMP/writer.py" "$B/v2.ostick" "$mid2" 3 rest |
	"$APPLY" install "${ARGS[@]}" - >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
[ "$rc" = 0 ] || problems+=("exit $rc: $(head -c 300 "$TEST_TMP/err")")
[ "$(deployed)" = "$V2 $V1" ] || problems+=("deployments $(deployed), expected 2.0 then 1.0")
report_case writer-stalls-then-resumes \
	"a writer stalls 3 s in part 2, then sends the rest: installs (exit 0)"
image_restore "$SR" "$DEV" v1

# EIO from the stick (pulled out while it is read): the bundle on a 16 MB ext4 stick on its
# own loop device, whose capacity then drops to where the bundle's data starts (or 2 MiB into
# it): every read of the data past that point fails with EIO, the stick's metadata still reads.
# Before the install starts, and (gdb stopping it at part 1) in the middle of the payload.
STICK=$TEST_TMP/stick
make_loop_fs 16 ext4 "$STICK"
SDEV=$LOOP_DEV
SIMG=$(losetup -nO BACK-FILE "$SDEV")
cp "$B/v2.ostick" "$STICK/"
sync
# the first extent of the bundle's data: "0: 0.. N: START.. END: LEN:"
read -r bs start < <(filefrag -v "$STICK/v2.ostick" | awk '/blocks of/ { bs = $(NF - 1) }
	$1 == "0:" { sub(/\.\./, "", $4); print bs, $4 }')
umount "$STICK"
cp --sparse=always "$SIMG" "$TEST_TMP/stick-pristine.img"
# stick_fresh: the stick as written, mounted read-only, nothing of it cached.
stick_fresh() {
	umount "$STICK" 2>/dev/null || true
	cp --sparse=always "$TEST_TMP/stick-pristine.img" "$SIMG"
	losetup -c "$SDEV"
	blockdev --flushbufs "$SDEV"
	mount -o ro "$SDEV" "$STICK"
}
# pull_at BLOCKS: the command that makes the stick's blocks from BLOCKS on unreadable.
pull_at() { echo "truncate -s $(($1 * bs)) $SIMG && losetup -c $SDEV"; }
stick_fresh
eval "$(pull_at "$start")"
stream_case eio-from-the-start 1 "Input/output error" \
	"the stick fails every read of the bundle's data (EIO) from the start" \
	"$APPLY install ${ARGS[*]} $STICK/v2.ostick"
stick_fresh
problems=()
gdb_batch -ex "break ostick_bundle_reader_read_part" -ex "ignore 1 1" -ex run -ex delete \
	-ex "shell $(pull_at $((start + 2 * 1024 * 1024 / bs)))" -ex continue \
	-ex 'print $_exitcode' --args "$APPLY" install "${ARGS[@]}" "$STICK/v2.ostick" \
	>"$TEST_TMP/gdb.out" 2>&1 || true
gdb_stopped "$TEST_TMP/gdb.out" || problems+=("gdb did not stop at part 1")
rc=$(sed -n 's/^\$1 = //p' "$TEST_TMP/gdb.out")
[ "$rc" = 1 ] || problems+=("exit ${rc:-?}, expected 1 (an I/O error)")
grep -qE '^ostick-apply: install: .*Input/output error' "$TEST_TMP/gdb.out" ||
	problems+=("no I/O error message: $(grep -m1 '^ostick-apply:' "$TEST_TMP/gdb.out")")
diag "eio-mid-payload: $(grep -m1 '^ostick-apply:' "$TEST_TMP/gdb.out" || echo 'no message')"
device_state "$SR" >"$TEST_TMP/state-now"
diff -q "$TEST_TMP/state-v1" "$TEST_TMP/state-now" >/dev/null ||
	{ problems+=("the device changed"); image_restore "$SR" "$DEV" v1; }
report_case eio-mid-payload \
	"the stick fails reads (EIO) 2 MiB into the bundle, while part 1 is read: exit 1, device unchanged"
stick_fresh
check_exit 0 "... and the stick back in one piece: the bundle on it installs" \
	"$APPLY" install "${ARGS[@]}" "$STICK/v2.ostick"

done_testing
