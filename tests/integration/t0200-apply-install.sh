#!/bin/bash
# t0200-apply-install.sh: `ostick-apply install` on real loop-mounted sysroots (U-Boot style):
# 1.0 from scratch, then the 2.0 delta; what status, status --json, uEnv.txt, the BLS entries
# and `ostree admin status` say afterwards; a local /etc change (modified, added and deleted
# files) survives the 3-way merge and a new default file appears; install from a pipe (-), from
# --fd N, with --no-deploy (ref set, /boot untouched); the installed bundle again is "already
# installed" and changes nothing; --progress=json and --progress-fd N lines.
source "$OSTICK_SRCDIR/tests/integration/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 (JSON checks)"

B=$TEST_TMP/bundles
sample_bundles "$B"
K=$B/keyring
V1=$(ostree --repo="$B/repo" rev-parse 'demo/stable^')
V2=$(ostree --repo="$B/repo" rev-parse demo/stable)
DEPLOY_REL=ostree/deploy/$SAMPLE_OS/deploy

# A 3.0 delta (from 2.0) whose /etc has a default file 1.0 and 2.0 do not have, and which adds
# this machine's own executables: on x86 the bundler's trial picks `zstd-x86` for their part
# (FORMAT.md §5.8), and libostree's checksum of every object proves the applier undid it.
make_rootfs 3.0 "$B/rootfs-3.0"
echo "new-default=yes" >"$B/rootfs-3.0/etc/ostick-demo/new-in-3.conf"
mkdir -p "$B/rootfs-3.0/usr/lib/host"
cp "$(command -v bash)" "$APPLY" "$BUNDLE" "$B/rootfs-3.0/usr/lib/host/"
"$BUNDLE" create --rootfs "$B/rootfs-3.0" --repo "$B/repo" --ref demo/stable --version 3.0 \
	--from demo/stable --compatible "$SAMPLE_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem" \
	-o "$B/v3.ostick" >/dev/null
V3=$(ostree --repo="$B/repo" rev-parse demo/stable)
"$BUNDLE" inspect --json "$B/v3.ostick" >"$B/v3.json"

# json_check DESCRIPTION FILE PYTHON-EXPRESSION: FILE is JSON and the expression (over d) is True.
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

# progress_check DESCRIPTION FILE: FILE's lines starting with { are all JSON objects; progress
# events come in the order verify, check, apply, commit, deploy, cleanup, done (each at least once);
# the last JSON line is the result, outcome installed, exit code 0; with JSON on stdout, every
# stdout line is JSON (the human summary goes to stderr).
progress_check() {
	if python3 - "$2" "$V2" >"$TEST_TMP/.json-out" 2>&1 <<'PY'; then ok "$1"; else
import json, sys
lines = open(sys.argv[1]).read().splitlines()
events = [json.loads(l) for l in lines]
assert events, "no JSON lines"
assert all(isinstance(e, dict) for e in events), "a line is not an object"
stages = [e["stage"] for e in events if e.get("event") == "progress"]
order = ["verify", "check", "apply", "commit", "deploy", "cleanup", "done"]
firsts = [stages.index(s) if s in stages else None for s in order]
assert None not in firsts, "missing stages: %r in %r" % (order, stages)
assert firsts == sorted(firsts), "stages out of order: %r" % stages
assert set(stages) <= set(order), "unknown stages: %r" % stages
assert stages[-1] == "done", "last progress stage is %r" % stages[-1]
res = events[-1]
assert res.get("event") == "result", "last JSON line is not the result: %r" % res
assert [e.get("event") for e in events].count("result") == 1, "more than one result"
assert res["outcome"] == "installed" and res["exit_code"] == 0 and res["message"] is None, res
assert res["to_commit"] == sys.argv[2] and res["to_version"] == "2.0", res
assert res["peak_rss_kib"] > 0 and res["bytes_read"] > 0, res
PY
		not_ok "$1"
		diag_file "$TEST_TMP/.json-out"
		diag_file "$2"
	fi
}

# fingerprint_without SECTION SYSROOT: device_fingerprint minus one "== SECTION" block.
fingerprint_without() {
	device_fingerprint "$2" | awk -v s="== $1" '/^== /{skip = ($0 == s)} !skip'
}

