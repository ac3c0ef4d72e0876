#!/bin/bash
# t0500-libostick.sh: libostick as an integrator sees it. The shared library exports exactly the
# functions ostick.h declares (nothing internal), the header compiles on its own as C and C++,
# the pkg-config files are valid, and the sample integrator (samples/ostick-receive.c, built
# with <ostick.h> and pkg-config only) links libostick.so.0. Then the sample receives bundles
# over a Unix socket, in small irregular chunks, and installs them: a full bundle, a tampered
# one, a sender that dies midway, one that stalls until SIGTERM cancels, the delta, the delta
# again. Every refusal leaves the device as it was. Last, the transport hand-off to
# `ostick-apply install --fd N` through a socketpair and through a pipe, in irregular chunks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/bundle-lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (socket sender)"

HEADER=$OSTICK_SRCDIR/libostick/include/ostick.h
SO=$OSTICK_BUILDDIR/libostick.so.0
RECEIVE=$OSTICK_BUILDDIR/samples/ostick-receive
export PKG_CONFIG_PATH=$OSTICK_BUILDDIR/pkgconfig

# ---- The library's interface
exported=$(nm -D --defined-only "$SO" | awk '$2 == "T" {print $3}' | sort | xargs)
declared=$(grep -oE 'OSTICK_PUBLIC [^;(]*\bostick_[a-z0-9_]+\(' "$HEADER" |
	grep -oE 'ostick_[a-z0-9_]+\($' | tr -d '(' | sort | xargs)
check_eq "libostick.so exports exactly the functions ostick.h declares" "$declared" "$exported"
check "ostick.h declares at least the bundle, install and provision entry points" \
	bash -c "grep -qw ostick_bundle_open_fd <<<'$declared' && grep -qw ostick_bundle_install \
		<<<'$declared' && grep -qw ostick_bundle_provision <<<'$declared'"
check_eq "SONAME is libostick.so.0" "libostick.so.0" \
	"$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"

for pc in ostick ostick-uninstalled; do
	check "$pc.pc is valid" pkg-config --validate "$OSTICK_BUILDDIR/pkgconfig/$pc.pc"
done
check_eq "pkg-config --modversion ostick is the library's version" \
	"$(pkg-config --modversion ostick)" "$("$RECEIVE" --version)"
check_match "pkg-config --libs ostick links -lostick" '(^| )-lostick( |$)' \
	<(pkg-config --libs ostick)
check_match "pkg-config --static --libs ostick brings libostree's libraries" '-lostree-1' \
	<(pkg-config --static --libs ostick)

echo '#include <ostick.h>' >"$TEST_TMP/h.c"
# shellcheck disable=SC2046
check "ostick.h compiles alone as C99 with -Wall -Wextra -Werror" \
	cc -std=c99 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags ostick) "$TEST_TMP/h.c"
if command -v g++ >/dev/null; then
	cat >"$TEST_TMP/h.cc" <<-'EOF'
		#include <ostick.h>
		int main() { return ostick_get_version() == nullptr; }
	EOF
	# shellcheck disable=SC2046
	check "ostick.h links from C++ (extern \"C\")" \
		g++ -Wall -Werror -o "$TEST_TMP/h-cxx" "$TEST_TMP/h.cc" $(pkg-config --cflags --libs ostick) \
		-Wl,-rpath,"$OSTICK_BUILDDIR"
else
	ok "# SKIP ostick.h from C++: no g++"
fi
check_match "the sample integrator needs libostick.so.0" 'NEEDED.*\[libostick\.so\.0\]' \
	<(readelf -d "$RECEIVE")
check "the sample integrator runs against this build's libostick.so.0" \
	bash -c "ldd '$RECEIVE' | grep -q '$OSTICK_BUILDDIR/libostick.so.0'"

