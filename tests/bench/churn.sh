#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Containers created and removed at a steady rate. A benchmark, not a test:
# it prints figures and fails only when it cannot measure.
#
# The agent is started (--interval 1s --cgroup-mode v2); its CPU is read over
# BASE seconds with no fake pod (the baseline), then build/bench/pod_farm
# makes PODS pods and, for SECS seconds, RATE containers a second in turn
# across them, each with one process that burns BURN ms of CPU and sleeps,
# each removed LIFE ms after its birth. The agent's CPU over the churn is
# printed as % of a core, as a ratio to the baseline and, when SCALE_OUT
# holds pod_scale.sh's figures of the same run, to the 1,000-pod figure.
#
# Exactness: the farm reads each container's cpu.stat usage_usec after its
# process is reaped and right before its rmdir; once the agent has walked the
# hierarchy and retired the removed containers, each pod's
# podmeter_pod_cpu_seconds_total (retired + live) is compared with the sum of
# those reads, and with the pod cgroup's own cpu.stat.
#
# Knobs: RATE (50), SECS (60), LIFE (1000), BURN (2), PODS (10), BASE (10). Root.
set -u
. "$(dirname "$0")/farm_lib.sh"

RATE=${RATE:-50}
SECS=${SECS:-60}
LIFE=${LIFE:-1000}
BURN=${BURN:-2}
PODS=${PODS:-10}
BASE=${BASE:-10}
farm_setup || exit 1
echo "bench: churn: $RATE containers/s for ${SECS}s in $PODS pods, each living ${LIFE} ms," \
	"burning $BURN ms; $(nproc) CPUs"

start_agent --cgroup-mode v2 || exit 1
wait_walks 2 || exit 1
agent_window "$BASE" || exit 1
base=$PCT
echo "bench: churn: baseline, no fake pod: $base% of a core over ${BASE}s, RSS $RSS_MIB MiB"

scrape "$WORK/m0" || { echo "bench: churn: scrape failed"; exit 1; }
oh0=$(metric_value "$WORK/m0" podmeter_node_cpu_seconds_total 'scope="overhead"')
t0=$(cpu_ticks "$AGENT_PID")
s0=$(date +%s.%N)
farm_start churn "$WORK/farm.out" "$PODS" "$RATE" "$SECS" "$LIFE" "$BURN"
farm_wait '^ready' $((SECS + 120)) || exit 1
t1=$(cpu_ticks "$AGENT_PID")
s1=$(date +%s.%N)
RSS_MIB=$(awk -v k="$(status_kb "$AGENT_PID" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')
churn=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v a="$s0" -v b="$s1" 'BEGIN { printf "%.3f", d / hz / (b - a) * 100 }')
grep '^churn' "$WORK/farm.out" | sed 's/^/bench: churn: farm: /'

# every removed container retired: a walk, then two reads seeing it dead
wait_walks 2 || exit 1
sleep 3
scrape "$WORK/m" || { echo "bench: churn: scrape failed"; exit 1; }
awk -v pre="$PREFIX-" -v v2="${QOS_DIRS[0]}" -v m="$WORK/m" '
	BEGIN { while ((getline l < m) > 0) if (index(l, "podmeter_pod_cpu_seconds_total{") == 1 &&
		match(l, /uid="[^"]*"/)) agent[substr(l, RSTART + 5, RLENGTH - 6)] = l }
	$1 == "pod" {
		a = agent[$2]; sub(/.* /, "", a)
		f = v2 "/pod" $2 "/cpu.stat"; k = -1
		while ((getline l < f) > 0) { split(l, w, " "); if (w[1] == "usage_usec") k = w[2] }
		close(f)
		ta += a; tr += $3 / 1e6; tk += k / 1e6; n++; nc += $4
		d = $3 > 0 ? (a - $3 / 1e6) / ($3 / 1e6) : 0; if (d < 0) d = -d; if (d > worst) worst = d
	}
	END {
		printf "bench: churn: %d containers in %d pods: podmeter %.6f s, kernel before each rmdir %.6f s" \
			" (ratio %.5f), pods'\'' cpu.stat %.6f s (ratio %.5f); worst pod off by %.3f%%\n",
			nc, n, ta, tr, (tr > 0 ? ta / tr : 0), tk, (tk > 0 ? ta / tk : 0), worst * 100 }' "$WORK/farm.out"
echo "bench: churn: agent $churn% of a core during the churn (x$(awk -v a="$churn" -v b="$base" \
	'BEGIN { print (b > 0 ? sprintf("%.2f", a / b) : "n/a") }') the baseline), RSS $RSS_MIB MiB," \
	"tracked cgroups now $(metric_value "$WORK/m" podmeter_agent_cgroups_tracked ""), removed" \
	"$(metric_value "$WORK/m" podmeter_agent_cgroups_removed_total "")"
echo "bench: churn: cpu_stats insert failures $(metric_value "$WORK/m" podmeter_agent_map_insert_failures_total \
	'map="cpu_stats"'), births lost $(metric_value "$WORK/m" podmeter_agent_map_insert_failures_total \
	'map="cg_born"'), scheduler resyncs $(metric_value "$WORK/m" podmeter_agent_sched_resyncs_total ""),"\
	"node overhead CPU $(awk -v a="$oh0" -v b="$(metric_value "$WORK/m" podmeter_node_cpu_seconds_total \
	'scope="overhead"')" 'BEGIN { printf "%+.3f", b - a }') s over the churn"
if [ -n "${SCALE_OUT:-}" ] && [ -f "$SCALE_OUT" ]; then
	awk -v a="$churn" '$1 == 1000 { printf "bench: churn: x%.2f the 1000-pod figure (%s%% of a core at first", ($2 > 0 ? a / $2 : 0), $2
		if ($4 > 0) printf "; x%.2f its steady %s%%", a / $4, $4
		print "); goal <= 1" }' "$SCALE_OUT"
fi
farm_stop || { echo "bench: pod_farm failed:"; tail -5 "$WORK/farm.out"; exit 1; }
stop_agent
