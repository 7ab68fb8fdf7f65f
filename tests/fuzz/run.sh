#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs the libFuzzer harnesses built by `make fuzz-build` (tests/fuzz/README.md).
#   run.sh smoke RUNS [NAME,...]        regression inputs and seeds, then RUNS inputs
#                                       from a fixed seed: the same run every time
#   run.sh campaign SECONDS [NAME,...]  regression inputs, then SECONDS of fuzzing each
#                                       (niced), one at a time, keeping what it finds
# Env: FUZZ_BIN_DIR (build/fuzz), FUZZ_WORK_DIR ($FUZZ_BIN_DIR/work), FUZZ_ARGS (more
# libFuzzer flags for the fuzzing itself, e.g. -use_value_profile=1). A crash leaves its
# input under $FUZZ_WORK_DIR/crashes/NAME/; once fixed, it goes in tests/fuzz/regress/NAME/.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_BIN_DIR:-build/fuzz}
work=${FUZZ_WORK_DIR:-$bin/work}
mode=${1:-}
amount=${2:-}
only=${3:-}

case "$mode:$amount" in
smoke:[0-9]* | campaign:[0-9]*) ;;
*)
	echo "usage: $0 smoke RUNS | campaign SECONDS [NAME,...]" >&2
	exit 2
	;;
esac

# Longest input per harness: documents get room to nest, strings a little past their limits.
max_len() {
	case $1 in
	quantity | duration) echo 512 ;;
	listen | url) echo 1024 ;;
	cidr | config | replay) echo 16384 ;;
	podpath | ohpath) echo 8192 ;;
	*) echo 65536 ;;
	esac
}

dict_of() {
	case $1 in
	kubelet | top) echo "$here/dict/json.dict" ;;
	config) echo "$here/dict/config.dict" ;;
	pbjson | decode) echo "$here/dict/protobuf.dict" ;;
	*) echo "" ;;
	esac
}

# The one number of the final stats a summary needs.
stat_of() {
	sed -n "s/^stat::$2: *//p" "$1" | tail -1
}

names=$(for f in "$here"/fuzz_*.c; do f=${f##*/fuzz_}; echo "${f%.c}"; done)
[ -n "$only" ] && names=$(echo "$only" | tr ',' ' ')
mkdir -p "$work"
summary=$work/$mode.tsv
printf 'harness\tseconds\texecutions\texec_per_s\tcorpus\tresult\n' >"$summary"
failed=""

for n in $names; do
	exe=$bin/fuzz_$n
	log=$work/$n.$mode.log
	if [ ! -x "$exe" ]; then
		echo "fuzz: $exe is missing; run make fuzz-build" >&2
		exit 2
	fi
	mkdir -p "$work/crashes/$n"
	set -- -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len="$(max_len "$n")" \
		-print_final_stats=1 -artifact_prefix="$work/crashes/$n/"
	d=$(dict_of "$n")
	[ -n "$d" ] && set -- "$@" -dict="$d"

	# every input that once crashed, each run once
	regress=$(find "$here/regress/$n" -type f 2>/dev/null | sort)
	if [ -n "$regress" ]; then
		# shellcheck disable=SC2086 # file names from the tree, no spaces
		if ! "$exe" "$@" $regress >"$log" 2>&1; then
			echo "fuzz: $n: a regression input fails again; see $log" >&2
			tail -n 30 "$log" >&2
			failed="$failed $n"
			continue
		fi
	fi

	start=$(date +%s)
	touch "$log.start"
	if [ "$mode" = smoke ]; then
		corpus=$(mktemp -d "$work/smoke-$n.XXXXXX")
		"$exe" "$@" -seed=1 -runs="$amount" "$corpus" "$here/corpus/$n" >>"$log" 2>&1
		rc=$?
	else
		corpus=$work/corpus/$n
		mkdir -p "$corpus"
		# shellcheck disable=SC2086 # FUZZ_ARGS: flags, split on spaces
		nice -n 10 "$exe" "$@" ${FUZZ_ARGS:-} -max_total_time="$amount" "$corpus" \
			"$here/corpus/$n" >>"$log" 2>&1
		rc=$?
	fi
	secs=$(($(date +%s) - start))
	execs=$(stat_of "$log" number_of_executed_units)
	rate=$(stat_of "$log" average_exec_per_sec)
	units=$(find "$corpus" -type f | wc -l)
	[ "$mode" = smoke ] && rm -rf "$corpus"
	if [ $rc -ne 0 ]; then
		result="CRASH $(find "$work/crashes/$n" -type f -newer "$log.start" -printf '%f ')"
		failed="$failed $n"
		echo "fuzz: $n: found a crash; see $log" >&2
		grep -A 12 -m 1 'ERROR:\|runtime error\|fuzz: .*does not hold' "$log" >&2
	else
		result=ok
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$secs" "${execs:-0}" "${rate:-0}" "$units" \
		"$result" >>"$summary"
	echo "fuzz: $n: ${execs:-0} inputs in ${secs}s: $result"
done

column -t -s "$(printf '\t')" "$summary"
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
