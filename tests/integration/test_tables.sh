#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Tables a pod can fill (README "Tables a pod can fill"). A hostile pod goes
# at each kernel table while an honest pod works, and:
#   - the honest pod's figures still match the kernel and what it did: CPU
#     against its cgroup's cpu.stat (1%), resident memory against its
#     processes' VmRSS (5%), process starts, GPU driver calls and CUDA use
#     exactly;
#   - the tables keyed by task are as large as the node's task limit
#     (kernel.pid_max, kernel.threads-max), those keyed by process with
#     their spills, so the hostile pod's 2000 processes and 2000 unreaped
#     children are all counted: its zombies against /proc, its resident
#     memory against its processes' VmRSS; still so with 200 of each moved
#     into the spills, which empty as the processes go;
#   - 3000 cgroups made inside the hostile container, a task run in each,
#     take no entries in the stats maps (which hold 16384: with none taken,
#     no number of them fills one): a container made among them is counted,
#     and the hostile pod's CPU and process starts stay whole. (N_CGROUPS=17000
#     goes past the maps' size; the agent's walk of that many cgroups then
#     takes seconds on a small machine);
#   - CUDA: 20000 allocations and 1500 threads inside a sync call, each over
#     the cgroup's share (PM_CUDA_*_PER_CGROUP): what the share refused is
#     counted (node-wide), exactly what it admitted is held;
#   - GPU ioctls from many threads at once: the honest pod's calls exact,
#     nothing refused;
#   - /healthz answers within 1 s throughout.
set -u
. "$(dirname "$0")/lib.sh"

GPU_IOCTL=${GPU_IOCTL:-build/tests/gpu_ioctl}
CUDA_DRIVER=${CUDA_DRIVER:-build/tests/fake_cuda/cuda_driver}
PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
command -v bpftool >/dev/null || { echo "  skip: no bpftool"; exit 0; }
echo "tables: cgroup v2 at $V2, a fake NVIDIA device node and a fake libcuda.so.1"

N_PROCS=2000		# hostile address spaces
N_ZOMBIES=2000		# hostile unreaped children
N_CGROUPS=${N_CGROUPS:-3000}	# hostile cgroups (17000 is more than a stats map holds)
N_ALLOCS=20000		# hostile CUDA allocations of 4 KiB
ALLOC_SHARE=16384	# PM_CUDA_ALLOCS_PER_CGROUP
N_THREADS=1500		# hostile threads inside cuCtxSynchronize at once
PENDING_SHARE=1024	# PM_CUDA_PENDING_PER_CGROUP

dev="$WORK/nvidiatest0"
mknod "$dev" c 1 7 || { fail "mknod"; finish; exit; }
uh=$(newuid)
ux=$(newuid)
podh="$V2/kubepods/burstable/pod$uh"
podx="$V2/kubepods/besteffort/pod$ux"
ctrh="$podh/$(printf '%064x' $((RANDOM + 1)))"
ctrh2="$podh/$(printf '%064x' $((RANDOM + 70000)))"
ctrx="$podx/$(printf '%064x' $((RANDOM + 140000)))"
mkcg "$ctrh" && mkcg "$ctrx" || { fail "create fake pods"; finish; exit; }
start_agent --cgroup-mode v2 --zombie-grace 1s --gpu-devices "$dev" ||
	{ fail "agent start"; finish; exit; }

# /healthz every 0.2 s for the whole test: status and seconds, one line each
( while [ ! -e "$WORK/healthz.stop" ]; do
	curl -s -m 2 -o /dev/null -w "%{http_code} %{time_total} $(date +%s.%N)\n" "$PM_URL/healthz"
	sleep 0.2
done ) >"$WORK/healthz" 2>/dev/null &
healthz=$!
STARTED_PIDS+=("$healthz")

