#!/bin/bash
# t0250-apply-status.sh: `ostick-apply status` and `status --json` on a real loop-mounted
# sysroot: fresh (no deployments), after 1.0, after 2.0 (default and rollback marks, versions
# from the deployments' origins), the last result after a refused install, and the exit codes
# for a directory that is not a sysroot (7) and an unknown OS (3).
. "$(dirname "$0")/lib.sh"
require_root

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
SR=$TEST_TMP/sysroot
make_sysroot "$SR" uboot 256
# An empty configuration file: the host's /etc/ostick/ostick.conf must not matter.
CONF=$TEST_TMP/empty.conf
: >"$CONF"
STATUS=("$APPLY" status --config "$CONF" --sysroot "$SR" --os "$SAMPLE_OS")
STATE=$SR/ostree/deploy/$SAMPLE_OS/var/lib/ostick/last-result

# commit_time REV: the commit's timestamp (seconds) from `ostree show`.
commit_time() {
	date -u -d "$(ostree --repo="$B/repo" show "$1" | sed -n 's/^Date: *//p')" +%s
}
# commit_minute REV: the same as status prints it (UTC, to the minute).
commit_minute() { date -u -d "@$(commit_time "$1")" '+%Y-%m-%d %H:%M'; }

# json_check DESCRIPTION FILE PYTHON-EXPRESSION: passes if FILE is JSON and the expression over
# it (as d) is True; on failure the document goes to the diagnostics.
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
    print(json.dumps(d, indent=1))
    sys.exit(1)
PY
		not_ok "$desc"
		diag_file "$TEST_TMP/.json-out"
	fi
}

DEPLOYMENT_KEYS='{"index","checksum","version","timestamp","booted","default","pending","rollback","pinned","refspec"}'

# ---- a fresh sysroot: no deployments, no last result
check_exit 0 "fresh: status exits 0" "${STATUS[@]}"
check_match "fresh: header names the OS and the bootloader" \
	"^OS $SAMPLE_OS, bootloader uboot$" "$TEST_TMP/stdout"
check_match "fresh: says there are no deployments" '^  no deployments$' "$TEST_TMP/stdout"
check "fresh: no last result shown" bash -c '! grep -q "^Last result" "$1"' _ "$TEST_TMP/stdout"
check_exit 0 "fresh: status --json exits 0" "${STATUS[@]}" --json
cp "$TEST_TMP/stdout" "$TEST_TMP/fresh.json"
json_check "fresh: --json has exactly os, bootloader, deployments, last_result" \
	"$TEST_TMP/fresh.json" 'set(d) == {"os", "bootloader", "deployments", "last_result"}'
json_check "fresh: --json os, bootloader, no deployments, last_result null" \
	"$TEST_TMP/fresh.json" \
	"d['os'] == '$SAMPLE_OS' and d['bootloader'] == 'uboot' and d['deployments'] == [] and
d['last_result'] is None"

# ---- after 1.0
check_exit 0 "install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
check_exit 0 "after 1.0: status exits 0" "${STATUS[@]}"
cp "$TEST_TMP/stdout" "$TEST_TMP/v1.txt"
check_eq "after 1.0: one deployment line, 1.0 default, commit date" \
	"* 1.0          ${V1:0:12}  $(commit_minute "$V1")  default" \
	"$(grep -E '^[* ] ' "$TEST_TMP/v1.txt" | paste -sd '|')"
check_match "after 1.0: last result installed 1.0" '^Last result: installed 1\.0 at [0-9T:-]+Z$' \
	"$TEST_TMP/v1.txt"
check_exit 0 "after 1.0: status --json exits 0" "${STATUS[@]}" --json
cp "$TEST_TMP/stdout" "$TEST_TMP/v1.json"
json_check "after 1.0: one deployment with exactly the documented keys" "$TEST_TMP/v1.json" \
	"len(d['deployments']) == 1 and set(d['deployments'][0]) == $DEPLOYMENT_KEYS"
