#!/bin/bash
# t0270-apply-verify.sh: `ostick-apply verify` answers "would this install here?" on a real
# loop-mounted sysroot: 0 for a bundle that would install and for the installed one; 3 for
# another board, a downgrade or a missing delta base; 4 for a payload byte changed anywhere
# (it reads every member). It changes nothing (device fingerprint, repo objects, last result)
# and takes no lock: it works while another process holds the sysroot lock, install exits 6.
. "$(dirname "$0")/lib.sh"
require_root

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
STATE_REL=ostree/deploy/$SAMPLE_OS/var/lib/ostick/last-result

# state SYSROOT: what verify must not change: the fingerprint, the repo's objects, the last
# result (content and mtime).
state() {
	device_fingerprint "$1"
	echo "== objects"
	find "$1/ostree/repo/objects" -type f | sort
	echo "== last-result"
	if [ -e "$1/$STATE_REL" ]; then
		stat -c '%Y.%y' "$1/$STATE_REL"
		cat "$1/$STATE_REL"
	else
		echo "(none)"
	fi
}

# tamper IN OUT WHERE: OUT is IN with one byte of its last tar member (the last delta part)
# changed, in the middle or at the very end of its data.
tamper() {
	python3 - "$@" <<'PY'
import shutil, sys, tarfile
src, dst, where = sys.argv[1:]
last = tarfile.open(src).getmembers()[-1]
assert last.name.startswith("delta/") and last.name != "delta/superblock", last.name
off = last.offset_data + (last.size // 2 if where == "middle" else last.size - 1)
shutil.copyfile(src, dst)
with open(dst, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x01]))
print(last.name, off)
PY
}

# ---- device 1: 1.0 installed
SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 256
check_exit 0 "install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
check "precondition: install wrote a last result" test -s "$SR/$STATE_REL"
state "$SR" >"$TEST_TMP/state-before"
sleep 1 # a rewrite of the last result would now change its mtime

check_exit 0 "verify the 2.0 delta: 0" \
	"$APPLY" verify $(apply_args "$SR" "$K") "$B/v2.ostick"
check_match "... would install 2.0 over 1.0" \
	"^$B/v2\.ostick: OK: would install $SAMPLE_OS 2\.0 over 1\.0$" "$TEST_TMP/stdout"
check_exit 0 "verify the 2.0 full bundle: 0" \
	"$APPLY" verify $(apply_args "$SR" "$K") "$B/v2-full.ostick"
check_match "... would install 2.0 over 1.0" 'OK: would install .* 2\.0 over 1\.0$' \
	"$TEST_TMP/stdout"
check_exit 0 "verify the installed 1.0: 0" \
	"$APPLY" verify $(apply_args "$SR" "$K") "$B/v1.ostick"
check_match "... already installed" "OK: already installed \($SAMPLE_OS 1\.0\)$" \
	"$TEST_TMP/stdout"
check_exit 3 "verify for another board: 3" \
	"$APPLY" verify $(apply_args "$SR" "$K") --compatible other-board "$B/v2.ostick"
check_match "... names both compatible strings" \
	"^ostick-apply: verify: .*'$SAMPLE_COMPATIBLE'.*'other-board'" "$TEST_TMP/stderr"
tamper "$B/v2-full.ostick" "$TEST_TMP/mid.ostick" middle >"$TEST_TMP/where"
check_exit 4 "verify a bundle with a payload byte changed mid-part: 4" \
	"$APPLY" verify $(apply_args "$SR" "$K") "$TEST_TMP/mid.ostick"
check_match "... says which member does not match" "^ostick-apply: verify: .*delta/" \
	"$TEST_TMP/stderr"
tamper "$B/v2-full.ostick" "$TEST_TMP/end.ostick" end >"$TEST_TMP/where"
check_exit 4 "verify a bundle whose very last payload byte changed: 4 (reads every member)" \
	"$APPLY" verify $(apply_args "$SR" "$K") "$TEST_TMP/end.ostick"
check_exit 4 "verify the tampered 2.0 delta (last byte): 4" \
	"$APPLY" verify $(apply_args "$SR" "$K") \
	"$(tamper "$B/v2.ostick" "$TEST_TMP/delta-end.ostick" end >/dev/null &&
		echo "$TEST_TMP/delta-end.ostick")"
check_exit 0 "verify reads a pipe too (- is stdin): 0" \
	bash -c '"$@" - <"$0"' "$B/v2.ostick" "$APPLY" verify $(apply_args "$SR" "$K")
