# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Helpers for the propose tests (no root): a bare GitOps repository with a
# kustomize overlay (namespace shop, an HPA on api) and a Helm values target
# (namespace pay), the stand-in forge, the synthetic fleet, propose.
#   . tests/integration/reconciler_lib.sh; . tests/integration/gitops_lib.sh
REC_FLEET=${REC_FLEET:-build/tests/rec_fleet}
FORGE_PORT=${FORGE_PORT:-$((19600 + $$ % 300))}
FORGE_PID=""
HOUR=$(( $(date +%s) / 3600 * 3600 ))

# make_repo DIR: the bare repository DIR/gitops.git (branch main) and a work copy DIR/work
make_repo() {
	local d=$1 w=$1/work
	git init -q --bare -b main "$d/gitops.git"
	git init -q -b main "$w"
	mkdir -p "$w/apps/shop" "$w/apps/pay" "$w/.podmeter"
	cat >"$w/apps/shop/kustomization.yaml" <<'EOF'
# the shop overlay, written by people
namespace: shop
resources:
  - deploy.yaml
  - hpa.yaml
commonLabels:
  team: shop
EOF
	cat >"$w/apps/shop/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        resources:
          requests: {cpu: "1", memory: 1Gi}
          limits: {cpu: "2", memory: 2Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: api:3
        resources:
          requests: {cpu: "1", memory: 512Mi}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: old
spec:
  replicas: 1
  selector: {matchLabels: {app: old}}
  template:
    metadata: {labels: {app: old}}
    spec:
      containers:
      - name: app
        image: old:1
        resources:
          requests: {cpu: 500m, memory: 256Mi}
EOF
	cat >"$w/apps/shop/hpa.yaml" <<'EOF'
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: api
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
EOF
	cat >"$w/apps/pay/values.yaml" <<'EOF'
checkout:
  replicaCount: 2
  resources:
    requests: {cpu: "2", memory: 2Gi}
EOF
	cat >"$w/.podmeter/targets.yaml" <<'EOF'
targets:
  - cluster: lab
    namespace: shop
    kustomize: apps/shop
  - cluster: lab
    namespace: pay
    helm:
      values: apps/pay/values-podmeter.yaml
      workloads:
        Deployment/checkout:
          replicas: checkout.replicaCount
          containers:
            app: checkout.resources
EOF
	cat >"$w/.podmeter/policy.yaml" <<'EOF'
defaults:
  minDays: 2
  verify:
    afterHours: 2
rules:
  - namespace: ^shop$
    idle:
      days: 2
      scaleToZero: true
EOF
	git -C "$w" add -A
	git -C "$w" -c user.name=people -c user.email=people@test commit -qm "gitops: shop and pay"
	git -C "$w" push -q "$d/gitops.git" main
}

# repo_commit DIR MESSAGE: commit the work copy's changes and push them to main
repo_commit() {
	git -C "$1/work" add -A
	git -C "$1/work" -c user.name=people -c user.email=people@test commit -qm "$2"
	git -C "$1/work" pull -q --rebase "$1/gitops.git" main 2>/dev/null
	git -C "$1/work" push -q "$1/gitops.git" HEAD:main
}

# start_forge DIR: the stand-in forge over DIR/gitops.git, token in DIR/forge-token
start_forge() {
	echo "tok-$RANDOM$RANDOM" >"$1/forge-token"
	python3 "$(dirname "${BASH_SOURCE[0]}")/fake_forge.py" --port "$FORGE_PORT" \
		--token-file "$1/forge-token" --git-dir "$1/gitops.git" --lifetime 900 &
	FORGE_PID=$!
	RSTARTED+=("$FORGE_PID")
	local i
	for i in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$FORGE_PORT/_admin/state" >/dev/null && return 0
		sleep 0.1
	done
	echo "  the stand-in forge did not come up"
	return 1
}

stop_forge() {
	[ -n "$FORGE_PID" ] && kill "$FORGE_PID" 2>/dev/null && wait "$FORGE_PID" 2>/dev/null
	FORGE_PID=""
}

forge_state() { curl -sf "http://127.0.0.1:$FORGE_PORT/_admin/state"; }

# forge_api FLAVOR: the --forge-url of that flavor
forge_api() {
	case $1 in
	github) echo "http://127.0.0.1:$FORGE_PORT/github" ;;
	gitlab) echo "http://127.0.0.1:$FORGE_PORT/gitlab/api/v4" ;;
	gitea) echo "http://127.0.0.1:$FORGE_PORT/gitea/api/v1" ;;
	esac
}

# propose DIR FLAVOR STORE [ARGS...]: one cycle against the repository and forge of DIR
propose() {
	local d=$1 fl=$2 st=$3
	shift 3
	"$RECONCILER" propose --store "$st" --repo "file://$d/gitops.git" --git-cache "$d/cache" \
		--forge "$fl" --forge-url "$(forge_api "$fl")" --forge-repo acme/gitops \
		--forge-token-file "$d/forge-token" "$@"
}

# fleet ARGS...: the synthetic fleet, posted to the reconciler on REC_PORT
fleet() { "$REC_FLEET" --url "$REC_URL/v1/reports" "$@"; }

# history STORE_URL: four days of reports up to three hours ago (serve started and stopped)
history() {
	fleet --from $((HOUR - 4 * 86400)) --to $((HOUR - 3 * 3600)) --seq-start 1 >/dev/null
}

# pyq EXPR: evaluate a Python expression over the forge's state (variable s)
pyq() { forge_state | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
