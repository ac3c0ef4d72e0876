#!/bin/bash
# run.sh: the end-to-end run behind `make e2e` (see tests/e2e/README.md), as TAP on stdout with
# each phase's time; details go to $WORK/run/logs/. Runs as root, one QEMU at a time.
#   1. hypervisor: qemu-system-x86_64 starts (else the whole run is skipped, the only skip);
#   2. guest base: cached in $WORK/base/KEY (KEY: hash of guest-packages and mkbase.sh), else
#      built by mkbase.sh (debootstrap, two stages);
#   3. trees and bundles: v1 = base + ostick (make install), v2 = v1 + version file; bundles;
#   4. disks: a deployed v1 sysroot for U-Boot and for syslinux; a provisioned one (syslinux);
#   5. the scenarios (scenarios.py), in QEMU.
# Environment: OSTICK_BUILDDIR (required: the built tools), E2E_WORK (default tests/e2e/work),
# E2E_SCENARIOS (a subset, e.g. "s1-uboot s2-refused"), E2E_SEED (repeat the power-cut moments).
source "$(dirname "$0")/lib.sh"

: "${OSTICK_BUILDDIR:?run through make e2e}"
T_START=$(date +%s.%N)
RUN=$WORK/run
LOGS=$RUN/logs
TAP_N=0
TAP_FAILED=0
TIMINGS=()

elapsed() { awk -v now="$(date +%s.%N)" -v t="$1" 'BEGIN { printf "%.1f", now - t }'; }

# phase NAME LOGNAME COMMAND...: one TAP line for COMMAND, with its time; a failure bails out.
phase() {
	local name=$1 logname=$2 t rc=0 dt
	shift 2
	t=$(date +%s.%N)
	"$@" >"$LOGS/$logname.log" 2>&1 || rc=$?
	dt=$(elapsed "$t")
	TAP_N=$((TAP_N + 1))
	TIMINGS+=("$(printf '%-44s %7s s' "$name" "$dt")")
	if [ "$rc" -eq 0 ]; then
		echo "ok $TAP_N - $name ($dt s)"
		return 0
	fi
	echo "not ok $TAP_N - $name ($dt s, exit $rc)"
	tail -n 30 "$LOGS/$logname.log" | sed 's/^/#   /'
	echo "Bail out! $name failed; the log is $LOGS/$logname.log"
	exit 1
}

hypervisor_starts() {
	local out
	command -v qemu-system-x86_64 >/dev/null || {
		echo "qemu-system-x86_64 is not installed"
		return 1
	}
	# A machine without a board, driven over QMP: start, answer, quit.
	out=$(printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
		timeout 30 qemu-system-x86_64 -accel tcg -machine none -nodefaults -display none \
			-qmp stdio 2>&1) || {
		echo "qemu-system-x86_64 does not start: $(echo "$out" | tail -n 2)"
		return 1
	}
}

# QEMU processes the scenarios started and left behind (the driver was killed): by their pid.
kill_leftover_qemu() {
	local pid
	[ -f "$RUN/qemu.pids" ] || return 0
	while read -r pid; do
		if grep -qa "qemu-system" "/proc/$pid/cmdline" 2>/dev/null &&
			grep -qa "$RUN/" "/proc/$pid/cmdline" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
		fi
	done <"$RUN/qemu.pids"
}

[ "$(id -u)" -eq 0 ] || die "make e2e needs root (debootstrap, loop devices, mounts)"
t=$(date +%s.%N)
if ! why=$(hypervisor_starts); then
	echo "1..0 # SKIP no hypervisor can run here: $why"
	exit 0
fi
mkdir -p "$WORK"
exec 9>"$WORK/.lock"
flock -n 9 || die "another make e2e runs in $WORK"
safe_rm "$RUN"
mkdir -p "$LOGS"
on_exit kill_leftover_qemu
export E2E_QEMU_PIDS=$RUN/qemu.pids
TAP_N=1
TIMINGS+=("$(printf '%-44s %7s s' "hypervisor" "$(elapsed "$t")")")
echo "ok 1 - hypervisor: $(qemu-system-x86_64 --version | head -n1), -accel ${E2E_ACCEL:-tcg}" \
	"($(elapsed "$t") s)"

key=$(base_key)
base=$WORK/base/$key
if [ -f "$base/complete" ]; then
	TAP_N=$((TAP_N + 1))
	TIMINGS+=("$(printf '%-44s %7s s' "guest base: cached" 0.0)")
	echo "ok $TAP_N - guest base: cached ($key: $(cat "$base/tree-size"), kernel" \
		"$(cat "$base/kernel-version"))"
else
	for old in "$WORK"/base/*; do [ "$old" = "$base" ] || safe_rm "$old"; done
	phase "guest base: built from Debian packages ($key)" base "$E2E_DIR/mkbase.sh" "$base"
	echo "# guest base: $(cat "$base/tree-size") tree, kernel $(cat "$base/kernel-version")"
fi
# What the chosen scenarios need: s5 the full bundle (3-4 minutes to make) and the provisioned
# disk; s2 and s4 start from s1-uboot's snapshot, s3 from s1-syslinux's.
wants() { # wants SCENARIO...: true if one of them runs
	local s
	[ -z "${E2E_SCENARIOS:-}" ] && return 0
	for s in "$@"; do
		case " $E2E_SCENARIOS " in *" $s "*) return 0 ;; esac
	done
	return 1
}
disks=()
wants s1-uboot s2-refused s4-two-sticks && disks+=(uboot)
wants s1-syslinux s3-power-cut s6-pending && disks+=(syslinux)
wants s5-provisioned && disks+=(provisioned-syslinux)
E2E_FULL_BUNDLE=0
wants s5-provisioned && E2E_FULL_BUNDLE=1
export E2E_FULL_BUNDLE
phase "trees v1, v2 and the bundles" trees "$E2E_DIR/mktrees.sh" "$base/repo" "$RUN"
phase "disks: ${disks[*]}" disks \
	"$E2E_DIR/mkdisk.sh" "$RUN/repo" "$(cat "$RUN/v1.commit")" "$RUN/disks" "${disks[@]}"

t=$(date +%s.%N)
# shellcheck disable=SC2086
python3 "$E2E_DIR/scenarios.py" "$RUN" --tap-start $((TAP_N + 1)) --state "$RUN/state.json" \
	${E2E_SCENARIOS:-} || true
read -r TAP_N TAP_FAILED < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["next"] - 1, s["failed"])' "$RUN/state.json" 2>/dev/null || echo "$TAP_N 1")
# Each scenario's total, then all of them.
while IFS= read -r line; do TIMINGS+=("$line"); done < <(python3 -c '
import json, sys
for name, what, dt in json.load(open(sys.argv[1]))["timings"]:
	if what == "total":
		print(f"  {name:<42} {dt:7.1f} s")' "$RUN/state.json" || true)
TIMINGS+=("$(printf '%-44s %7s s' "scenarios" "$(elapsed "$t")")")
echo "1..$TAP_N"
echo "# timings:"
printf '#   %s\n' "${TIMINGS[@]}"
echo "#   $(printf '%-44s %7s s' total "$(elapsed "$T_START")")"
[ "$TAP_FAILED" -eq 0 ]
