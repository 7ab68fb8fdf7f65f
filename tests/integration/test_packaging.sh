#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The manifests against what the agent requires (tests/packaging), and the
# Grafana dashboard against what a running agent's /metrics really exposes.
set -u
. "$(dirname "$0")/lib.sh"

echo "packaging: manifests and dashboard against the agent"
start_agent || { fail "agent start"; finish; exit; }
sleep 2
scrape "$WORK/metrics" || fail "scrape"
stop_agent
if PODMETER="$PODMETER" tests/packaging/run.sh "$WORK/metrics" >"$WORK/packaging.out" 2>&1; then
	pass "tests/packaging: $(grep -E '^[0-9]+ passed' "$WORK/packaging.out" | tr '\n' ' ')"
else
	grep -E "FAIL|passed" "$WORK/packaging.out"
	fail "tests/packaging"
fi
finish