val() { metric_value "$1" "$2" "$3"; }
zero_if_missing() { [ "$1" = missing ] && echo 0 || echo "$1"; }
pod_refusals() {	# FILE UID TABLE
	zero_if_missing "$(val "$1" podmeter_pod_table_refusals_total "uid=\"$2\",table=\"$3\"")"
}
sum_vmrss() {	# bytes of VmRSS over the processes of cgroup DIR and below
	local files
	files=$(find "$1" -name cgroup.procs -exec cat {} + | sed 's|.*|/proc/&/status|')
	[ -n "$files" ] || { echo 0; return; }
	# shellcheck disable=SC2086 # one word per file
	awk '$1 == "VmRSS:" { s += $2 } END { printf "%.0f\n", s * 1024 }' $files 2>/dev/null
}
rss_of() {	# podmeter's resident bytes of a pod: file + anon + shmem
	awk -v sel="uid=\"$2\"" 'index($0, "podmeter_pod_memory_rss_bytes{") == 1 && index($0, sel) &&
		!index($0, "kind=\"swap\"") { s += $NF } END { printf "%.0f\n", s }' "$1"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
wait_for() {	# FILE PATTERN [TENTHS]
	local _
	for _ in $(seq 1 "${3:-300}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

# The hostile pod's programs (C: a fork here costs a small process's page tables).
#   hostile procs N M        N children with 64 KiB of their own, M exited unreaped; "ready"
#   hostile cgroups DIR N K  N cgroups below DIR, a slice in each, a fork in every Kth;
#                            "made N forks=F", then on a line from stdin removes them
cat >"$WORK/hostile.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int procs(int n, int m)
{
	int i;

	for (i = 0; i < n; i++) {
		if (fork() == 0) {
			char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p != MAP_FAILED)
				memset(p, 1, 65536);
			pause();
			_exit(0);
		}
	}
	for (i = 0; i < m; i++)
		if (fork() == 0)
			_exit(0);
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}

static int join(const char *dir)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%d", (int)getpid());
	return fclose(f);
}

static int cgroups(const char *base, int n, int every)
{
	struct timespec nap = { 0, 20000 };
	char dir[4096], line[16];
	int i, forks = 0;
	pid_t pid;

	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/h%d", base, i);
		if (mkdir(dir, 0755) || join(dir))
			return 1;
		nanosleep(&nap, NULL);	/* out and in again: the next slice runs here */
		if (i % every)
			continue;
		pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		forks++;
	}
	printf("made %d forks=%d\n", n, forks);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || join(base))
		return 1;
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/h%d", base, i);
		rmdir(dir);
	}
	printf("removed\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "procs"))
		return procs(atoi(argv[2]), atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "cgroups"))
		return cgroups(argv[2], atoi(argv[3]), atoi(argv[4]));
	return 2;
}
EOF
${CC:-cc} -O2 -Wall -o "$WORK/hostile" "$WORK/hostile.c" || { fail "build the hostile pod's program"; finish; exit; }

# ---- 1. the tables keyed by task follow the node's limits ----
pid_max=$(cat /proc/sys/kernel/pid_max)
threads_max=$(cat /proc/sys/kernel/threads-max)
limit=$((pid_max < threads_max ? pid_max : threads_max))
map_line() {	# the agent's map NAME: "max_entries flags memlock", or its id with "id"
	local id
	id=$(agent_map_id "$1")
	[ -n "$id" ] || return 0
	[ "${2:-}" = id ] && { echo "$id"; return 0; }
	bpftool map show id "$id" 2>/dev/null | awk '
		NR == 1 { for (i = 1; i < NF; i++) if ($i == "flags") flags = $(i + 1) }
		{ for (i = 1; i < NF; i++) { if ($i == "max_entries") n = $(i + 1);
			if ($i == "memlock") mem = $(i + 1) } }
		END { print n, flags, mem }'
}
read -r n flags mem <<<"$(map_line gpu_inflight)"
if [ "${n:-}" = "$limit" ] && [ $((flags & 1)) = 1 ]; then
	pass "gpu_inflight holds $n entries, allocated as used (memlock $mem): kernel.pid_max $pid_max, kernel.threads-max $threads_max"
