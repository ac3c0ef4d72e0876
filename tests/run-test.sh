#!/bin/sh
# prove --exec wrapper: runs one test (a GTest binary or a TAP shell script) under a timeout.
# Environment: OSTICK_TEST_TIMEOUT (seconds, default 900).
t=$1
limit=${OSTICK_TEST_TIMEOUT:-900}
case "$t" in
*.sh) exec timeout --kill-after=30 "$limit" bash "$t" ;;
*) G_DEBUG=fatal-criticals exec timeout --kill-after=30 "$limit" "$t" --tap ;;
esac
