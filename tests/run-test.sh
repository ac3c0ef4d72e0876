#!/bin/sh
# prove --exec wrapper: runs one test (a GTest binary or a TAP shell script) under a timeout.
# Environment: OSTICK_TEST_TIMEOUT (seconds, default 900; 2700 under `make asan`, where
# t0400-adversarial alone takes 15 to 25 minutes on 2 cores).
t=$1
if [ -n "${OSTICK_SANITIZED:-}" ]; then
	limit=${OSTICK_TEST_TIMEOUT:-2700}
else
	limit=${OSTICK_TEST_TIMEOUT:-900}
fi
# Sanitizer settings for `make asan` (ignored by normal builds): full stacks, so that the
# suppressions match, and leaks fail the test.
src=${OSTICK_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# Under `make asan`, every report (ASan, LSan, UBSan) of every process the test starts goes to
# a file here, and any report fails the test: a tool that a test expects to fail (exit 1, as a
# sanitizer exits) or whose exit status it ignores must not hide one.
san_dir=
san_log=
if [ -n "${OSTICK_SANITIZED:-}" ]; then
	san_dir=$(mktemp -d "${TMPDIR:-/tmp}/ostick-san.XXXXXX")
	san_log=:log_path=$san_dir/report:log_exe_name=1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0:detect_leaks=1:abort_on_error=0$san_log}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1$san_log}
case "$t" in
*.sh) timeout --kill-after=30 "$limit" bash "$t" ;;
*) G_DEBUG=fatal-criticals timeout --kill-after=30 "$limit" "$t" --tap ;;
esac
rc=$?
if [ -n "$san_dir" ]; then
	for f in "$san_dir"/report*; do
		[ -e "$f" ] || continue
		echo "# sanitizer report ($f):" >&2
		sed 's/^/#   /' "$f" >&2
		[ "$rc" -ne 0 ] || rc=1
	done
	rm -rf "$san_dir"
fi
exit "$rc"