# An encrypted private key in the keyring directory is skipped without prompting: a
# passphrase prompt would read the bundle's first bytes from stdin (setsid: no terminal).
mkdir "$TEST_TMP/keyring-enc"
cp "$KEYS/test-ed25519.pub.pem" "$KEYS/test-encrypted.key.pem" "$TEST_TMP/keyring-enc/"
check_exit 0 "verify - with an encrypted key in the keyring dir: 0 (stdin stays the bundle's)" \
	timeout 20 setsid -w bash -c '"$@" - <"$0"' "$B/v2.ostick" "$APPLY" verify \
	$(apply_args "$SR" "$TEST_TMP/keyring-enc")
check_match "... would install 2.0" 'OK: would install .* 2\.0 over 1\.0$' "$TEST_TMP/stdout"

state "$SR" >"$TEST_TMP/state-after"
check "verify changed nothing on the device (refs, deployments, /boot, objects, staging)" \
	diff -u <(sed '/^== last-result/,$d' "$TEST_TMP/state-before") \
	<(sed '/^== last-result/,$d' "$TEST_TMP/state-after")
check "verify wrote no last result (file and mtime unchanged)" \
	diff -u <(sed -n '/^== last-result/,$p' "$TEST_TMP/state-before") \
	<(sed -n '/^== last-result/,$p' "$TEST_TMP/state-after")

# ---- no lock: verify works while another process holds the sysroot lock, install exits 6.
# libostree locks ostree/lock with an OFD lock (libglnx glnx_make_lock_file), which conflicts
# with POSIX fcntl locks but not with flock(2): the holder takes an fcntl lock.
python3 - "$SR/ostree/lock" "$TEST_TMP/locked" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)
PY
LOCKER=$!
on_exit "kill $LOCKER"
for _ in $(seq 50); do [ -e "$TEST_TMP/locked" ] && break; sleep 0.1; done
check "precondition: another process holds ostree/lock" test -e "$TEST_TMP/locked"
check_exit 0 "verify while the sysroot lock is held: 0" \
	"$APPLY" verify $(apply_args "$SR" "$K") "$B/v2.ostick"
check_match "... would install 2.0" 'OK: would install .* 2\.0 over 1\.0$' "$TEST_TMP/stdout"
check_exit 6 "install while the sysroot lock is held: 6 (busy)" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick"
check_match "... says the lock is held" '^ostick-apply: install: .*holds the sysroot lock' \
	"$TEST_TMP/stderr"
kill "$LOCKER"
wait "$LOCKER" 2>/dev/null || true
check_exit 0 "the lock released, install 2.0: 0" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick"

# ---- device 2: blank (a delta has no base), then 2.0 (1.0 is a downgrade)
SR2=$TEST_TMP/sysroot2
make_sysroot "$SR2" uboot 256
state "$SR2" >"$TEST_TMP/state2-before"
check_exit 3 "verify the 2.0 delta on a blank device (base missing): 3" \
	"$APPLY" verify $(apply_args "$SR2" "$K") "$B/v2.ostick"
check_match "... says the base is not on this device" \
	'^ostick-apply: verify: .*delta from [0-9a-f]{12}, which is not on this device' \
	"$TEST_TMP/stderr"
check_exit 0 "verify the full 1.0 on a blank device: would install over nothing" \
	"$APPLY" verify $(apply_args "$SR2" "$K") "$B/v1.ostick"
check_match "... over nothing" 'OK: would install .* 1\.0 over nothing$' "$TEST_TMP/stdout"
state "$SR2" >"$TEST_TMP/state2-after"
check "verify on a blank device changed nothing, wrote no last result" \
	diff -u "$TEST_TMP/state2-before" "$TEST_TMP/state2-after"

check_exit 0 "install the full 2.0 on device 2" \
	"$APPLY" install $(apply_args "$SR2" "$K") "$B/v2-full.ostick"
state "$SR2" >"$TEST_TMP/state2-before"
sleep 1
check_exit 3 "verify 1.0 over 2.0 (downgrade): 3" \
	"$APPLY" verify $(apply_args "$SR2" "$K") "$B/v1.ostick"
check_match "... says it is older" '^ostick-apply: verify: .*older than the installed' \
	"$TEST_TMP/stderr"
check_exit 0 "verify --allow-downgrade 1.0 over 2.0: 0" \
	"$APPLY" verify $(apply_args "$SR2" "$K") --allow-downgrade "$B/v1.ostick"
check_exit 0 "verify the 2.0 delta where 2.0 is installed: already installed" \
	"$APPLY" verify $(apply_args "$SR2" "$K") "$B/v2.ostick"
check_match "... already installed" 'OK: already installed' "$TEST_TMP/stdout"
state "$SR2" >"$TEST_TMP/state2-after"
check "verify on device 2 changed nothing, last result untouched" \
	diff -u "$TEST_TMP/state2-before" "$TEST_TMP/state2-after"

done_testing