json_check "after 1.0: deployment 0 is 1.0, default, not rollback/booted/pending/pinned" \
	"$TEST_TMP/v1.json" \
	"d['deployments'][0] == {'index': 0, 'checksum': '$V1', 'version': '1.0',
'timestamp': $(commit_time "$V1"), 'refspec': 'demo/stable', 'booted': False, 'default': True,
'pending': False, 'rollback': False, 'pinned': False}"
json_check "after 1.0: last_result installed, to 1.0, from nothing, exit-code 0" \
	"$TEST_TMP/v1.json" \
	"d['last_result']['outcome'] == 'installed' and d['last_result']['to-version'] == '1.0' and
d['last_result']['to-commit'] == '$V1' and 'from-version' not in d['last_result'] and
str(d['last_result']['exit-code']) == '0' and 'message' not in d['last_result']"

# ---- after 2.0
check_exit 0 "install 2.0 (delta)" "$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick"
check_exit 0 "after 2.0: status exits 0" "${STATUS[@]}"
cp "$TEST_TMP/stdout" "$TEST_TMP/v2.txt"
check_eq "after 2.0: 2.0 default first, then 1.0 rollback" \
	"* 2.0          ${V2:0:12}  $(commit_minute "$V2")  default|  1.0          ${V1:0:12}  $(commit_minute "$V1")  rollback" \
	"$(grep -E '^[* ] ' "$TEST_TMP/v2.txt" | paste -sd '|')"
check_match "after 2.0: last result installed 2.0" '^Last result: installed 2\.0 at ' \
	"$TEST_TMP/v2.txt"
check_exit 0 "after 2.0: status --json exits 0" "${STATUS[@]}" --json
cp "$TEST_TMP/stdout" "$TEST_TMP/v2.json"
json_check "after 2.0: top level os and bootloader" "$TEST_TMP/v2.json" \
	"set(d) == {'os', 'bootloader', 'deployments', 'last_result'} and d['os'] == '$SAMPLE_OS' and
d['bootloader'] == 'uboot'"
json_check "after 2.0: two deployments with exactly the documented keys" "$TEST_TMP/v2.json" \
	"len(d['deployments']) == 2 and all(set(x) == $DEPLOYMENT_KEYS for x in d['deployments'])"
json_check "after 2.0: field types (ints, strings, booleans)" "$TEST_TMP/v2.json" \
	"all(type(x['index']) is int and type(x['timestamp']) is int and
all(type(x[k]) is str for k in ('checksum', 'version', 'refspec')) and
all(type(x[k]) is bool for k in ('booted', 'default', 'pending', 'rollback', 'pinned'))
for x in d['deployments'])"
json_check "after 2.0: deployment 0 is 2.0, default" "$TEST_TMP/v2.json" \
	"d['deployments'][0] == {'index': 0, 'checksum': '$V2', 'version': '2.0',
'timestamp': $(commit_time "$V2"), 'refspec': 'demo/stable', 'booted': False, 'default': True,
'pending': False, 'rollback': False, 'pinned': False}"
json_check "after 2.0: deployment 1 is 1.0, rollback" "$TEST_TMP/v2.json" \
	"d['deployments'][1] == {'index': 1, 'checksum': '$V1', 'version': '1.0',
'timestamp': $(commit_time "$V1"), 'refspec': 'demo/stable', 'booted': False, 'default': False,
'pending': False, 'rollback': True, 'pinned': False}"
json_check "after 2.0: last_result installed 2.0 over 1.0" "$TEST_TMP/v2.json" \
	"{k: str(v) for k, v in d['last_result'].items() if k != 'time'} == {'outcome': 'installed',
