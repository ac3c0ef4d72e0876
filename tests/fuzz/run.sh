#!/bin/bash
# run.sh BUILDDIR SECONDS TARGET...: seed each libFuzzer target from the format's test vectors
# (and the sample bundles' members), run it for SECONDS, print a summary line per target.
# A crash leaves crash-* in BUILDDIR/fuzz/artifacts/ and makes this script fail.
set -euo pipefail
build=$1
seconds=$2
shift 2
src=${OSTICK_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
vectors="$src/format-spec/vectors"
work="$build/fuzz"
mkdir -p "$work/artifacts"

seed() { # seed TARGET: fill the corpus directory from the vectors
	local target=$1 dir="$work/corpus/$1" member v
	mkdir -p "$dir"
	case $target in
	manifest) member=ostick.manifest ;;
	sigblock) member=ostick.sig ;;
	superblock) member=delta/superblock ;;
	zstd) member=zstd ;;
	*) member= ;;
	esac
	if [ "$member" = zstd ]; then # payload-size - 1 (LE u32), then a zstd part of a vector
		local size
		for v in "$vectors"/valid/*zstd*.ostick; do
			# the part's own payload-size, so that the seed reaches the decoder's success path
			size=$(tar -xOf "$v" ostick.manifest |
				sed -n '/^\[part\.0\]/,/^\[/s/^payload-size=//p')
			size=$((${size:-4097} - 1))
			{
				printf "$(printf '\\%03o' $((size & 255)) $((size >> 8 & 255)) \
					$((size >> 16 & 255)) $((size >> 24 & 255)))"
				tar -xOf "$v" delta/0
			} >"$dir/$(basename "$v").zstd"
		done
		return
	fi
	for v in "$vectors"/valid/*.ostick "$vectors"/invalid/*.ostick; do
		[ -e "$v" ] || continue
		if [ -z "$member" ]; then
			cp "$v" "$dir/$(basename "$v")"
		else
			tar -xOf "$v" "$member" > "$dir/$(basename "$v").$target" 2>/dev/null || true
		fi
	done
	find "$dir" -size 0 -delete
}

status=0
for target in "$@"; do
	seed "$target"
	log="$work/$target.log"
	# FUZZ_SEED (0: random) makes a run repeatable, as CI wants.
	if "$work/fuzz-$target" -seed="${FUZZ_SEED:-0}" -max_total_time="$seconds" -max_len=1048576 -timeout=30 \
		-artifact_prefix="$work/artifacts/$target-" -print_final_stats=1 \
		"$work/corpus/$target" >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
	fi
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo ?)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
	printf 'fuzz %-11s %-6s %s execs in %ss, %s, corpus %s files\n' "$target" "$result" \
		"$runs" "$seconds" "${cov:-cov ?}" "$(ls "$work/corpus/$target" | wc -l)"
	[ "$result" = ok ] || tail -n 40 "$log"
done
exit $status