else
	fail "gpu_inflight: ${n:-?} entries, flags ${flags:-?}; want $limit (pid_max $pid_max, threads-max $threads_max), BPF_F_NO_PREALLOC"
fi
# the tables keyed by process, each with its spill (bpf/tables.bpf.h): the
# first holds up to 65536 (PM_MEM_MAX_MMS, PM_PROC_MAX_EXITED), the spill the
# rest of the limit (4096 when there is no rest)
first=$((limit < 65536 ? limit : 65536))
rest=$((limit > first ? limit - first : 4096))
for pair in "mm_state mm_spill" "exited exited_spill"; do
	read -r t s <<<"$pair"
	read -r n flags mem <<<"$(map_line "$t")"
	read -r n2 flags2 mem2 <<<"$(map_line "$s")"
	if [ "${n:-}" = "$first" ] && [ "${n2:-}" = "$rest" ] && [ $((flags & flags2 & 1)) = 1 ]; then
		pass "$t holds $n entries and $s $n2, allocated as used (memlock $mem, $mem2): kernel.pid_max $pid_max, kernel.threads-max $threads_max"
	else
		fail "$t: ${n:-?} entries, flags ${flags:-?}; $s: ${n2:-?}, flags ${flags2:-?}; want $first and $rest (pid_max $pid_max, threads-max $threads_max), BPF_F_NO_PREALLOC"
	fi
done

# ---- 2. processes, address spaces, exited tasks ----
log "$(date +%T) processes, address spaces, exited tasks"
# the honest pod: 64 MiB resident, a bounded CPU load, 200 short processes
run_in_cg "$ctrh" sh -c "exec $PM_ALLOC 64 > $WORK/alloc.out"
wait_for "$WORK/alloc.out" touched || fail "pm_alloc did not touch its memory"
run_in_cg "$ctrh" timeout 40 sh -c 'while :; do :; done'
burner=$LAST_PID
sleep 2	# its fork done
scrape "$WORK/h0"
run_in_cg "$ctrx" sh -c "exec $WORK/hostile procs $N_PROCS $N_ZOMBIES > $WORK/procs.out"
hostile=$LAST_PID
run_in_cg "$ctrh" sh -c 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i + 1)); done; exec sleep 600'
spawner=$LAST_PID
wait_for "$WORK/procs.out" ready 600 || fail "hostile pod did not make its processes"
for _ in $(seq 1 100); do [ "$(cat "/proc/$spawner/comm" 2>/dev/null)" = sleep ] && break; sleep 0.1; done
sleep 3	# past the zombie grace, and a walk
scrape "$WORK/m2"
kz=$(cat /proc/[0-9]*/stat 2>/dev/null |
	awk -v p="$hostile" '{ sub(/.*\) /, ""); if ($1 == "Z" && $2 == p) n++ } END { print n + 0 }')
z=$(val "$WORK/m2" podmeter_pod_zombie_processes "uid=\"$ux\"")
[ "$kz" = "$N_ZOMBIES" ] && [ "$z" = "$kz" ] &&
	pass "hostile zombies: podmeter $z, /proc $kz in state Z under its parent" ||
	fail "hostile zombies: podmeter $z, /proc $kz (made $N_ZOMBIES)"
# every hostile process has its address space in mm_state or its spill (the kernel's tables, by tgid)
mm_in() {	# processes listed in file $1: "how many, how many with an entry"
	for t in mm_state mm_spill; do bpftool -j map dump id "$(map_line $t id)" 2>/dev/null; echo; done |
		python3 -c '
import json, sys
have = set()
for line in sys.stdin.read().split("\n"):
	if line.strip():
		have |= {e.get("formatted", e)["value"]["tgid"] for e in json.loads(line)}
procs = [int(l) for l in open(sys.argv[1])]
print(len(procs), sum(p in have for p in procs))' "$1"
}
mm_in "$ctrx/cgroup.procs" >"$WORK/mms"
read -r np nin <"$WORK/mms"
[ "$np" -gt "$N_PROCS" ] && [ "$nin" = "$np" ] &&
	pass "hostile address spaces: all $nin of its $np processes have their entry in mm_state" ||
	fail "hostile address spaces: $nin of its $np processes in mm_state"