# deployed SYSROOT: the deployments' commits in admin status order, one line.
deployed() {
	ostree admin --sysroot="$1" status | grep -oE "$SAMPLE_OS [0-9a-f]{64}\.[0-9]+" |
		awk '{print $2}' | paste -sd ' '
}

# uenv_path SYSROOT KEY: the ostree= path of KEY (bootargs, bootargs2) in uEnv.txt.
uenv_path() {
	sed -n "s/^$2=.*ostree=\([^ ]*\).*/\1/p" "$1/boot/loader/uEnv.txt"
}

# resolves SYSROOT OSTREE-PATH COMMIT: the ostree= path (relative to the sysroot) leads to the
# deployment directory of COMMIT.
resolves() {
	local target
	target=$(readlink -f "$1$2")
	[ "$target" = "$(readlink -f "$1/$DEPLOY_REL/$3.0")" ] && [ -d "$target" ] || {
		echo "$2 -> $target, not the deployment of $3"
		return 1
	}
}

# ---- device A: 1.0 from scratch, then the 2.0 delta
SR=$TEST_TMP/sysroot-a
make_sysroot "$SR" uboot 256
check_exit 0 "install 1.0 from scratch: exit 0" "$APPLY" install $(apply_args "$SR" "$K") \
	"$B/v1.ostick"
check_match "... says 1.0 installed over nothing" \
	"^installed $SAMPLE_OS 1\.0 \(${V1:0:12}\) over nothing; it boots at the next restart$" \
	"$TEST_TMP/stdout"
check_eq "... one deployment, of the 1.0 commit" "$V1.0" "$(deployed "$SR")"
check_eq "... ref demo/stable is the 1.0 commit" "$V1" \
	"$(ostree --repo="$SR/ostree/repo" rev-parse demo/stable)"

# A local /etc change in the 1.0 deployment: modify a default, add a file, delete a default.
D1=$SR/$DEPLOY_REL/$V1.0
check "precondition: 1.0 has the defaults etc/hostname and etc/ostick-demo/demo.conf" \
	test -f "$D1/etc/hostname" -a -f "$D1/etc/ostick-demo/demo.conf"
echo "site=plant-7" >>"$D1/etc/ostick-demo/demo.conf"
echo "local=only-here" >"$D1/etc/ostick-demo/local.conf"
rm "$D1/etc/hostname"
cp "$D1/etc/ostick-demo/demo.conf" "$TEST_TMP/demo.conf.local"

check_exit 0 "install the 2.0 delta with --progress=json: exit 0" \
	"$APPLY" install $(apply_args "$SR" "$K") --progress=json "$B/v2.ostick"
cp "$TEST_TMP/stdout" "$TEST_TMP/progress.out"
progress_check "... stdout: only JSON lines: verify, check, apply, commit, deploy, cleanup, done, result" \
	"$TEST_TMP/progress.out"
check_eq "... with JSON on stdout, the human summary goes to stderr" \
	"installed $SAMPLE_OS 2.0 (${V2:0:12}) over 1.0; it boots at the next restart" \
	"$(grep -v '^ostick-apply: ' "$TEST_TMP/stderr" | paste -sd '|')"
check_eq "admin status: 2.0 first, 1.0 second" "$V2.0 $V1.0" "$(deployed "$SR")"
check_eq "ref demo/stable is the 2.0 commit" "$V2" \
	"$(ostree --repo="$SR/ostree/repo" rev-parse demo/stable)"
check "the repo is consistent (ostree fsck)" ostree --repo="$SR/ostree/repo" fsck

# status, human and JSON
check_exit 0 "status: exit 0" "$APPLY" status --sysroot "$SR" --os "$SAMPLE_OS"
cp "$TEST_TMP/stdout" "$TEST_TMP/status.txt"
check_match "status: 2.0 is the default (marked *)" \
	"^\* 2\.0 +${V2:0:12} .* default( |$)" "$TEST_TMP/status.txt"
check_match "status: 1.0 is the rollback" "^  1\.0 +${V1:0:12} .* rollback( |$)" \
	"$TEST_TMP/status.txt"
check_match "status: last result installed 2.0" "^Last result: installed 2\.0 at " \
	"$TEST_TMP/status.txt"
check_exit 0 "status --json: exit 0" "$APPLY" status --sysroot "$SR" --os "$SAMPLE_OS" --json
cp "$TEST_TMP/stdout" "$TEST_TMP/status.json"
json_check "status --json: two deployments, 2.0 default first, 1.0 rollback second" \
	"$TEST_TMP/status.json" "[(x['checksum'], x['version'], x['default'], x['rollback'],
