#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The reconciler's writing side end to end, no root: a synthetic fleet's
# reports -> serve -> SQLite store -> propose -> a branch whose patch
# renders (kubectl kustomize) -> a pull request on the stand-in forge
# (GitHub's shapes). Then: a second cycle duplicates nothing; a merge and
# reports with the new requests -> verified; a merged change that brings
# OOM kills -> a revert pull request; a closed pull request is not opened
# again; GitLab and Gitea (409 on a duplicate, adopted); a person's push
# leaves the branch alone. Expected values are worked out here from what
# the fleet generator draws (tests/unit/reconciler/fleet.h): the
# distributions' own quantiles, the generator's prices.
set -u
. "$(dirname "$0")/reconciler_lib.sh"
. "$(dirname "$0")/gitops_lib.sh"
command -v kubectl >/dev/null || { echo "  skip: no kubectl"; exit 0; }

D=$RWORK/gh
mkdir -p "$D"
make_repo "$D"
start_forge "$D" || { fail "stand-in forge"; finish; exit; }
STORE="sqlite:$D/rec.db"
start_reconciler --store "$STORE" --insecure-no-auth || { fail "reconciler"; finish; exit; }
history
stop_reconciler
cp "$D/rec.db" "$RWORK/history.db"

# ---- dry run: prints, writes nothing ----
propose "$D" github "$STORE" --dry-run >"$D/dry.out" 2>&1
check 'grep -q "^=== podmeter/lab-shop:" "$D/dry.out" && grep -q "podmeter-resources.yaml" "$D/dry.out"' \
	"propose --dry-run prints the branch, its files and body"