# resident memory: the kernel's per-CPU counter batches (percpu_counter_batch pages a CPU,
# folded in later) may leave each small process that much short of its VmRSS
m=$(rss_of "$WORK/m2" "$ux")
k=$(sum_vmrss "$podx")
slack=$(awk -v n="$np" -v c="$(nproc)" 'BEGIN { b = 2 * c > 32 ? 2 * c : 32; print n * c * b * 4096 }')
awk -v m="$m" -v k="$k" -v s="$slack" 'BEGIN { exit !(m <= k * 1.05 && m >= k * 0.95 - s) }' &&
	pass "hostile rss over $np address spaces: podmeter $(mib "$m"), VmRSS summed $(mib "$k") (counter batches: $(mib "$slack"))" ||
	fail "hostile rss: podmeter $(mib "$m"), VmRSS summed $(mib "$k") (5%, counter batches $(mib "$slack"))"
m=$(rss_of "$WORK/m2" "$uh")
k=$(sum_vmrss "$podh")
near "$m" "$k" 0.05 && pass "honest rss: podmeter $(mib "$m"), VmRSS summed $(mib "$k")" ||
	fail "honest rss: podmeter $(mib "$m"), VmRSS summed $(mib "$k") (5%)"
st=$(awk -v a="$(val "$WORK/h0" podmeter_pod_process_starts_total "uid=\"$uh\"")" \
	-v b="$(val "$WORK/m2" podmeter_pod_process_starts_total "uid=\"$uh\"")" 'BEGIN { print b - a }')
[ "$st" = 200 ] && pass "honest process starts: podmeter $st, the shell forked 200" ||
	fail "honest process starts: podmeter $st, the shell forked 200"
for t in mm_state exited; do
	r="$(pod_refusals "$WORK/m2" "$ux" "$t") $(pod_refusals "$WORK/m2" "$uh" "$t")"
	f=$(val "$WORK/m2" podmeter_agent_map_insert_failures_total "map=\"$t\"")
	[ "$r" = "0 0" ] && [ "$f" = 0 ] && pass "$t: nothing refused (hostile, honest: $r; insert failures $f)" ||
		fail "$t: refused hostile, honest: $r; insert failures $f"
