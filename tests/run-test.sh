#!/bin/sh
# prove --exec wrapper: runs one test (a GTest binary or a TAP shell script) under a timeout.
# Environment: OSTICK_TEST_TIMEOUT (seconds, default 900).
t=$1
limit=${OSTICK_TEST_TIMEOUT:-900}
# Sanitizer settings for `make asan` (ignored by normal builds): full stacks, so that the
# suppressions match, and leaks fail the test.
src=${OSTICK_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0:detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
case "$t" in
*.sh) exec timeout --kill-after=30 "$limit" bash "$t" ;;
*) G_DEBUG=fatal-criticals exec timeout --kill-after=30 "$limit" "$t" --tap ;;
esac