x['booted'], x['refspec']) for x in d['deployments']] == [
('$V2', '2.0', True, False, False, 'demo/stable'),
('$V1', '1.0', False, True, False, 'demo/stable')]"
json_check "status --json: os, bootloader, last result installed 1.0 -> 2.0" \
	"$TEST_TMP/status.json" "d['os'] == '$SAMPLE_OS' and d['bootloader'] == 'uboot' and
d['last_result']['outcome'] == 'installed' and d['last_result']['to-version'] == '2.0' and
d['last_result']['from-version'] == '1.0' and d['last_result']['to-commit'] == '$V2'"

# U-Boot: uEnv.txt names the new deployment, the old one as the rollback (…2 keys)
UENV=$SR/boot/loader/uEnv.txt
check "uEnv.txt exists behind boot/loader" test -s "$UENV"
BOOTARGS=$(uenv_path "$SR" bootargs)
BOOTARGS2=$(uenv_path "$SR" bootargs2)
check_match "uEnv.txt: bootargs has an ostree= path" \
	"^bootargs=.*ostree=/ostree/boot\.[01]/$SAMPLE_OS/[0-9a-f]{64}/0( |$)" "$UENV"
check "uEnv.txt: bootargs' ostree= resolves to the 2.0 deployment" resolves "$SR" \
	"$BOOTARGS" "$V2"
check "uEnv.txt: bootargs2's ostree= resolves to the 1.0 deployment" resolves "$SR" \
	"$BOOTARGS2" "$V1"
BOOTVERSION=$(readlink "$SR/boot/loader")
check_eq "uEnv.txt: the boot.N of bootargs is the current loader.N" "$BOOTVERSION" \
	"loader.$(echo "$BOOTARGS" | sed -n 's|^/ostree/boot\.\([01]\)/.*|\1|p')"
for key in kernel_image kernel_image2 ramdisk_image ramdisk_image2; do
	file=$(sed -n "s/^$key=//p" "$UENV")
	check "uEnv.txt: $key names a file under /boot" test -n "$file" -a -f "$SR$file"
done

# BLS entries: ostree-2 is the default (2.0, /0), ostree-1 the rollback (1.0, /1)
E=$SR/boot/loader/entries
check_eq "BLS: exactly the entries ostree-1 and ostree-2" \
	"ostree-1-$SAMPLE_OS.conf ostree-2-$SAMPLE_OS.conf" "$(ls "$E" | paste -sd ' ')"
check_match "BLS ostree-2: title of 2.0" "^title .* 2\.0 \(ostree:0\)$" \
	"$E/ostree-2-$SAMPLE_OS.conf"
check_match "BLS ostree-2: version 2" "^version 2$" "$E/ostree-2-$SAMPLE_OS.conf"
check "BLS ostree-2: options ostree= resolves to the 2.0 deployment" resolves "$SR" \
	"$(sed -n 's/^options .*ostree=\([^ ]*\).*/\1/p' "$E/ostree-2-$SAMPLE_OS.conf")" "$V2"
check_eq "BLS ostree-2: same ostree= as bootargs" "$BOOTARGS" \
	"$(sed -n 's/^options .*ostree=\([^ ]*\).*/\1/p' "$E/ostree-2-$SAMPLE_OS.conf")"
check_match "BLS ostree-1: title of 1.0" "^title .* 1\.0 \(ostree:1\)$" \
	"$E/ostree-1-$SAMPLE_OS.conf"
check_match "BLS ostree-1: version 1" "^version 1$" "$E/ostree-1-$SAMPLE_OS.conf"
check "BLS ostree-1: options ostree= resolves to the 1.0 deployment" resolves "$SR" \
	"$(sed -n 's/^options .*ostree=\([^ ]*\).*/\1/p' "$E/ostree-1-$SAMPLE_OS.conf")" "$V1"

# /etc 3-way merge into 2.0
D2=$SR/$DEPLOY_REL/$V2.0
check "precondition: 2.0's default demo.conf differs from the local one and has a hostname" \
	bash -c '! cmp -s "$1/usr/etc/ostick-demo/demo.conf" "$2" &&
		test -f "$1/usr/etc/hostname"' \
	_ "$D2" "$TEST_TMP/demo.conf.local"