done
# the spills at work: 200 hostile processes' entries and 200 of its zombies'
# moved by hand into the spills, and the spills' counters raised, as the
# programs do when a first table is full (65536 entries: more processes than
# this machine makes in a test; a key leaving mm_state goes in its changed
# set, mm_changed, as a program's delete puts it, and counted in
# mm_changed_counts): still counted, and gone
# from the spills once the processes and the zombies are
spill_batch() {	# FIRST SPILL N FIELD FILE [CHANGED]: bpftool batch lines moving N entries whose FIELD is in FILE
	bpftool -j map dump id "$(map_line "$1" id)" 2>/dev/null | python3 -c '
import json, sys
first, spill, n, field, want = sys.argv[1:6]
changed = sys.argv[6] if len(sys.argv) > 6 else None
want = {int(l) for l in open(want) if l.strip()}
moved = 0
seen = set()
for e in json.load(sys.stdin):
	if moved == int(n):
		break
	k = " ".join(b[2:] for b in e["key"])
	# a dump walks the keys one after another: when the key it stands on is
	# deleted meanwhile (any process on the node exiting), the kernel starts
	# it again from the first, and keys come twice
	if k in seen or e["formatted"]["value"][field] not in want:
		continue
	seen.add(k)
	print("map update id %s key hex %s value hex %s" % (spill, k, " ".join(b[2:] for b in e["value"])))
	print("map delete id %s key hex %s" % (first, k))
	if changed:
		print("map update id %s key hex %s value hex 00 00 00 00 00 00 00 00" % (changed, k))
	moved += 1' "$(map_line "$1" id)" "$(map_line "$2" id)" "$3" "$4" "$5" ${6:+"$(map_line "$6" id)"}
}
in_map() {	# distinct keys (a dump may give a key twice, above)
	bpftool -j map dump id "$(map_line "$1" id)" 2>/dev/null |
		python3 -c 'import json, sys; print(len({tuple(e["key"]) for e in json.load(sys.stdin)}))'
}
echo "$hostile" >"$WORK/hostile.pid"
{
	spill_batch mm_state mm_spill 200 tgid "$ctrx/cgroup.procs" mm_changed
	# ... and counts its puts, after the keys (the name cut to the kernel's 15 characters)
	echo "map update id $(map_line mm_changed_coun id) key 1 0 0 0 value 0 0 0 1 0 0 0 0"
	spill_batch exited exited_spill 200 ppid "$WORK/hostile.pid"
	echo "map update id $(map_line mm_spills id) key 0 0 0 0 value 0 0 1 0 0 0 0 0"
	echo "map update id $(map_line exited_spills id) key 0 0 0 0 value 0 0 1 0 0 0 0 0"
} >"$WORK/spill.batch"
bpftool batch file "$WORK/spill.batch" >"$WORK/spill.out" 2>&1 || fail "bpftool batch: $(tail -1 "$WORK/spill.out")"
sleep 3	# two reads
scrape "$WORK/m3"
ms=$(in_map mm_spill)
es=$(in_map exited_spill)
z=$(val "$WORK/m3" podmeter_pod_zombie_processes "uid=\"$ux\"")
[ "$ms" = 200 ] && [ "$es" = 200 ] && [ "$z" = "$kz" ] &&
	pass "spilled: 200 zombies in exited_spill, podmeter $z, /proc $kz" ||
	fail "spilled: mm_spill $ms, exited_spill $es entries (200 moved); zombies podmeter $z, /proc $kz"
