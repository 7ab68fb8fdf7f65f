#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Renders every kustomization entry point (packaging/kubernetes, its
reconciler/ directories, every packaging/overlays/*) with `kubectl
kustomize` and checks the reconciler's manifests against the reconciler and
the agent themselves:

    tests/packaging/check_kustomize.py RECONCILER PODMETER

- each entry point renders (kustomize refuses a base containing its
  overlay: "cycle detected");
- the reconciler Deployment's flags are ones `podmeter-reconciler serve
  --help` lists, with authentication (TokenReview), the store from
  PODMETER_STORE, its port the Service's, not root, no capabilities;
- sqlite/: one replica, replaced (Recreate), the store's directory on the
  PersistentVolumeClaim; postgresql/: the store URL from the Secret;
- the ServiceAccount is bound to system:auth-delegator (TokenReview);
- overlays/reconciler-agents: the agents' flags are ones `podmeter run
  --help` lists, their
  --reconciler is the reconciler Service's address and port, their token a
  projected ServiceAccount token for the audience the reconciler asks for.
Without kubectl (it is not a Debian package) the check says so and passes.
"""
import os
import re
import shutil
import subprocess
import sys

import yaml

from tally import check, fail, ok, summary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGING = os.path.join(ROOT, "packaging")
ENTRIES = ["kubernetes", "kubernetes/reconciler", "kubernetes/reconciler/sqlite",
           "kubernetes/reconciler/postgresql"] + \
    sorted("overlays/" + d for d in os.listdir(os.path.join(PACKAGING, "overlays")))


def render(entry):
    r = subprocess.run(["kubectl", "kustomize", os.path.join(PACKAGING, entry)], capture_output=True,
                       text=True)
    if r.returncode:
        fail(f"{entry}: kubectl kustomize: {r.stderr.strip()[:300]}")
        return None
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    ok(f"{entry}: renders ({len(docs)} objects)")
    return docs


def find(docs, kind, name=None):
    for d in docs or []:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def flags_of(program, *cmd):
    out = subprocess.run([program, *cmd, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"(--[a-z][a-z0-9-]+)", out))


def flags_in(args):
    return [a for a in args if a.startswith("--")]


def check_reconciler(docs, entry, serve_flags):
    dep = find(docs, "Deployment", "podmeter-reconciler")
    svc = find(docs, "Service", "podmeter-reconciler")
    if not check(dep is not None and svc is not None, f"{entry}: the reconciler's Deployment and Service"):
        return None
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c.get("args", [])
    unknown = [f for f in flags_in(args) if f not in serve_flags]
    check(args[:1] == ["serve"] and not unknown, f"{entry}: serve's flags are known", unknown)
    check("--tokenreview" in args, f"{entry}: authenticates agents (--tokenreview)")
    store = args[args.index("--store") + 1] if "--store" in args else ""
    env = {e["name"]: e for e in c.get("env", [])}
    check(store == "$(PODMETER_STORE)" and "PODMETER_STORE" in env, f"{entry}: the store from PODMETER_STORE")
    port = next((p for p in c.get("ports", []) if p["name"] == "http"), {})
    listen = args[args.index("--listen") + 1] if "--listen" in args else ""
    check(listen.endswith(":%d" % port.get("containerPort", -1)), f"{entry}: listens on its containerPort", listen)
    sp = svc["spec"]["ports"][0]
    check(sp.get("targetPort") == "http", f"{entry}: the Service targets it")
    sc = c.get("securityContext", {})
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True and
          sc.get("capabilities", {}).get("drop") == ["ALL"] and sc.get("readOnlyRootFilesystem") is True
          and sc.get("allowPrivilegeEscalation") is False, f"{entry}: not root, no capabilities, read-only")
    crb = find(docs, "ClusterRoleBinding")
    check(crb is not None and crb["roleRef"]["name"] == "system:auth-delegator" and
          crb["subjects"][0]["name"] == pod["serviceAccountName"], f"{entry}: may ask TokenReviews")
    return dep, svc, env


def check_sqlite(docs, entry, serve_flags):
    r = check_reconciler(docs, entry, serve_flags)
    if not r:
        return
    dep, _, env = r
    pvc = find(docs, "PersistentVolumeClaim")
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in dep["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    url = env["PODMETER_STORE"].get("value", "")
    data = vols.get("data", {}).get("persistentVolumeClaim", {}).get("claimName")
    check(pvc is not None and data == pvc["metadata"]["name"], f"{entry}: the store's volume is the PVC")
    check(url.startswith("sqlite:" + mounts.get("data", "?") + "/"), f"{entry}: the SQLite file is on it", url)
    check(dep["spec"]["replicas"] == 1 and dep["spec"].get("strategy", {}).get("type") == "Recreate",
          f"{entry}: one replica, replaced (one writer, a ReadWriteOnce volume)")


def check_postgresql(docs, entry, serve_flags):
    r = check_reconciler(docs, entry, serve_flags)
    if not r:
        return
    _, _, env = r
    ref = env["PODMETER_STORE"].get("valueFrom", {}).get("secretKeyRef", {})
    sec = find(docs, "Secret", ref.get("name"))
    check(sec is not None and sec.get("stringData", {}).get(ref.get("key"), "").startswith("postgresql://"),
          f"{entry}: the store URL from the Secret")


def check_agents(docs, rec_docs, entry, run_flags):
    ds = find(docs, "DaemonSet", "podmeter")
    if not check(ds is not None, f"{entry}: the agents' DaemonSet"):
        return
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c.get("args", [])
    unknown = [f for f in flags_in(args) if f not in run_flags]
    check(not unknown, f"{entry}: the agent's flags are known", unknown)
    svc = find(rec_docs, "Service", "podmeter-reconciler")
    url = args[args.index("--reconciler") + 1] if "--reconciler" in args else ""
    want = "http://%s.%s.svc:%d/v1/reports" % (svc["metadata"]["name"], svc["metadata"]["namespace"],
                                              svc["spec"]["ports"][0]["port"]) if svc else "?"
    check(url == want, f"{entry}: --reconciler is the reconciler's Service", url)
    tok = args[args.index("--reconciler-token-file") + 1] if "--reconciler-token-file" in args else ""
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vol = {v["name"]: v for v in pod.get("volumes", [])}.get(mounts.get(os.path.dirname(tok)), {})
    sat = [s.get("serviceAccountToken") for s in vol.get("projected", {}).get("sources", [])]
    sat = [s for s in sat if s]
    rec = find(rec_docs, "Deployment", "podmeter-reconciler")
    rargs = rec["spec"]["template"]["spec"]["containers"][0]["args"] if rec else []
    audience = rargs[rargs.index("--tokenreview-audience") + 1] if "--tokenreview-audience" in rargs \
        else "podmeter-reconciler"
    check(len(sat) == 1 and sat[0].get("path") == os.path.basename(tok) and sat[0].get("audience") == audience,
          f"{entry}: its token is a projected ServiceAccount token for audience {audience}")


def main():
    reconciler, podmeter = sys.argv[1], sys.argv[2]
    print(f"== packaging: kubectl kustomize, against {reconciler} and {podmeter}")
    if not shutil.which("kubectl"):
        ok("kubectl is not installed (not a Debian package): rendering not checked")
        return summary()
    serve_flags = flags_of(reconciler, "serve")
    run_flags = flags_of(podmeter, "run")
    docs = {e: render(e) for e in ENTRIES}
    check_sqlite(docs["kubernetes/reconciler"], "kubernetes/reconciler", serve_flags)
    check_sqlite(docs["kubernetes/reconciler/sqlite"], "kubernetes/reconciler/sqlite", serve_flags)
    check_postgresql(docs["kubernetes/reconciler/postgresql"], "kubernetes/reconciler/postgresql",
                     serve_flags)
    check_agents(docs["overlays/reconciler-agents"], docs["kubernetes/reconciler"],
                 "overlays/reconciler-agents", run_flags)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
