#!/bin/bash
# t0280-apply-cli.sh: ostick-apply's command line: usage (2), --help and --version (0), unknown
# commands and options (2), each command's --help, and how messages are written: on stderr as
# single "ostick-apply: ..." lines, with a syslog priority prefix ("<3>") when JOURNAL_STREAM
# says stderr is the journal.
. "$(dirname "$0")/lib.sh"
require_root

# Messages must not depend on the host's /etc/ostick/ostick.conf.
CONF=$TEST_TMP/empty.conf
: >"$CONF"
unset JOURNAL_STREAM

# no_stdout: passes if the last check_exit printed nothing on stdout.
no_stdout() { [ ! -s "$TEST_TMP/stdout" ]; }
# all_prefixed PREFIX: passes if every line of the last stderr starts with PREFIX (and there
# is at least one).
all_prefixed() {
	[ -s "$TEST_TMP/stderr" ] && ! grep -qv "^$1" "$TEST_TMP/stderr" && return 0
	cat "$TEST_TMP/stderr"
	return 1
}

# ---- top level
check_exit 2 "no arguments: 2" "$APPLY"
check_match "... prints the usage on stderr" '^Usage: ostick-apply COMMAND' "$TEST_TMP/stderr"
check "... and nothing on stdout" no_stdout
check_exit 0 "--help: 0" "$APPLY" --help
for c in install verify status; do
	check_match "--help lists $c" "^  $c +[A-Z]" "$TEST_TMP/stdout"
done
check_match "--help documents the exit codes" '3 not for this device, 4 not authentic' \
	"$TEST_TMP/stdout"
check_exit 0 "-h: 0" "$APPLY" -h
check_match "... the same usage" '^Usage: ostick-apply COMMAND' "$TEST_TMP/stdout"
check_exit 0 "--version: 0" "$APPLY" --version
check_match "... prints ostick-apply and a version" '^ostick-apply [0-9]+\.[0-9]+' \
	"$TEST_TMP/stdout"
check_exit 2 "an unknown command: 2" "$APPLY" frobnicate
check_match "... says so on stderr, prefixed ostick-apply:" \
	"^ostick-apply: unknown command 'frobnicate'" "$TEST_TMP/stderr"
check "... nothing on stdout" no_stdout

# ---- per-command help
check_exit 0 "install --help: 0" "$APPLY" install --help
for o in --progress --fd --no-deploy --progress-fd --config --sysroot --os --keyring \
	--compatible --allow-downgrade; do
	check_match "install --help mentions $o" "^ +(-[a-z], )?${o}[= ]" "$TEST_TMP/stdout"
done
check_match "install --help shows the command in its usage line" \
	'^Usage:$|ostick-apply install' "$TEST_TMP/stdout"
check_exit 0 "verify --help: 0" "$APPLY" verify --help
check_match "verify --help mentions --keyring" '^ +--keyring=' "$TEST_TMP/stdout"
check_exit 0 "status --help: 0" "$APPLY" status --help
check_match "status --help mentions --json" '^ +--json' "$TEST_TMP/stdout"

# ---- usage errors: 2, one prefixed line on stderr, nothing on stdout
check_exit 2 "install with no bundle: 2" "$APPLY" install --config "$CONF"
check_match "... says BUNDLE is missing" '^ostick-apply: install: missing BUNDLE' \
	"$TEST_TMP/stderr"
check "... nothing on stdout" no_stdout
check_exit 2 "install with two bundles: 2" "$APPLY" install --config "$CONF" a.ostick b.ostick
check_exit 2 "install with both --fd and a bundle: 2" \
	"$APPLY" install --config "$CONF" --fd 0 a.ostick
check_exit 2 "install --progress=sometimes: 2" \
	"$APPLY" install --config "$CONF" --progress=sometimes a.ostick
check_match "... names the valid modes" '^ostick-apply: install: --progress must be auto' \
	"$TEST_TMP/stderr"
check_exit 2 "install with an unknown option: 2" "$APPLY" install --config "$CONF" --frob x
check_match "... names the option" '^ostick-apply: install: .*--frob' "$TEST_TMP/stderr"
check_exit 2 "verify with no bundle: 2" "$APPLY" verify --config "$CONF"
check_exit 2 "status with an extra argument: 2" "$APPLY" status --config "$CONF" extra
check_exit 2 "status with an unknown option: 2" "$APPLY" status --config "$CONF" --frob

# ---- messages: stderr only, single lines prefixed "ostick-apply:"
check_exit 7 "install of a missing bundle: 7" \
	"$APPLY" install --config "$CONF" --compatible x "$TEST_TMP/missing.ostick"
check_eq "... one message line on stderr" 1 "$(wc -l <"$TEST_TMP/stderr")"
check_match "... prefixed ostick-apply:, naming the command and the file" \
	"^ostick-apply: install: $TEST_TMP/missing\.ostick: No such file or directory$" \
	"$TEST_TMP/stderr"
check "... nothing on stdout" no_stdout
KR=$TEST_TMP/keyring
mkdir "$KR"
cp "$KEYS/test-ed25519.pub.pem" "$KR/"
check_exit 7 "verify of a missing bundle: 7" \
	"$APPLY" verify --config "$CONF" --keyring "$KR" --compatible x "$TEST_TMP/missing.ostick"
check "... every stderr line prefixed ostick-apply:" all_prefixed 'ostick-apply: '
check "... nothing on stdout" no_stdout
# A keyring directory that also holds an encrypted private key (a technician's mistake): the
# file is skipped, and nothing prompts for a passphrase on the terminal or stdin. setsid: no
# controlling terminal, so that a prompt would go to stdin and not hang an interactive run.
cp "$KEYS/test-encrypted.key.pem" "$KR/"
check_exit 7 "verify with an encrypted key in the keyring dir: 7 (the missing bundle)" \
	timeout 20 setsid -w "$APPLY" verify --config "$CONF" --keyring "$KR" --compatible x \
	"$TEST_TMP/missing.ostick" </dev/null
check "... no passphrase prompt: every stderr line prefixed ostick-apply:" \
	all_prefixed 'ostick-apply: '

# ---- JOURNAL_STREAM: syslog priority prefixes (3 = error)
check_exit 7 "with JOURNAL_STREAM set: still 7" env JOURNAL_STREAM=8:12345 \
	"$APPLY" install --config "$CONF" --compatible x "$TEST_TMP/missing.ostick"
check_match "... the error line starts with <3>ostick-apply:" \
	'^<3>ostick-apply: install: .*missing\.ostick: No such file or directory$' \
	"$TEST_TMP/stderr"
check "... every stderr line has the priority prefix" all_prefixed '<[0-7]>ostick-apply: '
check_exit 2 "with JOURNAL_STREAM set, an unknown command: 2" env JOURNAL_STREAM=8:12345 \
	"$APPLY" frobnicate
check_match "... <3>ostick-apply: unknown command" "^<3>ostick-apply: unknown command 'frob" \
	"$TEST_TMP/stderr"
check_exit 2 "with JOURNAL_STREAM set, a usage error: 2" env JOURNAL_STREAM=8:12345 \
	"$APPLY" install --config "$CONF"
check_match "... <3>ostick-apply: install: missing BUNDLE" \
	'^<3>ostick-apply: install: missing BUNDLE' "$TEST_TMP/stderr"
check_exit 7 "without JOURNAL_STREAM: no priority prefix" \
	"$APPLY" install --config "$CONF" --compatible x "$TEST_TMP/missing.ostick"
check "... no <N> prefix" bash -c '! grep -q "^<" "$1"' _ "$TEST_TMP/stderr"

done_testing
