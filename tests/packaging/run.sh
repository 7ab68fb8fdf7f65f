#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Packaging checks, no root and no cluster needed:
#   PODMETER=build/podmeter tests/packaging/run.sh METRICS.txt
# packaging/kubernetes against the agent (check_manifests.py), every
# kustomization rendered by kubectl and the reconciler's manifests against
# the reconciler (check_kustomize.py; RECONCILER=build/podmeter-reconciler), and the
# Grafana dashboard against METRICS.txt, a scrape of a running agent's
# /metrics made by the caller (check_dashboard.py). Needs python3 and
# python3-yaml. Exits non-zero when either check fails.
set -u
if [ $# -ne 1 ]; then
	echo "usage: PODMETER=build/podmeter $0 METRICS.txt" >&2
	exit 2
fi
# paths as the caller gave them, before moving to the repository root
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
metrics=$(abs "$1")
podmeter=$(abs "${PODMETER:-build/podmeter}")
reconciler=$(abs "${RECONCILER:-build/podmeter-reconciler}")
cd "$(dirname "$0")/../.." || exit 2
# else relative to the repository root
[ -x "$podmeter" ] || podmeter=$(abs "${PODMETER:-build/podmeter}")
[ -x "$reconciler" ] || reconciler=$(abs "${RECONCILER:-build/podmeter-reconciler}")

fails=0
python3 tests/packaging/check_manifests.py "$podmeter" || fails=$((fails + 1))
python3 tests/packaging/check_kustomize.py "$reconciler" "$podmeter" || fails=$((fails + 1))
python3 tests/packaging/check_dashboard.py packaging/grafana/podmeter-dashboard.json "$metrics" ||
	fails=$((fails + 1))
[ $fails -eq 0 ] || echo "packaging: $fails check(s) failed"
[ $fails -eq 0 ]