# ---- Bundles over a socket
B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
flip_member_byte "$B/v2.ostick" "$B/v2-tampered.ostick" delta/0 100
SR=$TEST_TMP/sysroot
make_sysroot "$SR"
SOCK=$TEST_TMP/receive.sock

# send.py SOCKET BUNDLE MODE: sends BUNDLE in chunks of 1 byte to 64 KiB (seeded, so a
# failure can be replayed), pausing now and then; prints the receiver's answer. MODE: all,
# die (stop at 60 % and close without a word), stall (stop at 60 % and wait).
cat >"$TEST_TMP/send.py" <<'PY'
import random, socket, sys, time
path, bundle, mode = sys.argv[1:4]
rng = random.Random(0x05C)
data = open(bundle, "rb").read()
end = len(data) if mode == "all" else len(data) * 6 // 10
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(100):
    try:
        s.connect(path)
        break
    except (FileNotFoundError, ConnectionRefusedError):
        time.sleep(0.05)
off = 0
while off < end:
    n = min(end - off, rng.choice([1, 7, 512, 4093, 16384, 65536]))
    s.sendall(data[off:off + n])
    off += n
    if rng.random() < 0.02:
        time.sleep(0.01)
if mode == "die":
    s.close()
    sys.exit(0)
if mode == "stall":
    time.sleep(120)
s.shutdown(socket.SHUT_WR)
print(s.makefile().readline().strip())
PY

# receive NAME BUNDLE MODE: one ostick-receive --once, fed by send.py; sets RC (receiver's exit),
# ANSWER (what the sender read) and keeps the receiver's output in $TEST_TMP/NAME.log.
receive() {
	local name=$1 bundle=$2 mode=$3 pid
	rm -f "$SOCK"
	"$RECEIVE" --once --listen "$SOCK" --sysroot "$SR" --os "$SAMPLE_OS" \
		--compatible "$SAMPLE_COMPATIBLE" --keyring "$K" >"$TEST_TMP/$name.log" 2>&1 &
	pid=$!
	ANSWER=$(timeout 120 python3 "$TEST_TMP/send.py" "$SOCK" "$bundle" "$mode" 2>&1 || true)
	RC=0
	wait "$pid" || RC=$?
}

receive full "$B/v1.ostick" all
check_eq "full bundle over the socket: the receiver exits 0" 0 "$RC"
check_eq "... the sender is told it is installed" "OK installed 1.0 $V1" "$ANSWER"
check_eq "... progress stages come in order" "verify check apply commit deploy cleanup done" \
	"$(awk '$1 == "progress" && !seen[$2]++ {print $2}' "$TEST_TMP/full.log" | xargs)"
check "... the last apply report counts every byte and part" \
	awk '$1 == "progress" && $2 == "apply" {last = $0} END {
		split(last, f, " "); split(f[3], b, "/"); split(f[5], p, "/")
		exit !(b[1] == b[2] && b[2] > 0 && p[1] == p[2] && p[2] > 0) }' "$TEST_TMP/full.log"
check_match "... ostree admin status shows 1.0" "Version: 1\.0" \
	<(ostree admin --sysroot="$SR" status)
before=$(device_fingerprint "$SR")

receive tampered "$B/v2-tampered.ostick" all
check_eq "tampered bundle: the receiver exits 4" 4 "$RC"
check_match "... the sender is told why (exit 4, the part's hash)" '^ERROR 4 .*(SHA-256|hash)' \
	<(echo "$ANSWER")
check_eq "... the device is unchanged" "$before" "$(device_fingerprint "$SR")"

receive died "$B/v2.ostick" die
check_eq "sender dies at 60 %: the receiver exits 4 (the bundle ends early)" 4 "$RC"
check_match "... and says the stream ended early" '^ERROR 4 .*[Tt]runcated' \
	"$TEST_TMP/died.log"
check_eq "... the device is unchanged" "$before" "$(device_fingerprint "$SR")"