check "/etc merge: the locally modified demo.conf kept the local content" \
	cmp "$TEST_TMP/demo.conf.local" "$D2/etc/ostick-demo/demo.conf"
check_eq "/etc merge: the locally added file is there" "local=only-here" \
	"$(cat "$D2/etc/ostick-demo/local.conf" 2>&1)"
check "/etc merge: the locally deleted hostname stays deleted" test ! -e "$D2/etc/hostname"
check_eq "2.0's tree: version file says 2.0" "2.0" \
	"$(cat "$D2/usr/share/ostick-demo/version" 2>&1)"

# The installed bundle again: already installed, nothing changes (delta and full bundle)
device_fingerprint "$SR" >"$TEST_TMP/fp-before"
find "$SR/ostree/repo/objects" -type f | sort >"$TEST_TMP/objects-before"
for bundle in v2 v2-full; do
	check_exit 0 "$bundle again: exit 0" "$APPLY" install $(apply_args "$SR" "$K") \
		"$B/$bundle.ostick"
	check_match "... says already installed" \
		"^already installed: $SAMPLE_OS 2\.0 \(${V2:0:12}\)$" "$TEST_TMP/stdout"
	device_fingerprint "$SR" >"$TEST_TMP/fp-after"
	check "... device fingerprint unchanged" diff -u "$TEST_TMP/fp-before" "$TEST_TMP/fp-after"
	find "$SR/ostree/repo/objects" -type f | sort >"$TEST_TMP/objects-after"
	check "... no object written" diff -u "$TEST_TMP/objects-before" "$TEST_TMP/objects-after"
done
check_exit 0 "already installed with --progress=json: exit 0" \
	"$APPLY" install $(apply_args "$SR" "$K") --progress=json "$B/v2.ostick"
json_check "... the result line says already-installed" \
	<(grep '"event":"result"' "$TEST_TMP/stdout") \
	"d['outcome'] == 'already-installed' and d['exit_code'] == 0 and d['to_commit'] == '$V2'"

# 3.0: a new default file appears, the local changes still hold
check_exit 0 "install the 3.0 delta: exit 0" "$APPLY" install $(apply_args "$SR" "$K") \
	"$B/v3.ostick"
D3=$SR/$DEPLOY_REL/$V3.0
check_eq "admin status: 3.0 first, 2.0 second" "$V3.0 $V2.0" "$(deployed "$SR")"
check_eq "/etc merge: 3.0's new default file appears" "new-default=yes" \
	"$(cat "$D3/etc/ostick-demo/new-in-3.conf" 2>&1)"
check "/etc merge: the local demo.conf is still the local one" \
	cmp "$TEST_TMP/demo.conf.local" "$D3/etc/ostick-demo/demo.conf"
check "/etc merge: the local file and deletion still hold" \
	test -f "$D3/etc/ostick-demo/local.conf" -a ! -e "$D3/etc/hostname"
case $(uname -m) in
x86_64 | i?86)
	json_check "3.0's parts: one at least is zstd-x86 (x86 executables), the others zstd" \
		"$B/v3.json" "'zstd-x86' in [m['encoding'] for m in d['members'][1:]] and
		set(m['encoding'] for m in d['members'][1:]) <= {'zstd', 'zstd-x86'}"
	;;
*) ok "# SKIP 3.0's parts are zstd-x86 only where the executables are x86 code" ;;
esac
check "the executables 3.0 added are deployed byte for byte" \
	diff -r "$B/rootfs-3.0/usr/lib/host" "$D3/usr/lib/host"
# 2.0 over 1.0 dropped no deployment, so there was nothing to prune (install.c skips it);
# 3.0 dropped 1.0, whose commit nothing references any more: pruned.
check "prune: 1.0's commit object is gone, with its deployment" \
	test ! -e "$SR/ostree/repo/objects/${V1:0:2}/${V1:2}.commit" -a ! -e "$D1"
check "... 2.0's (the rollback) is kept" \
	test -e "$SR/ostree/repo/objects/${V2:0:2}/${V2:2}.commit"
check "... the repo is consistent (ostree fsck)" ostree --repo="$SR/ostree/repo" fsck

