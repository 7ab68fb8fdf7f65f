#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Reports v2, end to end: agent -> `podmeter receive`, 2 s windows, a
# stand-in kubelet naming one pod with three containers and labels.
#   - "app" spins under a CPU limit of 20% (v1 cpu controller, CFS quota):
#     its throttling, summed over the reports, is the kernel's cpu.stat, and
#     so is podmeter_pod_cpu_throttled_*; its CPU distribution (a sample a
#     tick, weighed by the tick's ms) adds up to the CPU time the kernel
#     counted for it;
#   - "hog" runs over its 64 MiB memory limit: its OOM kills are the memory
#     cgroup's, and no other container gets them;
#   - "cache" holds 48 MiB: its working-set peak is the memory cgroup's
#     usage less inactive file pages;
#   - the pod's labels for the keys --report-labels names, a key it lacks
#     left out.
set -u
. "$(dirname "$0")/lib.sh"

PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
CPU=$(awk '$9 == "cgroup" && $NF ~ /(^|,)cpu(,|$)/ { print $5; exit }' /proc/self/mountinfo)
if [ -z "$CPU" ] && [ -n "$V2" ] && grep -qw cpu "$V2/cgroup.controllers" 2>/dev/null; then
	CPU=$V2
fi
[ -n "$V2" ] && [ -n "$MEM" ] && [ -n "$CPU" ] ||
	{ echo "  skip: needs cgroup v2 ids, a memory and a cpu controller"; exit 0; }
echo "reports v2: ids from $V2, memory at $MEM, cpu at $CPU"
RPORT=${RPORT:-19493}
KPORT=${KPORT:-19494}
RECV="$WORK/recv"

uid=$(newuid)
pod="kubepods/burstable/pod$uid"
id_app=$(printf '%064x' $((RANDOM + 1)))
id_hog=$(printf '%064x' $((RANDOM + 40000)))
id_cache=$(printf '%064x' $((RANDOM + 80000)))
python3 - "$uid" "$id_app" "$id_hog" "$id_cache" >"$WORK/pods.json" <<'PY'
import json, sys
uid, app, hog, cache = sys.argv[1:5]
ctr = lambda n: {"name": n, "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}}}
st = lambda n, i: {"name": n, "containerID": "containerd://" + i}
print(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [{
    "metadata": {"name": "web-5d9c8f7b6-a1", "namespace": "shop", "uid": uid,
                 "labels": {"team": "payments", "app.kubernetes.io/name": "web",
                            "pod-template-hash": "5d9c8f7b6"},
                 "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d9c8f7b6",
                                      "controller": True}]},
    "spec": {"nodeName": "node-a", "containers": [ctr("app"), ctr("hog"), ctr("cache")]},
    "status": {"phase": "Running", "qosClass": "Burstable",
               "containerStatuses": [st("app", app), st("hog", hog), st("cache", cache)]}}]}))
PY
echo ok >"$WORK/mode"
python3 "$(dirname "$0")/fake_kubelet.py" --port "$KPORT" --podlist "$WORK/pods.json" \
	--mode-file "$WORK/mode" --lifetime 120 &
STARTED_PIDS+=("$!")
"$PODMETER" receive --listen "127.0.0.1:$RPORT" --out "$RECV" >"$WORK/recv.log" 2>&1 &
STARTED_PIDS+=("$!")
sleep 0.7
start_agent --cgroup-mode v2 --report-window 2s --node-name node-a --cluster lab \
	--reconciler "http://127.0.0.1:$RPORT/v1/reports" --kubelet "http://127.0.0.1:$KPORT/pods" \
	--kubelet-interval 1s --report-labels "team,app.kubernetes.io/name,absent" ||
	{ fail "agent start"; finish; exit; }

# the containers, born after the agent: all they do is in the reports
mk() { mkcg "$1/$pod/$2" || { fail "create $1/$pod/$2"; finish; exit; }; }
mk "$V2" "$id_app"; mk "$V2" "$id_hog"; mk "$V2" "$id_cache"
[ "$MEM" = "$V2" ] || { mk "$MEM" "$id_hog"; mk "$MEM" "$id_cache"; }
[ "$CPU" = "$V2" ] || mk "$CPU" "$id_app"
if [ -f "$CPU/$pod/$id_app/cpu.max" ]; then
	echo "20000 100000" >"$CPU/$pod/$id_app/cpu.max"
else
	echo 100000 >"$CPU/$pod/$id_app/cpu.cfs_period_us"
	echo 20000 >"$CPU/$pod/$id_app/cpu.cfs_quota_us"
fi
if [ -f "$MEM/$pod/$id_hog/memory.max" ]; then
	echo $((64 << 20)) >"$MEM/$pod/$id_hog/memory.max"
	echo 0 >"$MEM/$pod/$id_hog/memory.swap.max" 2>/dev/null
else
	echo $((64 << 20)) >"$MEM/$pod/$id_hog/memory.limit_in_bytes"
	echo $((64 << 20)) >"$MEM/$pod/$id_hog/memory.memsw.limit_in_bytes" 2>/dev/null
