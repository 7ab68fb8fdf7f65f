#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Root integration tests: real BPF, fake pods, kernel accounting as the truth.
set -u
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "integration: skipped, needs root (BPF, cgroups)"
	exit 0
fi
total_fail=0
run() {
	echo "== $*"
	"$@" || total_fail=$((total_fail + 1))
}
run tests/integration/test_cpu.sh v2 tp_btf
run tests/integration/test_cpu.sh v1 tp_btf
run tests/integration/test_cpu.sh v2 raw_tp
run tests/integration/test_move.sh v2 tp_btf
run tests/integration/test_move.sh v1 tp_btf
run tests/integration/test_move.sh v2 raw_tp
run tests/integration/test_churn.sh
run tests/integration/test_restart.sh
run tests/integration/test_reload.sh
run tests/integration/test_mem.sh tp_btf
run tests/integration/test_reclaim.sh
run tests/integration/test_mem.sh raw_tp
run tests/integration/test_net.sh
run tests/integration/test_proc.sh
run tests/integration/test_changed.sh
run tests/integration/test_kubelet.sh
run tests/integration/test_scrape.sh
run tests/integration/test_cost.sh
run tests/integration/test_overhead.sh
run tests/integration/test_reports.sh
run tests/integration/test_reports_v2.sh
run tests/integration/test_reconciler.sh
run tests/integration/test_reconciler_pg.sh
run tests/integration/test_reconciler_kill.sh
run tests/integration/test_reconciler_e2e.sh
run tests/integration/test_reconciler_dashboard.sh
run tests/integration/test_reconciler_propose.sh
run tests/integration/test_reconciler_crash.sh
run tests/integration/test_gpu.sh
run tests/integration/test_tables.sh
run tests/integration/test_hostile.sh
run tests/integration/test_containerd.sh
run tests/integration/test_detect.sh
run tests/integration/test_top.sh
run tests/integration/test_check.sh
run tests/integration/test_privilege.sh
run tests/integration/test_packaging.sh
[ $total_fail -eq 0 ] || echo "integration: $total_fail suite(s) failed"
exit $((total_fail > 0))