mm_in "$ctrx/cgroup.procs" >"$WORK/mms"
read -r np nin <"$WORK/mms"
m0=$(rss_of "$WORK/m2" "$ux")
m=$(rss_of "$WORK/m3" "$ux")
k=$(sum_vmrss "$podx")
# the moved processes' own VmRSS: the pod's figure may not move by a tenth of it
km=$(bpftool -j map dump id "$(map_line mm_spill id)" 2>/dev/null | python3 -c '
import json, sys
kb = 0
for e in json.load(sys.stdin):
	try:
		kb += int([l.split()[1] for l in open("/proc/%d/status" % e["formatted"]["value"]["tgid"])
			   if l.startswith("VmRSS:")][0])
	except (OSError, IndexError):
		pass
print(kb * 1024)')
[ "$nin" = "$np" ] && awk -v m="$m" -v m0="$m0" -v km="$km" -v k="$k" -v s="$slack" \
	'BEGIN { d = m - m0; if (d < 0) d = -d; exit !(km > 0 && d < km / 10 && m <= k * 1.05 && m >= k * 0.95 - s) }' &&
	pass "spilled: 200 address spaces ($(mib "$km") VmRSS) in mm_spill, hostile rss podmeter $(mib "$m0") -> $(mib "$m"), VmRSS summed $(mib "$k")" ||
	fail "spilled: $nin of $np processes with an entry; hostile rss podmeter $(mib "$m0") -> $(mib "$m") (the moved: $(mib "$km") VmRSS), VmRSS summed $(mib "$k")"
kill -KILL "$hostile"
for _ in $(seq 1 100); do kill -0 "$hostile" 2>/dev/null || break; sleep 0.1; done
# shellcheck disable=SC2046 # its children, orphaned
kill -KILL $(cat "$ctrx/cgroup.procs") 2>/dev/null
for _ in $(seq 1 60); do	# 2000 orphaned zombies take init a while to reap
	ms=$(in_map mm_spill)
	es=$(in_map exited_spill)
	[ "$ms$es" = 00 ] && break
	sleep 0.5
done
[ "$ms$es" = 00 ] && pass "spills emptied once the processes exited and the zombies were reaped" ||
	fail "spills after the hostile pod's end: mm_spill $ms, exited_spill $es entries"

# ---- 3. cgroups inside the hostile container ----
log "$(date +%T) cgroups inside the hostile container"
mkfifo "$WORK/cg_go"
exec 8<>"$WORK/cg_go"
scrape "$WORK/c0"
run_in_cg "$ctrx" sh -c "exec $WORK/hostile cgroups $ctrx $N_CGROUPS 50 <$WORK/cg_go >$WORK/cgroups.out"
cgroups_pid=$LAST_PID
wait_for "$WORK/cgroups.out" made 1200 || fail "hostile pod did not make its cgroups"
made=$(find "$ctrx" -mindepth 1 -type d | wc -l)
log "hostile container holds $made cgroups"
# a container made now, with the hostile cgroups all there
mkcg "$ctrh2" || fail "create a second honest container"
run_in_cg "$ctrh2" timeout 3 sh -c 'while :; do :; done'
late=$LAST_PID
while kill -0 "$late" 2>/dev/null; do sleep 0.2; done
sleep 2
scrape "$WORK/c1"
tracked=$(val "$WORK/c1" podmeter_agent_cgroups_tracked "")
[ "$tracked" -lt "$made" ] 2>/dev/null &&
	pass "the hostile pod's $made cgroups took no entries: cpu_stats holds $tracked" ||
	fail "cpu_stats holds $tracked entries with $made hostile cgroups"
echo go >&8
wait_for "$WORK/cgroups.out" removed 1200 || fail "hostile pod did not remove its cgroups"
forks=$(sed -n 's/.*forks=\([0-9]*\).*/\1/p' "$WORK/cgroups.out")
while kill -0 "$cgroups_pid" 2>/dev/null; do sleep 0.2; done
exec 8>&-
sleep 2
scrape "$WORK/c2"
st=$(awk -v a="$(val "$WORK/c0" podmeter_pod_process_starts_total "uid=\"$ux\"")" \
	-v b="$(val "$WORK/c2" podmeter_pod_process_starts_total "uid=\"$ux\"")" 'BEGIN { print b - a }')
[ "$st" = "$forks" ] && pass "hostile process starts in its cgroups: podmeter $st, it forked $forks" ||
	fail "hostile process starts in its cgroups: podmeter $st, it forked $forks"
for t in cpu_stats mem_events proc_stats; do
	f=$(val "$WORK/c2" podmeter_agent_map_insert_failures_total "map=\"$t\"")
	[ "$f" = 0 ] && pass "$t: no insert failed" || fail "$t: $f inserts failed"
done
k=$(kernel_cpu_ns "$ctrh2")
kd=$(awk -v k="$k" 'BEGIN { printf "%.6f", k / 1e9 }')
m=$(curl -sf "$PM_URL/v1/pods" | python3 -c '
import json, sys
pod = [p for p in json.load(sys.stdin)["pods"] if p["uid"] == sys.argv[1]][0]
print(sum(c["cpu_seconds"] for c in pod["containers"] if c["id"] == sys.argv[2]))' "$uh" "${ctrh2##*/}")
within "$m" "$kd" "$kd" 0.01 &&
	pass "a container made among the hostile cgroups: podmeter ${m}s, its cpu.stat ${kd}s" ||
	fail "a container made among the hostile cgroups: podmeter ${m}s, its cpu.stat ${kd}s (1%)"
pod_cpu_after_load "hostile pod's CPU, its $made cgroups folded in" "$cgroups_pid" "$podx" "$ux"
pod_cpu_after_load "honest pod's CPU through phases 2 and 3" "$burner" "$podh" "$uh"

# ---- 4. CUDA allocations and calls in progress ----
log "$(date +%T) CUDA allocations and calls in progress"
mkfifo "$WORK/cuda_h" "$WORK/cuda_x"
exec 6<>"$WORK/cuda_h" 7<>"$WORK/cuda_x"
run_in_cg "$ctrx" sh -c "FAKE_CUDA_SYNC_US=4000000 exec $CUDA_DRIVER -w -A $N_ALLOCS:4096 \
	-T $N_THREADS -e 30000 <$WORK/cuda_x >$WORK/cudax.out"
run_in_cg "$ctrh" sh -c "exec $CUDA_DRIVER -w -l 100 -a 1048576 -a 65536 -f 1 -s 20 -e 30000 \
	<$WORK/cuda_h >$WORK/cudah.out"
# attached once a short run in the honest pod is counted (probes hold the file,
# for every process that maps it)
for _ in $(seq 1 60); do
	run_in_cg "$ctrh" sh -c "exec $CUDA_DRIVER -l 1 >/dev/null"
	sleep 1
	scrape "$WORK/u0"
	[ "$(zero_if_missing "$(val "$WORK/u0" podmeter_pod_gpu_kernel_launches_total "uid=\"$uh\"")")" -ge 1 ] &&
		break
done
canary=$(zero_if_missing "$(val "$WORK/u0" podmeter_pod_gpu_kernel_launches_total "uid=\"$uh\"")")
[ "$canary" -ge 1 ] && pass "fake libcuda found in the pods' maps and probed" ||
	fail "libcuda not probed: $(grep -i cuda "$WORK/agent.log")"
echo go >&7
sleep 1.5	# its allocations made, its threads inside the call
echo go >&6
wait_for "$WORK/cudah.out" '^thread_syncs=' 100 || fail "honest CUDA driver did not finish"
wait_for "$WORK/cudax.out" '^thread_syncs=' 200 || fail "hostile CUDA driver did not finish"
sleep 1.5
scrape "$WORK/u1"
kv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
got=$(($(val "$WORK/u1" podmeter_pod_gpu_kernel_launches_total "uid=\"$uh\"") - canary))
[ "$got" = "$(kv "$WORK/cudah.out" launches)" ] &&
	pass "honest kernel launches: podmeter $got, the driver $(kv "$WORK/cudah.out" launches)" ||
	fail "honest kernel launches: podmeter $got, the driver $(kv "$WORK/cudah.out" launches)"
got=$(val "$WORK/u1" podmeter_pod_gpu_memory_bytes "uid=\"$uh\"")
[ "$got" = "$(kv "$WORK/cudah.out" held_bytes)" ] &&
	pass "honest GPU memory held: podmeter $got, the driver $(kv "$WORK/cudah.out" held_bytes)" ||
	fail "honest GPU memory held: podmeter $got, the driver $(kv "$WORK/cudah.out" held_bytes)"
s=$(val "$WORK/u1" podmeter_pod_gpu_sync_seconds_total "uid=\"$uh\"")
w=$(awk -v ns="$(kv "$WORK/cudah.out" sync_ns)" 'BEGIN { printf "%.6f", ns / 1e9 }')
near "$s" "$w" 0.05 && pass "honest time in synchronize: podmeter ${s}s, the driver's clock ${w}s" ||
	fail "honest time in synchronize: podmeter ${s}s, the driver's clock ${w}s (5%)"
allocs=$(kv "$WORK/cudax.out" allocs)
held=$(val "$WORK/u1" podmeter_pod_gpu_memory_bytes "uid=\"$ux\"")
[ "$allocs" = "$N_ALLOCS" ] && [ "$held" = $((ALLOC_SHARE * 4096)) ] &&
	pass "hostile GPU memory held: podmeter $held, its share of $ALLOC_SHARE allocations of the $allocs made" ||
	fail "hostile GPU memory held: podmeter $held, want $ALLOC_SHARE x 4096 (made $allocs)"
r=$(($(val "$WORK/u1" podmeter_agent_table_refusals_total 'table="cuda_allocs"') -
	$(val "$WORK/u0" podmeter_agent_table_refusals_total 'table="cuda_allocs"')))
[ "$r" = $((N_ALLOCS - ALLOC_SHARE)) ] &&
	pass "CUDA allocations refused: $r, the $N_ALLOCS made over the share of $ALLOC_SHARE" ||
	fail "CUDA allocations refused: $r, want $((N_ALLOCS - ALLOC_SHARE))"
ts=$(kv "$WORK/cudax.out" thread_syncs)
r=$(($(val "$WORK/u1" podmeter_agent_table_refusals_total 'table="cuda_pending"') -
	$(val "$WORK/u0" podmeter_agent_table_refusals_total 'table="cuda_pending"')))
want=$((ts - PENDING_SHARE))
# two threads on two CPUs may both pass the check at the share: a few over it
[ "$ts" = "$N_THREADS" ] && [ "$r" -le "$want" ] && [ "$r" -ge $((want - $(nproc))) ] &&
	pass "CUDA calls refused: $r of the $ts threads inside at once over the share of $PENDING_SHARE" ||
	fail "CUDA calls refused: $r, want $want (at most $(nproc) fewer; $ts threads)"
for t in cuda_allocs cuda_pending; do
	r=$(pod_refusals "$WORK/u1" "$uh" "$t")
	[ "$r" = 0 ] && pass "$t: nothing refused to the honest pod" || fail "$t: $r refused to the honest pod"
done
if grep -q "table=\"cuda_allocs\"" <(grep "^podmeter_pod_table_refusals_total{.*uid=\"$ux\"" "$WORK/u1"); then
	r=$(pod_refusals "$WORK/u1" "$ux" cuda_allocs)
	[ "$r" = $((N_ALLOCS - ALLOC_SHARE)) ] && pass "CUDA allocations refused to the hostile pod: $r" ||
		fail "CUDA allocations refused to the hostile pod: $r, want $((N_ALLOCS - ALLOC_SHARE))"
else
	log "per-pod CUDA refusals not read by this agent (agent/signal/cuda.c): node-wide above"
fi
exec 6>&- 7>&-

# ---- 5. GPU ioctls from many threads at once ----
log "$(date +%T) GPU ioctls from many threads at once"
scrape "$WORK/g0"
for _ in 1 2 3 4 5 6; do
	run_in_cg "$ctrx" sh -c "exec $GPU_IOCTL $dev 20000 0 0 0 0 0 >/dev/null"
done
run_in_cg "$ctrh" sh -c "exec $GPU_IOCTL $dev 500 120 80 40 30 20 >$WORK/ioctl.out"
for _ in $(seq 1 100); do [ "$(cat "$WORK/ioctl.out" 2>/dev/null | wc -l)" -ge 6 ] && break; sleep 0.1; done
sleep 3
scrape "$WORK/g1"
while read -r op n; do
	got=$(val "$WORK/g1" podmeter_pod_gpu_driver_calls_total "uid=\"$uh\",device=\"nvidiatest0\",op=\"$op\"")
	[ "$got" = "$n" ] && pass "honest driver calls, $op: podmeter $got, issued $n" ||
		fail "honest driver calls, $op: podmeter $got, issued $n"
done <"$WORK/ioctl.out"
r=$(($(val "$WORK/g1" podmeter_agent_table_refusals_total 'table="gpu_inflight"') -
	$(val "$WORK/g0" podmeter_agent_table_refusals_total 'table="gpu_inflight"')))
[ "$r" = 0 ] && pass "gpu_inflight: nothing refused" || fail "gpu_inflight: $r refused"

# ---- /healthz ----
touch "$WORK/healthz.stop"
wait "$healthz"
n=$(wc -l <"$WORK/healthz")
bad=$(awk '$1 != 200 || $2 >= 1 { n++ } END { print n + 0 }' "$WORK/healthz")
worst=$(awk '$2 > w { w = $2 } END { printf "%.3f", w }' "$WORK/healthz")
when=$(awk '$1 != 200 || $2 >= 1 { print strftime("%T", $3) }' "$WORK/healthz" | head -5 | tr '\n' ' ')
[ "$n" -gt 100 ] && [ "$bad" = 0 ] && pass "/healthz: $n answers, all 200 within 1 s (slowest ${worst}s)" ||
	fail "/healthz: $bad of $n not 200 within 1 s (slowest ${worst}s, at $when)"
stop_agent || fail "agent exit status"
finish