'exit-code': '0', 'from-version': '1.0', 'from-commit': '$V1', 'to-version': '2.0',
'to-commit': '$V2', 'ref': 'demo/stable'}"
json_check "after 2.0: last_result time is an ISO-8601 UTC time" "$TEST_TMP/v2.json" \
	"__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', d['last_result']['time'])
is not None"

# ---- versions come from the deployments' origins ([ostick] version, written by install)
ORIGIN1=$(ls "$SR/ostree/deploy/$SAMPLE_OS/deploy/$V1".*.origin 2>/dev/null | head -n 1 || true)
check_match "the 1.0 origin records [ostick] version=1.0" '^version=1\.0$' "$ORIGIN1"
check_match "the 1.0 origin records the compatible string" \
	"^compatible=$SAMPLE_COMPATIBLE\$" "$ORIGIN1"
sed -i 's/^version=1\.0$/version=1.0-site7/' "$ORIGIN1"
check_exit 0 "edited origin: status exits 0" "${STATUS[@]}" --json
json_check "edited origin: status shows the origin's version, not the commit's" \
	"$TEST_TMP/stdout" "d['deployments'][1]['version'] == '1.0-site7'"
sed -i 's/^version=1\.0-site7$/version=1.0/' "$ORIGIN1"

# ---- a refused install: the last result says so
check_exit 3 "install for another board exits 3" "$APPLY" install $(apply_args "$SR" "$K") \
	--compatible other-board "$B/v2-full.ostick"
check_exit 0 "after the refusal: status exits 0" "${STATUS[@]}"
cp "$TEST_TMP/stdout" "$TEST_TMP/failed.txt"
check_match "after the refusal: last result failed, with the message" \
	"^Last result: failed 2\.0 at [0-9T:-]+Z: bundle is for '$SAMPLE_COMPATIBLE', this device is 'other-board'$" \
	"$TEST_TMP/failed.txt"
check_eq "after the refusal: deployments unchanged" \
	"$(grep -E '^[* ] ' "$TEST_TMP/v2.txt" | paste -sd '|')" \
	"$(grep -E '^[* ] ' "$TEST_TMP/failed.txt" | paste -sd '|')"
check_exit 0 "after the refusal: status --json exits 0" "${STATUS[@]}" --json
cp "$TEST_TMP/stdout" "$TEST_TMP/failed.json"
json_check "after the refusal: last_result outcome failed, exit-code 3, the message" \
	"$TEST_TMP/failed.json" \
	"d['last_result']['outcome'] == 'failed' and str(d['last_result']['exit-code']) == '3' and
'other-board' in d['last_result']['message'] and d['last_result']['to-version'] == '2.0' and
d['last_result']['from-version'] == '2.0'"
check_match "the last-result file records exit-code=3" '^exit-code=3$' "$STATE"

# ---- not a sysroot, unknown OS
mkdir "$TEST_TMP/not-a-sysroot"
check_exit 7 "status --sysroot on a directory that is not a sysroot exits 7" \
	"$APPLY" status --config "$CONF" --sysroot "$TEST_TMP/not-a-sysroot" --os "$SAMPLE_OS"
check_match "... and says it is not an OSTree sysroot" \
	"^ostick-apply: status: .*not-a-sysroot is not an OSTree sysroot" "$TEST_TMP/stderr"
check_exit 7 "status --sysroot on a missing path exits 7" \
	"$APPLY" status --config "$CONF" --sysroot "$TEST_TMP/missing" --os "$SAMPLE_OS"
check_exit 3 "status --os of an unknown OS exits 3" \
	"$APPLY" status --config "$CONF" --sysroot "$SR" --os no-such-os
check_match "... and names the OS" "^ostick-apply: status: .*'no-such-os'" "$TEST_TMP/stderr"
check_exit 3 "status --json --os of an unknown OS exits 3" \
	"$APPLY" status --config "$CONF" --sysroot "$SR" --os no-such-os --json
check_eq "... and prints no JSON" "" "$(cat "$TEST_TMP/stdout")"

done_testing