# ---- device B: 2.0 from a pipe
SR=$TEST_TMP/sysroot-b
make_sysroot "$SR" uboot 256
check_exit 0 "pipe device: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") "$B/v1.ostick"
# (cat may die of SIGPIPE if the applier stops reading early: only the applier's status counts)
from_pipe() { { cat "$B/v2.ostick" || true; } | "$APPLY" install $(apply_args "$SR" "$K") -; }
check_exit 0 "cat v2.ostick | install -: exit 0" from_pipe
check_match "... says 2.0 installed over 1.0" \
	"^installed $SAMPLE_OS 2\.0 \(${V2:0:12}\) over 1\.0" "$TEST_TMP/stdout"
check_eq "... admin status: 2.0 first, 1.0 second" "$V2.0 $V1.0" "$(deployed "$SR")"
check "... uEnv.txt bootargs resolves to 2.0" resolves "$SR" "$(uenv_path "$SR" bootargs)" "$V2"
# 3.0 with every part streamed through a pipe (FORMAT.md §5.7): the other way a zstd-x86 part
# reaches libostree.
check_exit 0 "pipe device: install 3.0 with every part streamed: exit 0" \
	env OSTICK_INLINE_PART_MAX=0 "$APPLY" install $(apply_args "$SR" "$K") "$B/v3.ostick"
check "... the executables 3.0 added are deployed byte for byte" \
	diff -r "$B/rootfs-3.0/usr/lib/host" "$SR/$DEPLOY_REL/$V3.0/usr/lib/host"

# ---- device C: 2.0 (full) from --fd 5 on a fresh device, progress on --progress-fd 7
SR=$TEST_TMP/sysroot-c
make_sysroot "$SR" uboot 256
check_exit 0 "--fd 5 (v2-full, fresh device) --progress-fd 7: exit 0" \
	"$APPLY" install $(apply_args "$SR" "$K") --fd 5 --progress-fd 7 \
	5<"$B/v2-full.ostick" 7>"$TEST_TMP/fd7"
check_match "... says 2.0 installed over nothing" \
	"^installed $SAMPLE_OS 2\.0 \(${V2:0:12}\) over nothing" "$TEST_TMP/stdout"
check "... no JSON on stdout" bash -c '! grep -q "^{" "$1"' _ "$TEST_TMP/stdout"
progress_check "... fd 7: JSON lines verify, check, apply, commit, deploy, cleanup, done, then the result" \
	"$TEST_TMP/fd7"
check "... fd 7 has nothing but JSON lines" bash -c '! grep -qv "^{" "$1"' _ "$TEST_TMP/fd7"
check_eq "... admin status: only 2.0" "$V2.0" "$(deployed "$SR")"
check "... uEnv.txt bootargs resolves to 2.0" resolves "$SR" "$(uenv_path "$SR" bootargs)" "$V2"

# ---- device D: --no-deploy
SR=$TEST_TMP/sysroot-d
make_sysroot "$SR" uboot 256
check_exit 0 "no-deploy device: install 1.0" "$APPLY" install $(apply_args "$SR" "$K") \
	"$B/v1.ostick"
fingerprint_without refs "$SR" >"$TEST_TMP/fp-before"
check_exit 0 "install 2.0 --no-deploy: exit 0" "$APPLY" install $(apply_args "$SR" "$K") \
	--no-deploy "$B/v2.ostick"
check_match "... says applied, not deployed" \
	"^applied $SAMPLE_OS 2\.0 \(${V2:0:12}\) into the repo, ref demo/stable; not deployed$" \
	"$TEST_TMP/stdout"
check_eq "... ref demo/stable is the 2.0 commit" "$V2" \
	"$(ostree --repo="$SR/ostree/repo" rev-parse demo/stable)"
check "... the 2.0 commit is complete in the repo (fsck)" \
	ostree --repo="$SR/ostree/repo" fsck
fingerprint_without refs "$SR" >"$TEST_TMP/fp-after"
check "... no deployment added, /boot identical (fingerprint except refs)" \
	diff -u "$TEST_TMP/fp-before" "$TEST_TMP/fp-after"
check_exit 0 "then a normal install of 2.0 deploys it: exit 0" \
	"$APPLY" install $(apply_args "$SR" "$K") "$B/v2.ostick"
check_eq "... admin status: 2.0 first, 1.0 second" "$V2.0 $V1.0" "$(deployed "$SR")"

done_testing