check '[ -z "$(git --git-dir="$D/gitops.git" for-each-ref refs/heads/podmeter)" ] &&
	[ "$(pyq "len(s[\"github\"][\"prs\"])")" = 0 ] &&
	[ "$(sqlite3 "$D/rec.db" "SELECT COUNT(*) FROM proposals")" = 0 ]' \
	"--dry-run pushed no branch, opened no pull request, kept no proposal"

# ---- the first cycle ----
propose "$D" github "$STORE" >"$D/p1.out" 2>&1
check 'grep -q "3 opened" "$D/p1.out"' "first cycle: $(tail -1 "$D/p1.out")"
pyq "json.dumps(sorted(p['head'] for p in s['github']['prs']))" >"$D/heads"
check 'grep -q "podmeter/lab-shop\"" "$D/heads" && grep -q "podmeter/lab-pay\"" "$D/heads" &&
	grep -q "podmeter/lab-shop-idle" "$D/heads"' "pull requests: $(cat "$D/heads")"
mkdir -p "$D/co"
git --git-dir="$D/gitops.git" archive podmeter/lab-shop | tar -x -C "$D/co"
if kubectl kustomize "$D/co/apps/shop" >"$D/rendered.yaml" 2>"$D/kz.err"; then
	pass "kubectl kustomize renders podmeter/lab-shop's apps/shop"
else
	fail "kubectl kustomize: $(head -3 "$D/kz.err")"
fi
git --git-dir="$D/gitops.git" diff --numstat main podmeter/lab-shop >"$D/numstat"
git --git-dir="$D/gitops.git" archive podmeter/lab-pay | tar -x -C "$D/co" apps/pay/values-podmeter.yaml
git --git-dir="$D/gitops.git" show podmeter/lab-shop-idle:apps/shop/podmeter-resources.yaml >"$D/idle.yaml"
forge_state >"$D/state1.json"
python3 - "$D" >"$RWORK/verdicts" 2>&1 <<'PY'
import json, math, sys, yaml
d = sys.argv[1]
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + what)
docs = {(x["kind"], x["metadata"]["name"]): x for x in yaml.safe_load_all(open(d + "/rendered.yaml"))}
def res(kind, name, ctr):
    for c in docs[(kind, name)]["spec"]["template"]["spec"]["containers"]:
        if c["name"] == ctr:
            return c.get("resources", {})
web, api = res("Deployment", "web", "app"), res("Deployment", "api", "api")
# web: CPU lognormal(0.2, 0.3): p95 = 0.2 e^(0.3 x 1.6449) = 0.3277 cores; / 0.7 = 469m, a 53%
# step down from 1 core: the 50% largest step makes it 500m; memory 300Mi x 1.2 = 360Mi, 65%
# down from 1Gi: 512Mi; limits keep their ratio (2x): 1 core, 1Gi
p95 = 0.2 * math.exp(0.3 * 1.6448536)
check(abs(p95 / 0.7 - 0.468) < 0.002 and web["requests"] == {"cpu": "500m", "memory": "512Mi"}
      and web["limits"] == {"cpu": "1", "memory": "1Gi"},
      "web/app rendered: %s (true p95/0.7 = %.3f, held to a 50%% step)" % (web, p95 / 0.7))
check(api["requests"] == {"cpu": "1", "memory": "256Mi"},
      "api/api: CPU left to its HPA, memory 200Mi x 1.2 held to a 50%% step: %s" % api["requests"])
num = {l.split("\t")[2].strip(): l.split("\t")[:2] for l in open(d + "/numstat")}
check(num.get("apps/shop/kustomization.yaml") == ["2", "0"] and "apps/shop/deploy.yaml" not in num
      and "apps/shop/hpa.yaml" not in num,
      "only podmeter's files change, and 2 lines added to the kustomization: %s" % num)
vals = yaml.safe_load(open(d + "/co/apps/pay/values-podmeter.yaml"))
# checkout: lognormal(0.5, 0.2): p95/0.7 = 0.998 cores: 2 -> 1 (a 50% step); 800Mi x 1.2 = 960Mi: 2Gi -> 1Gi
check(vals == {"checkout": {"resources": {"requests": {"cpu": 1, "memory": "1Gi"}}}},
      "helm values file: %s" % vals)
idle = [x for x in yaml.safe_load_all(open(d + "/idle.yaml")) if x]
check(any(x["metadata"]["name"] == "old" and x["spec"].get("replicas") == 0 for x in idle),
      "the idle workload's scale-to-zero patch: replicas 0")
st = json.load(open(d + "/state1.json"))["github"]
prs = {p["head"]: p for p in st["prs"]}
shop, pay, idlepr = prs["podmeter/lab-shop"], prs["podmeter/lab-pay"], prs["podmeter/lab-shop-idle"]
check(shop["body"].startswith("<!-- podmeter-proposal group=lab-shop id=lab-shop#1") and
      "| Workload | Container | Value | Current → Proposed |" in shop["body"] and
      "**Guardrails passed**" in shop["body"], "the body: hidden marker, table, guardrails")
doc = json.loads(pay["body"].split("```json\n", 1)[1].split("\n```", 1)[0])
# savings at the generator's prices ($0.04 a core-hour, $0.005 a GiB-hour), 2 replicas, 730 h
want = -(1 * 0.04 + 1 * 0.005) * 2 * 730
check(abs(doc["costDeltaDollarsPerMonth"] - want) < 0.01,
      "pay's document: %.2f $/month, from the prices %.2f" % (doc["costDeltaDollarsPerMonth"], want))
item = doc["items"][0]
check({"evidence", "guardrails", "current", "proposed", "workload"} <= set(item) and
      item["evidence"]["daysObserved"] > 3 and any(g["rule"] == "bounds" for g in item["guardrails"]),
      "the document's items carry evidence and guardrail verdicts")
check("podmeter/scale-to-zero" in idlepr["labels"] and "podmeter/auto-merge" not in idlepr["labels"],
      "the scale-to-zero pull request: labelled, not for auto-merge: %s" % idlepr["labels"])
iss = st["issues"]
check(len(iss) == 1 and "Deployment/old" in iss[0]["body"] and "podmeter-dashboard" in iss[0]["labels"],
      "a dashboard issue lists the idle workload")
print("\n".join(out))
PY
while read -r v line; do [ "$v" = PASS ] && pass "$line" || fail "$line"; done <"$RWORK/verdicts"

# ---- again: nothing duplicated ----
propose "$D" github "$STORE" >"$D/p2.out" 2>&1
check '[ "$(pyq "len(s[\"github\"][\"prs\"])")" = 3 ] && [ "$(pyq "len(s[\"github\"][\"issues\"])")" = 1 ] &&
	grep -q "0 candidates, 0 pushed, 0 opened" "$D/p2.out"' "second cycle: no duplicate ($(tail -1 "$D/p2.out"))"
"$RECONCILER" explain --store "$STORE" shop/Deployment/api >"$D/explain" 2>&1
check 'grep -q "cpu *hpa *block.*HorizontalPodAutoscaler api" "$D/explain" &&
	grep -q "lab-shop#1 resize open" "$D/explain"' "explain shop/Deployment/api: the HPA rule blocks CPU, the proposal is open"

# ---- a person closes the scale-to-zero pull request: remembered ----
n=$(pyq "[p['number'] for p in s['github']['prs'] if p['head'] == 'podmeter/lab-shop-idle'][0]")
curl -sf -X POST "http://127.0.0.1:$FORGE_PORT/_admin/close?forge=github&number=$n" >/dev/null
propose "$D" github "$STORE" >"$D/p3.out" 2>&1
check '[ "$(pyq "len(s[\"github\"][\"prs\"])")" = 3 ] &&
	[ "$(sqlite3 "$D/rec.db" "SELECT state FROM proposals WHERE grp = '\''lab-shop-idle'\''")" = closed ]' \
	"closed unmerged: kept as closed, not proposed again"
"$RECONCILER" explain --store "$STORE" shop/old >"$D/explain.old" 2>&1
check 'grep -q "idle *block.*closed unmerged" "$D/explain.old"' "explain shop/old: the rejection is remembered"

# ---- merges; reports with the new requests; one of them brings OOM kills ----
for h in podmeter/lab-shop podmeter/lab-pay; do
	n=$(pyq "[p['number'] for p in s['github']['prs'] if p['head'] == '$h'][0]")
	curl -sf -X POST "http://127.0.0.1:$FORGE_PORT/_admin/merge?forge=github&number=$n&merged_at=$((HOUR - 3 * 3600 + 60))" >/dev/null ||
		fail "merge $h"
done
start_reconciler --store "$STORE" --insecure-no-auth || { fail "reconciler"; finish; exit; }
fleet --from $((HOUR - 3 * 3600)) --to "$HOUR" --seq-start 1000 \
	--set web=0.5,536870912,1,1073741824 --set api=1,268435456,-1,-1 --set old=0.25,268435456,-1,-1 \
	--set checkout=1,1073741824,-1,-1 --ooms checkout=2 >/dev/null
stop_reconciler
propose "$D" github "$STORE" >"$D/p4.out" 2>&1
q() { sqlite3 "$D/rec.db" "$1"; }
check '[ "$(q "SELECT state FROM proposals WHERE id = '\''lab-shop#1'\''")" = verified ]' \
	"lab-shop#1 verified after its requests arrived: $(q "SELECT outcome FROM proposals WHERE id = 'lab-shop#1'" | head -c 200)"
check '[ "$(q "SELECT state FROM proposals WHERE id = '\''lab-pay#1'\''")" = reverted ]' \
	"lab-pay#1 reverted: it brought OOM kills"
git --git-dir="$D/gitops.git" show podmeter/revert-lab-pay-1:apps/pay/values-podmeter.yaml >"$D/revert.yaml" 2>/dev/null
check 'python3 -c "import yaml,sys; v=yaml.safe_load(open(sys.argv[1])); sys.exit(v[\"checkout\"][\"resources\"][\"requests\"] != {\"cpu\": 2, \"memory\": \"2Gi\"})" "$D/revert.yaml" &&
	[ "$(pyq "len([p for p in s[\"github\"][\"prs\"] if p[\"head\"] == \"podmeter/revert-lab-pay-1\" and \"podmeter/revert\" in p[\"labels\"]])")" = 1 ]' \
	"a revert pull request puts checkout back to 2 cores / 2Gi"
check '[ "$(pyq "[\"OOM kills 8 after\" in p[\"body\"] for p in s[\"github\"][\"prs\"] if p[\"head\"] == \"podmeter/revert-lab-pay-1\"]")" = "[True]" ]' \
	"the revert pull request carries the evidence"

"$RECONCILER" explain --store "$STORE" pay/checkout >"$D/explain.pay" 2>&1
check 'grep -q "lab-pay#1 resize reverted" "$D/explain.pay" && grep -q "oomWorse\":true" "$D/explain.pay"' \
	"explain pay/checkout shows the outcome"

# ---- GitLab and Gitea: a create the forge refuses as a duplicate (409) is adopted ----
for fl in gitlab gitea; do
	E=$RWORK/$fl
	mkdir -p "$E"
	make_repo "$E"
	stop_forge
	start_forge "$E" || { fail "forge $fl"; continue; }
	cp "$RWORK/history.db" "$E/rec.db"
	propose "$E" "$fl" "sqlite:$E/rec.db" --crash-at after-create >/dev/null 2>&1
	curl -sf -X POST "http://127.0.0.1:$FORGE_PORT/_admin/hide_next_list?forge=$fl" >/dev/null
	propose "$E" "$fl" "sqlite:$E/rec.db" >"$E/p.out" 2>&1
	propose "$E" "$fl" "sqlite:$E/rec.db" >>"$E/p.out" 2>&1
	codes=$(pyq "[c[0] for c in s['$fl']['calls'] if c[0] == 'POST' and c[1].endswith(('/pulls', '/merge_requests'))]")
	check '[ "$(pyq "len(s[\"$fl\"][\"prs\"])")" = 3 ] &&
		[ "$(sqlite3 "$E/rec.db" "SELECT COUNT(*) FROM proposals WHERE state = '\''open'\''")" = 3 ]' \
		"$fl: crash after create, a lookup that missed it, a 409: 3 pull requests, 3 open proposals ($codes)"
done

# ---- a person pushes to a branch: left alone ----
E=$RWORK/gitea
git clone -q "$E/gitops.git" "$E/person" && git -C "$E/person" checkout -q podmeter/lab-pay &&
	echo "# a person was here" >>"$E/person/apps/pay/values-podmeter.yaml" &&
	git -C "$E/person" -c user.name=person -c user.email=p@test commit -qam "tweak" &&
	git -C "$E/person" push -q origin podmeter/lab-pay
person=$(git --git-dir="$E/gitops.git" rev-parse podmeter/lab-pay)
sed -i 's/^  minDays: 2$/  minDays: 2\n  cpu:\n    target: 0.6/' "$E/work/.podmeter/policy.yaml"
repo_commit "$E" "policy: target 0.6"
propose "$E" gitea "sqlite:$E/rec.db" >"$E/p2.out" 2>&1
check '[ "$(git --git-dir="$E/gitops.git" rev-parse podmeter/lab-pay)" = "$person" ] &&
	grep -q "left alone" "$E/p2.out"' "a branch a person pushed to is left alone"
check 'grep -q "lab-shop#2: updated" "$E/p2.out" && [ "$(pyq "len(s[\"gitea\"][\"prs\"])")" = 3 ]' \
	"a new policy updates the open pull request (no new one): $(grep -c updated "$E/p2.out") updated"

# ---- serve proposes on an interval; pace: one pull request open at most ----
E=$RWORK/serve
mkdir -p "$E"
make_repo "$E"
printf 'pace:\n  maxOpen: 1\n  perHour: 5\n' >>"$E/work/.podmeter/policy.yaml"
repo_commit "$E" "policy: one at a time"
stop_forge
start_forge "$E" || fail "forge"
cp "$RWORK/history.db" "$E/rec.db"
start_reconciler --store "sqlite:$E/rec.db" --insecure-no-auth --propose-every 1s \
	--repo "file://$E/gitops.git" --git-cache "$E/cache" --forge github \
	--forge-url "$(forge_api github)" --forge-repo acme/gitops --forge-token-file "$E/forge-token" ||
	fail "serve --propose-every"
for _ in $(seq 1 300); do
	[ "$(metric podmeter_reconciler_propose_cycles_total 'result="ok"')" != missing ] &&
		[ "$(metric podmeter_reconciler_propose_cycles_total 'result="ok"')" -ge 2 ] 2>/dev/null && break
	sleep 0.2
done
open=$(metric podmeter_reconciler_proposals 'state="open"')
saved=$(metric podmeter_reconciler_savings_dollars_per_month 'stage="proposed"')
stop_reconciler
check '[ "$(pyq "len(s[\"github\"][\"prs\"])")" = 1 ] && [ "$open" = 1 ] &&
	awk -v s="$saved" "BEGIN { exit !(s > 0) }"' \
	"serve --propose-every 1s: cycles ran, pace.maxOpen 1 held it to 1 pull request; /metrics: $open open, \$$saved a month proposed"
"$RECONCILER" explain --store "sqlite:$E/rec.db" shop/web >"$E/explain" 2>&1
"$RECONCILER" explain --store "sqlite:$E/rec.db" pay/checkout >>"$E/explain" 2>&1
check 'grep -q "pace *block.*pace.maxOpen 1" "$E/explain"' "explain: a group waits for pace"

# ---- https, with a token from a file and the server's CA ----
E=$RWORK/https
mkdir -p "$E"
make_repo "$E"
stop_forge
start_forge "$E" || fail "forge"
cp "$RWORK/history.db" "$E/rec.db"
GIT_PORT=$((FORGE_PORT + 1))
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost" -keyout "$E/key.pem" -out "$E/cert.pem" >/dev/null 2>&1
echo "git-$RANDOM$RANDOM" >"$E/git-token"
echo "wrong" >"$E/wrong-token"
python3 "$(dirname "$0")/git_http.py" --port "$GIT_PORT" --root "$E" --user bot \
	--password-file "$E/git-token" --cert "$E/cert.pem" --key "$E/key.pem" &
RSTARTED+=("$!")
for _ in $(seq 1 50); do curl -sk -o /dev/null "https://127.0.0.1:$GIT_PORT/" && break; sleep 0.1; done
hprop() {
	"$RECONCILER" propose --store "sqlite:$E/rec.db" --repo "https://localhost:$GIT_PORT/gitops.git" \
		--git-username bot --forge github --forge-url "$(forge_api github)" \
		--forge-repo acme/gitops --forge-token-file "$E/forge-token" "$@"
}
hprop --git-cache "$E/c1" --git-token-file "$E/wrong-token" --git-ca-file "$E/cert.pem" >"$E/wrong.out" 2>&1
hprop --git-cache "$E/c2" --git-token-file "$E/git-token" >"$E/noca.out" 2>&1
check 'grep -q "credentials refused" "$E/wrong.out" && ! grep -q "credentials" "$E/noca.out" &&
	grep -qi "certificate\|ssl\|tls" "$E/noca.out" && [ "$(pyq "len(s[\"github\"][\"prs\"])")" = 0 ]' \
	"https: a wrong token is refused, an unknown CA too; nothing written ($(tail -1 "$E/noca.out" | cut -c1-80))"
hprop --git-cache "$E/c3" --git-token-file "$E/git-token" --git-ca-file "$E/cert.pem" >"$E/ok.out" 2>&1
check 'grep -q "3 opened" "$E/ok.out" && git --git-dir="$E/gitops.git" rev-parse -q --verify podmeter/lab-shop >/dev/null' \
	"https with the token file and --git-ca-file: fetched, pushed, 3 pull requests"
hprop --git-cache "$E/c3" --git-token-file "$E/git-token" --git-ca-file "$E/cert.pem" --dashboard file >"$E/dash.out" 2>&1
check 'git --git-dir="$E/gitops.git" show podmeter/dashboard:PODMETER-DASHBOARD.md 2>/dev/null | grep -q "| shop | Deployment/old |"' \
	"--dashboard file: PODMETER-DASHBOARD.md on podmeter/dashboard lists the idle workload"
[ -n "${KEEP:-}" ] && cp -r "$RWORK" "$KEEP"
finish