rm -f "$SOCK"
"$RECEIVE" --once --listen "$SOCK" --sysroot "$SR" --os "$SAMPLE_OS" \
	--compatible "$SAMPLE_COMPATIBLE" --keyring "$K" >"$TEST_TMP/stall.log" 2>&1 &
pid=$!
python3 "$TEST_TMP/send.py" "$SOCK" "$B/v2.ostick" stall >/dev/null 2>&1 &
sender=$!
on_exit "kill $sender"
for _ in $(seq 100); do grep -q "^progress apply" "$TEST_TMP/stall.log" && break; sleep 0.1; done
sleep 0.5
kill -TERM "$pid"
start=$(date +%s)
RC=0
timeout 30 tail --pid="$pid" -f /dev/null || true
wait "$pid" || RC=$?
check_eq "stalled sender, then SIGTERM: the receiver exits 10 (cancelled)" 10 "$RC"
check "... within 10 s" test $(($(date +%s) - start)) -le 10
check_match "... the answer says cancelled" '^ERROR 10 ' "$TEST_TMP/stall.log"
check_eq "... the device is unchanged, nothing staged" "$before" "$(device_fingerprint "$SR")"
kill "$sender" 2>/dev/null || true

receive delta "$B/v2.ostick" all
check_eq "the delta over the socket: exit 0" 0 "$RC"
check_eq "... the sender is told 2.0 is installed" "OK installed 2.0 $V2" "$ANSWER"
check_match "... ostree admin status shows 2.0 first" \
	"^\* $SAMPLE_OS $V2\.[0-9]+$|^  $SAMPLE_OS $V2\.[0-9]+$" \
	<(ostree admin --sysroot="$SR" status | head -n 1)

receive again "$B/v2.ostick" all
check_eq "the delta again: exit 0" 0 "$RC"
check_eq "... already installed" "OK already-installed 2.0 $V2" "$ANSWER"

# ---- The hand-off to ostick-apply through a socketpair (--fd 3)
SR2=$TEST_TMP/sysroot2
make_sysroot "$SR2"
cat >"$TEST_TMP/pair.py" <<'PY'
# pair.py socketpair|pipe BUNDLE COMMAND...: runs COMMAND --fd N on one end, writes BUNDLE
# into the other in chunks of 1 to 40000 bytes (seeded), pausing now and then, then closes it.
import os, random, socket, subprocess, sys, time
kind, bundle, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
if kind == "socketpair":
    ours, theirs = socket.socketpair()
    their_fd, write = theirs.detach(), ours.send
else:
    their_fd, w = os.pipe()
    write = lambda chunk: os.write(w, chunk)
child = subprocess.Popen(argv + ["--fd", str(their_fd)], pass_fds=[their_fd])
os.close(their_fd)
rng = random.Random(7)
data = memoryview(open(bundle, "rb").read())
off = 0
while off < len(data):
    off += write(data[off:off + rng.randint(1, 40000)])  # may write less: the rest follows
    if rng.random() < 0.01:
        time.sleep(0.02)
if kind == "socketpair":
    ours.shutdown(socket.SHUT_WR)
else:
    os.close(w)
sys.exit(child.wait())
PY
# shellcheck disable=SC2046
check_exit 0 "install --fd N from a socketpair in irregular chunks: exit 0" \
	python3 "$TEST_TMP/pair.py" socketpair "$B/v1.ostick" "$APPLY" install $(apply_args "$SR2" "$K")
check_match "... 1.0 installed" "^installed $SAMPLE_OS 1\.0 " "$TEST_TMP/stdout"
# shellcheck disable=SC2046
check_exit 0 "install --fd N from a pipe in irregular chunks: exit 0" \
	python3 "$TEST_TMP/pair.py" pipe "$B/v2.ostick" "$APPLY" install $(apply_args "$SR2" "$K")
check_match "... 2.0 installed over 1.0" "^installed $SAMPLE_OS 2\.0 .* over 1\.0" \
	"$TEST_TMP/stdout"

done_testing