fi
dirs() {	# the container's directory in each distinct hierarchy given
	local seen=" " h
	for h in "$@"; do
		case $seen in *" $h "*) continue ;; esac
		seen="$seen$h "
		echo "$h/$pod/$CID"
	done
}
CID=$id_app
# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(dirs "$V2" "$CPU") -- timeout 6 sh -c 'while :; do :; done'
spin=$LAST_PID
CID=$id_cache
# shellcheck disable=SC2046
run_in_cgs $(dirs "$V2" "$MEM") -- sh -c "exec $PM_ALLOC 48 > $WORK/cache.out"
CID=$id_hog
# shellcheck disable=SC2046
run_in_cgs $(dirs "$V2" "$MEM") -- "$PM_ALLOC" 256
while kill -0 "$spin" 2>/dev/null; do sleep 0.5; done
# throttling is read at each tree walk (every 5 ticks): wait for the one after the load
want=$(awk '$1 == "nr_throttled" { print $2 }' "$CPU/$pod/$id_app/cpu.stat")
for _ in $(seq 1 40); do
	scrape "$WORK/m"
	[ "$(metric_value "$WORK/m" podmeter_pod_cpu_throttled_periods_total "uid=\"$uid\"")" = "$want" ] &&
		break
	sleep 0.5
done
stop_agent || fail "agent exit status on SIGTERM"
sleep 1

thr_file=$CPU/$pod/$id_app/cpu.stat
python3 - "$RECV/reports.jsonl" "$uid" "$thr_file" "$(kernel_cpu_ns "$V2/$pod/$id_app")" \
	"$(kernel_oom_kills "$MEM/$pod/$id_hog")" "$(kernel_mem_usage "$MEM/$pod/$id_cache")" \
	"$MEM/$pod/$id_cache/memory.stat" "$WORK/m" >"$WORK/verdicts" 2>&1 <<'PY'
import json, math, sys
recv, uid, thr_file, app_cpu_ns, hog_ooms, cache_usage, cache_stat, metrics = sys.argv[1:9]
reports = [json.loads(l) for l in open(recv)]
pods = [p for r in reports for p in r["pods"] if p["uid"] == uid]
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + what)
def ctrs(name):
    return [c for p in pods for c in p["containers"] if c["name"] == name]
kern = dict(l.split() for l in open(thr_file))
k_periods = int(kern["nr_throttled"])
k_usec = int(kern["throttled_usec"]) if "throttled_usec" in kern else int(kern["throttled_time"]) // 1000
app = ctrs("app")
periods = sum(c["cpu_throttled_periods"] for c in app)
usec = sum(c["cpu_throttled_usec"] for c in app)
check(k_periods > 10 and periods == k_periods,
      "app: throttled periods over %d reports %d, cpu.stat nr_throttled %d" % (len(reports), periods, k_periods))
check(k_usec > 1e6 and abs(usec - k_usec) <= 0.01 * k_usec,
      "app: throttled %.3f s over the reports, cpu.stat %.3f s (1%%)" % (usec / 1e6, k_usec / 1e6))
m = {}
for l in open(metrics):
    if l.startswith("podmeter_pod_cpu_throttled_") and 'uid="%s"' % uid in l:
        m[l.split("{")[0]] = float(l.split()[-1])
check(m.get("podmeter_pod_cpu_throttled_periods_total") == k_periods,
      "podmeter_pod_cpu_throttled_periods_total %s, cpu.stat %d" % (m.get("podmeter_pod_cpu_throttled_periods_total"), k_periods))
ms = m.get("podmeter_pod_cpu_throttled_seconds_total", -1)
check(abs(ms - k_usec / 1e6) <= 0.01 * k_usec / 1e6,
      "podmeter_pod_cpu_throttled_seconds_total %.3f, cpu.stat %.3f (1%%)" % (ms, k_usec / 1e6))
# the distribution: a sample a tick, CPU seconds over the tick's seconds, weighed by its ms
gamma = 1.02 / 0.98
samples = zeros = 0
cpu_s = 0.0
hists = [c["cpu_cores"] for c in app if c["cpu_cores"]]
check(hists and all(h["relative_accuracy"] == 0.02 and h["min_value"] == 0.001 for h in hists),
      "app: %d histograms, buckets 2%% wide from 1m" % len(hists))
for h in hists:
    zeros += h["zero_count"]
    for i, n in enumerate(h["counts"]):
        cpu_s += n / 1000 * 2 * gamma ** (h["first_key"] + i) / (gamma + 1)
        samples += n / 1000
k_cpu = int(app_cpu_ns) / 1e9
check(abs(cpu_s - k_cpu) <= 0.05 * k_cpu,
      "app: %.1f s of samples add up to %.3f CPU s, cpu.stat %.3f s (5%%)" % (samples, cpu_s, k_cpu))
check(samples + zeros / 1000 >= 6 and zeros > 0, "app: %.1f s sampled (the spinner ran 6 s), %.1f s of it idle" % (samples + zeros / 1000, zeros / 1000))
hog = sum(c["oom_kills"] for c in ctrs("hog"))
others = sum(c["oom_kills"] for c in ctrs("app") + ctrs("cache"))
check(int(hog_ooms) >= 1 and hog == int(hog_ooms) and others == 0,
      "hog: OOM kills %d, memory cgroup %s; other containers %d" % (hog, hog_ooms, others))
inactive = 0
for l in open(cache_stat):
    k, v = l.split()
    if k in ("inactive_file", "total_inactive_file"):
        inactive = int(v)
ws = int(cache_usage) - inactive
peak = max([c["memory_working_set_peak_bytes"] for c in ctrs("cache")] or [0])
check(abs(peak - ws) <= 0.1 * ws and ws > 40 << 20,
      "cache: working-set peak %.1f MiB, memory cgroup %.1f MiB (10%%)" % (peak / 2**20, ws / 2**20))
labelled = [p["labels"] for p in pods if p["namespace"] == "shop"]
check(labelled and all(l == {"team": "payments", "app.kubernetes.io/name": "web"} for l in labelled),
      "labels in %d of %d reports: %s" % (len(labelled), len(pods), labelled[-1] if labelled else None))
print("\n".join(out))
PY
take_verdicts "$WORK/verdicts"
finish
