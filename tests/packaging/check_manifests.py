#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks packaging/kubernetes against the agent it installs.

    tests/packaging/check_manifests.py [PODMETER]

PODMETER is the agent binary (default: env PODMETER, else build/podmeter),
asked for the capabilities it needs (podmeter check --required-caps) and for
the config keys it knows (the message for an unknown key). Needs PyYAML
(Debian: python3-yaml); no cluster, no root. The components and overlays in
packaging/components and packaging/overlays are read as files; where kubectl
is installed, the base, each overlay and all components together are also
rendered (kubectl kustomize) and the results checked. Env MANIFESTS points
it at another directory. Prints one "  ok    ..." or "  FAIL  ..." line per
check and exits 1 on any failure.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tally import check, fail, ok, summary

try:
    import yaml
except ImportError:
    print("  FAIL  PyYAML is missing: install python3-yaml")
    sys.exit(1)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MANIFESTS = os.environ.get("MANIFESTS", os.path.join(ROOT, "packaging", "kubernetes"))
UNINSTALL = "uninstall-job.yaml"
KUSTOMIZATION = "kustomization.yaml"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
# (apiGroup, resource, verb): what the agent's ClusterRole may grant, exactly:
# the kubelet's /pods with fine-grained kubelet authorization (1.33+)
RBAC_WANTED = {("", "nodes/pods", "get")}
# and with the nodes-proxy component, for older kubelets
RBAC_FALLBACK = RBAC_WANTED | {("", "nodes/proxy", "get")}
PACKAGING = os.path.dirname(MANIFESTS)
COMPONENTS = os.path.join(PACKAGING, "components")
OVERLAYS = os.path.join(PACKAGING, "overlays")
READ_ONLY_MOUNTS = {  # mountPath in the container: hostPath on the node
    "/sys/fs/cgroup": "/sys/fs/cgroup",
    "/sys/kernel/btf": "/sys/kernel/btf",
    "/host/proc": "/proc",
}
BPFFS = "/sys/fs/bpf"


def load_manifests():
    """{file name: [documents]}; a file that does not parse is a failure."""
    out = {}
    for name in sorted(os.listdir(MANIFESTS)):
        if not name.endswith((".yaml", ".yml")):
            continue
        try:
            with open(os.path.join(MANIFESTS, name)) as f:
                out[name] = [d for d in yaml.safe_load_all(f) if d is not None]
            ok(f"{name}: parses ({len(out[name])} documents)")
        except yaml.YAMLError as e:
            fail(f"{name}: not YAML: {e}")
    return out


def find(docs, kind, name=None):
    for d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"].get("name") == name):
            return d
    return None


def run_agent(args):
    try:
        p = subprocess.run([PODMETER] + args, capture_output=True, text=True, timeout=60)
    except OSError as e:
        return None, "", str(e)
    return p.returncode, p.stdout, p.stderr


def required_caps():
    rc, out, err = run_agent(["check", "--required-caps"])
    if rc is None:
        fail(f"cannot run {PODMETER}: {err}")
        return None
    if rc != 0:
        fail(f"{PODMETER} check --required-caps: exit {rc}: {err.strip() or out.strip()}")
        return None
    caps = [l.strip() for l in out.splitlines() if l.strip()]
    bad = [c for c in caps if not re.fullmatch(r"CAP_[A-Z_]+", c)]
    if bad or not caps:
        fail(f"{PODMETER} check --required-caps: not one CAP_ name a line: {out!r}")
        return None
    ok(f"podmeter check --required-caps: {' '.join(caps)}")
    return {c[len("CAP_"):] for c in caps}


def known_keys():
    """The config keys the agent accepts, from its message for an unknown key."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write("bogus_key_x: 1\n")
        path = f.name
    try:
        rc, out, err = run_agent(["run", "--config", path])
    finally:
        os.unlink(path)
    m = re.search(r'unknown key "bogus_key_x"; known keys: (.*)', err)
    if rc is None:
        fail(f"cannot run {PODMETER}: {err}")
        return None
    if rc != 2 or not m:
        fail(f"podmeter run with an unknown key: exit {rc}, no key list: {err.strip()}")
        return None
    keys = {k.strip() for k in m.group(1).split(",") if k.strip()}
    ok(f"podmeter knows {len(keys)} config keys")
    return keys


def check_files(files):
    for name, docs in files.items():
        if name == KUSTOMIZATION:
            continue
        for d in docs:
            meta = d.get("metadata") or {}
            check(d.get("apiVersion") and d.get("kind") and meta.get("name"),
                  f"{name}: {d.get('kind')}/{meta.get('name')} has apiVersion, kind, metadata.name")


def check_kustomization(files):
    k = (files.get(KUSTOMIZATION) or [{}])[0]
    check(k.get("kind") == "Kustomization", f"{KUSTOMIZATION}: a Kustomization")
    res = k.get("resources") or []
    for r in res:
        check(os.path.isfile(os.path.join(MANIFESTS, r)), f"{KUSTOMIZATION}: resource {r} exists")
    for name in files:
        if name in (KUSTOMIZATION, UNINSTALL):
            continue
        check(name in res, f"{KUSTOMIZATION}: lists {name}")
    check(UNINSTALL not in res, f"{KUSTOMIZATION}: leaves {UNINSTALL} out (applied at uninstall)")
    return k


def check_namespaces(files, kust):
    docs = [d for n, ds in files.items() if n != KUSTOMIZATION for d in ds]
    nss = [d["metadata"]["name"] for d in docs if d.get("kind") == "Namespace"]
    if not check(len(nss) == 1, "one Namespace", f"found {nss}"):
        return None
    ns = nss[0]
    check(kust.get("namespace") == ns, f"kustomization namespace is {ns}", kust.get("namespace"))
    for d in docs:
        kind, meta = d.get("kind"), d.get("metadata", {})
        if kind in CLUSTER_SCOPED:
            check("namespace" not in meta, f"{kind}/{meta.get('name')} is cluster-scoped")
        else:
            check(meta.get("namespace") == ns, f"{kind}/{meta.get('name')} is in namespace {ns}",
                  f"namespace {meta.get('namespace')}")
    return ns


def role_grants(role):
    """(apiGroup, resource, verb) triples of a ClusterRole, and rules beyond them."""
    got = set()
    extra = []
    for rule in role.get("rules", []):
        if rule.get("nonResourceURLs") or rule.get("resourceNames"):
            extra.append(rule)
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                for v in rule.get("verbs", []):
                    got.add((g, r, v))
    return got, extra


def check_rbac(docs, ns, sa):
    role = find(docs, "ClusterRole")
    binding = find(docs, "ClusterRoleBinding")
    if not check(role and binding, "a ClusterRole and a ClusterRoleBinding"):
        return
    got, extra = role_grants(role)
    check(got == RBAC_WANTED and not extra,
          "ClusterRole grants exactly nodes/pods get",
          f"grants {sorted(got)} {extra or ''}")
    ref = binding.get("roleRef", {})
    check(ref.get("kind") == "ClusterRole" and ref.get("name") == role["metadata"]["name"],
          "ClusterRoleBinding binds the ClusterRole", str(ref))
    subjects = binding.get("subjects", [])
    check(any(s.get("kind") == "ServiceAccount" and s.get("name") == sa
              and s.get("namespace") == ns for s in subjects),
          f"ClusterRoleBinding binds ServiceAccount {ns}/{sa}", str(subjects))


def arg_value(args, flag):
    """The value of --flag VALUE or --flag=VALUE in an argument list."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a[len(flag) + 1:]
    return None


def arg_flags(args):
    return [a.split("=", 1)[0] for a in args if a.startswith("--")]


def volume_of(spec, mount):
    for v in spec.get("volumes", []):
        if v.get("name") == mount.get("name"):
            return v
    return {}


def check_pod_security(c, what, caps):
    sc = c.get("securityContext") or {}
    check(sc.get("privileged") is not True, f"{what}: not privileged")
    check(sc.get("allowPrivilegeEscalation") is False, f"{what}: allowPrivilegeEscalation false")
    check(sc.get("readOnlyRootFilesystem") is True, f"{what}: read-only root filesystem")
    capc = sc.get("capabilities") or {}
    check(capc.get("drop") == ["ALL"], f"{what}: drops ALL capabilities", str(capc.get("drop")))
    add = set(capc.get("add") or [])
    if caps is not None:
        check(add == caps, f"{what}: adds exactly {' '.join(sorted(caps))}",
              f"adds {' '.join(sorted(add)) or 'nothing'}")
    return sc


def check_mounts(spec, c, spool):
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for path, host in READ_ONLY_MOUNTS.items():
        m = mounts.get(path)
        hp = (volume_of(spec, m).get("hostPath") or {}).get("path") if m else None
        check(m and hp == host and m.get("readOnly") is True,
              f"daemonset: host {host} mounted read-only at {path}",
              "missing" if not m else f"hostPath {hp}, readOnly {m.get('readOnly')}")
    m = mounts.get(BPFFS)
    hp = (volume_of(spec, m).get("hostPath") or {}).get("path") if m else None
    check(m and hp == BPFFS and not m.get("readOnly"),
          f"daemonset: host {BPFFS} mounted writable (pins outlive the pod)")
    if m:
        check(m.get("mountPropagation") in (None, "None", "HostToContainer"),
              "daemonset: bpffs mount propagation needs no privilege",
              str(m.get("mountPropagation")))
    holder = [p for p in mounts if spool and (spool == p or spool.startswith(p.rstrip("/") + "/"))]
    sm = mounts[max(holder, key=len)] if holder else None
    check(sm and volume_of(spec, sm).get("hostPath") and not sm.get("readOnly"),
          f"daemonset: the spool {spool} is on a writable hostPath mount")
    writable = {BPFFS, sm["mountPath"] if sm else None}
    for p, m in mounts.items():
        if volume_of(spec, m).get("hostPath") and p not in writable:
            check(m.get("readOnly") is True, f"daemonset: host path at {p} is read-only")
    return mounts


def check_probes(c, port):
    names = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    for probe in ("livenessProbe", "readinessProbe"):
        g = (c.get(probe) or {}).get("httpGet") or {}
        p = g.get("port")
        pnum = names.get(p, p)
        check(g.get("path") == "/healthz" and pnum == port,
              f"daemonset: {probe} GETs /healthz on port {port}", f"{g}")


def check_daemonset(docs, caps, keys, cfg, cm_name, cm_key):
    ds = find(docs, "DaemonSet")
    if not check(ds is not None, "a DaemonSet"):
        return None
    spec = ds["spec"]["template"]["spec"]
    c = spec["containers"][0]
    check_pod_security(c, "daemonset", caps)
    check(spec.get("hostPID") is True, "daemonset: hostPID")
    check(not spec.get("hostNetwork"), "daemonset: not on the host network")
    sel = ds["spec"]["selector"].get("matchLabels", {})
    labels = ds["spec"]["template"]["metadata"].get("labels", {})
    check(sel and all(labels.get(k) == v for k, v in sel.items()),
          "daemonset: selector matches the pod labels")
    tols = spec.get("tolerations", [])
    check(any(t.get("operator") == "Exists" and not t.get("key") for t in tols),
          "daemonset: tolerates every taint")
    env = {e["name"]: e for e in c.get("env", [])}
    ref = ((env.get("NODE_NAME") or {}).get("valueFrom") or {}).get("fieldRef") or {}
    check(ref.get("fieldPath") == "spec.nodeName", "daemonset: NODE_NAME from spec.nodeName")
    args = c.get("args") or []
    check(args[:1] == ["run"], "daemonset: runs podmeter run", str(args[:1]))
    check(arg_value(args, "--node-name") == "$(NODE_NAME)", "daemonset: --node-name $(NODE_NAME)")
    if keys is not None:
        flags = [f for f in arg_flags(args) if f != "--config"]
        unknown = [f for f in flags if f[2:].replace("-", "_") not in keys]
        check(not unknown, "daemonset: every flag is an agent option", " ".join(unknown))
    conf = arg_value(args, "--config")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    cm_mount = mounts.get(os.path.dirname(conf or ""))
    vol = volume_of(spec, cm_mount).get("configMap") if cm_mount else None
    check(conf and vol and vol.get("name") == cm_name and os.path.basename(conf) == cm_key,
          f"daemonset: --config {conf} is the ConfigMap's {cm_key}")
    listen = str(cfg.get("listen", ""))
    port = int(listen.rsplit(":", 1)[1]) if ":" in listen else None
    check(any(p.get("containerPort") == port for p in c.get("ports", [])),
          f"daemonset: container port is the config's listen port {port}")
    check(listen.startswith(("0.0.0.0:", ":", "[::]:")),
          "config: listens on all addresses (probes and scrapes come to the pod IP)", listen)
    check_probes(c, port)
    check_mounts(spec, c, cfg.get("spool"))
    pin = cfg.get("pin_dir", "/sys/fs/bpf/podmeter")
    check(str(pin).startswith(BPFFS + "/"), f"config: pin_dir {pin} is on the bpffs mount")
    check(cfg.get("proc_root") == "/host/proc", "config: proc_root is the host's /proc mount")
    sa = spec.get("serviceAccountName")
    check(find(docs, "ServiceAccount", sa) is not None, f"daemonset: ServiceAccount {sa} exists")
    return ds, sa, labels, port


def check_configmap(docs, keys):
    cm = find(docs, "ConfigMap")
    if not check(cm is not None, "a ConfigMap"):
        return None, None, {}
    data = cm.get("data") or {}
    if not check("podmeter.yaml" in data, "configmap: has podmeter.yaml"):
        return cm, None, {}
    try:
        cfg = yaml.safe_load(data["podmeter.yaml"]) or {}
    except yaml.YAMLError as e:
        fail(f"configmap: podmeter.yaml is not YAML: {e}")
        return cm, "podmeter.yaml", {}
    check(isinstance(cfg, dict), "configmap: podmeter.yaml is a mapping")
    if keys is not None:
        unknown = sorted(set(cfg) - keys)
        check(not unknown, f"configmap: the agent knows all {len(cfg)} keys", ", ".join(unknown))
    return cm, "podmeter.yaml", cfg


def check_service(docs, pod_labels, port):
    svc = find(docs, "Service")
    if not check(svc is not None, "a Service"):
        return None
    s = svc["spec"]
    check(s.get("clusterIP") == "None", "service: headless")
    sel = s.get("selector") or {}
    check(sel and all(pod_labels.get(k) == v for k, v in sel.items()),
          "service: selects the agent's pods")
    check(any(p.get("name") == "metrics" and p.get("port") == port for p in s.get("ports", [])),
          f"service: port {port} named metrics")
    return svc


def check_servicemonitor(docs, svc):
    sm = find(docs, "ServiceMonitor")
    if not check(sm is not None and sm.get("apiVersion") == "monitoring.coreos.com/v1",
                 "a ServiceMonitor (monitoring.coreos.com/v1)"):
        return
    sel = (sm["spec"].get("selector") or {}).get("matchLabels") or {}
    labels = svc["metadata"].get("labels", {}) if svc else {}
    check(sel and all(labels.get(k) == v for k, v in sel.items()),
          "servicemonitor: selects the Service")
    check(any(e.get("port") == "metrics" for e in sm["spec"].get("endpoints", [])),
          "servicemonitor: scrapes the metrics port")


def check_uninstall(files, ns):
    docs = files.get(UNINSTALL)
    if not check(docs, f"{UNINSTALL} exists"):
        return
    for d in docs:
        if d.get("kind") not in ("Job", "DaemonSet"):
            continue
        spec = d["spec"]["template"]["spec"]
        cs = spec.get("initContainers", []) + spec.get("containers", [])
        un = [c for c in cs if (c.get("args") or c.get("command") or [None])[0] == "unpin"]
        if not check(un, f"{UNINSTALL}: a container runs podmeter unpin"):
            continue
        check_pod_security(un[0], f"{UNINSTALL}", None)
        m = {x["mountPath"]: x for x in un[0].get("volumeMounts", [])}.get(BPFFS)
        hp = (volume_of(spec, m).get("hostPath") or {}).get("path") if m else None
        check(m and hp == BPFFS and not m.get("readOnly"),
              f"{UNINSTALL}: host {BPFFS} mounted writable")
        check(d["metadata"].get("namespace") == ns, f"{UNINSTALL}: in namespace {ns}")


def check_networkpolicy(docs, pod_labels, port):
    """Only named scrapers reach the agent: every peer both namespace- and pod-selected."""
    np = find(docs, "NetworkPolicy")
    if not check(np is not None, "a NetworkPolicy"):
        return
    spec = np.get("spec") or {}
    sel = (spec.get("podSelector") or {}).get("matchLabels") or {}
    check(sel and all(pod_labels.get(k) == v for k, v in sel.items()),
          "networkpolicy: selects the agent's pods", str(sel))
    check("Ingress" in (spec.get("policyTypes") or []), "networkpolicy: governs ingress")
    rules = spec.get("ingress") or []
    check(rules, "networkpolicy: admits someone (else not even the scraper)")
    for i, r in enumerate(rules):
        peers = r.get("from") or []
        ports = r.get("ports") or []
        check(peers, f"networkpolicy: rule {i} names its peers (no from: everyone)")
        check(ports and all(p.get("port") in (port, "metrics") for p in ports),
              f"networkpolicy: rule {i} opens only port {port}", str(ports))
        for peer in peers:
            ns_sel = (peer.get("namespaceSelector") or {}).get("matchLabels")
            pod_sel = (peer.get("podSelector") or {}).get("matchLabels")
            check(ns_sel and pod_sel and not peer.get("ipBlock"),
                  f"networkpolicy: rule {i} peer needs a namespace and a pod label "
                  "(tenants label their own pods)", str(peer))


def load_kustomization(path):
    try:
        with open(os.path.join(path, KUSTOMIZATION)) as f:
            return yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        fail(f"{os.path.relpath(path, ROOT)}: {e}")
        return None


def component_ops(name, kind):
    """The JSON-patch operations a component applies to objects of @kind."""
    k = load_kustomization(os.path.join(COMPONENTS, name))
    if k is None:
        return None
    check(k.get("kind") == "Component" and not k.get("resources"),
          f"components/{name}: a Component that adds no object")
    ops = []
    for p in k.get("patches") or []:
        if p.get("target", {}).get("kind") == kind:
            ops += yaml.safe_load(p.get("patch", "")) or []
    return ops


def check_components():
    ops = component_ops("gpu", "DaemonSet")
    if ops is not None:
        check(ops == [{"op": "add",
                       "path": "/spec/template/spec/containers/0/securityContext/capabilities/add/-",
                       "value": "SYS_ADMIN"}],
              "components/gpu: adds CAP_SYS_ADMIN and nothing else", repr(ops))
    ops = component_ops("nodes-proxy", "ClusterRole")
    if ops is not None:
        check(ops == [{"op": "add", "path": "/rules/-",
                       "value": {"apiGroups": [""], "resources": ["nodes/proxy"],
                                 "verbs": ["get"]}}],
              "components/nodes-proxy: adds nodes/proxy get and nothing else", repr(ops))
    for name in ("gpu", "nodes-proxy"):
        k = load_kustomization(os.path.join(OVERLAYS, name))
        if k is not None:
            check(k.get("resources") == ["../../kubernetes"] and
                  k.get("components") == [f"../../components/{name}"],
                  f"overlays/{name}: the base with components/{name}")


def kustomize(path, what=None):
    """kubectl kustomize @path, as documents; None (and a failure) when it does not render."""
    p = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                       timeout=120)
    what = what or os.path.relpath(path, ROOT)
    if not check(p.returncode == 0, f"kubectl kustomize {what} renders",
                 p.stderr.strip()[-300:]):
        return None
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def rendered_agent(docs):
    ds = find(docs, "DaemonSet")
    return ds["spec"]["template"]["spec"] if ds else {}


def check_web_config(docs, what):
    """The web-config component: --web-config from the mounted Secret, HTTPS probes, TLS scrapes."""
    spec = rendered_agent(docs)
    c = (spec.get("containers") or [{}])[0]
    conf = arg_value(c.get("args") or [], "--web-config")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    m = mounts.get(os.path.dirname(conf or ""))
    secret = (volume_of(spec, m).get("secret") or {}).get("secretName") if m else None
    check(conf and secret and m.get("readOnly"),
          f"{what}: --web-config {conf} from Secret {secret}, mounted read-only")
    for probe in ("livenessProbe", "readinessProbe"):
        g = (c.get(probe) or {}).get("httpGet") or {}
        check(g.get("scheme") == "HTTPS" and g.get("path") == "/healthz",
              f"{what}: {probe} over HTTPS (/healthz needs no token)", str(g))
    sm = find(docs, "ServiceMonitor")
    ep = ((sm or {}).get("spec", {}).get("endpoints") or [{}])[0]
    check(ep.get("scheme") == "https" and (ep.get("authorization") or {}).get("type") == "Bearer"
          and (ep.get("tlsConfig") or {}).get("ca"),
          f"{what}: the ServiceMonitor scrapes over verified TLS with a bearer token", str(ep))


def check_renders():
    """The base, each overlay and all components at once, through kustomize itself."""
    if not shutil.which("kubectl"):
        print("  skip  kubectl not installed: renderings not checked")
        return
    base = kustomize(MANIFESTS)
    if base is not None:
        got, _ = role_grants(find(base, "ClusterRole") or {})
        check(got == RBAC_WANTED, "rendered base: ClusterRole nodes/pods get", str(sorted(got)))
        check(find(base, "NetworkPolicy") is not None, "rendered base: the NetworkPolicy")
    proxy = kustomize(os.path.join(OVERLAYS, "nodes-proxy"))
    if proxy is not None:
        got, _ = role_grants(find(proxy, "ClusterRole") or {})
        check(got == RBAC_FALLBACK, "rendered overlays/nodes-proxy: nodes/pods and nodes/proxy get",
              str(sorted(got)))
    gpu = kustomize(os.path.join(OVERLAYS, "gpu"))
    if gpu is not None:
        caps = rendered_agent(gpu)["containers"][0]["securityContext"]["capabilities"]["add"]
        check("SYS_ADMIN" in caps, "rendered overlays/gpu: SYS_ADMIN added", str(caps))
    tmp = tempfile.mkdtemp(prefix="podmeter-kustomize-")
    try:
        rel = os.path.relpath(PACKAGING, tmp)
        with open(os.path.join(tmp, KUSTOMIZATION), "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                            "kind": "Kustomization", "resources": [f"{rel}/kubernetes"],
                            "components": [f"{rel}/components/{n}" for n in
                                           ("gpu", "nodes-proxy", "web-config")]}, f)
        every = kustomize(tmp, "the base with every component")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if every is not None:
        got, _ = role_grants(find(every, "ClusterRole") or {})
        check(got == RBAC_FALLBACK, "rendered with every component: the fallback role",
              str(sorted(got)))
        check_web_config(every, "rendered with every component")


def main():
    global PODMETER
    PODMETER = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PODMETER", "build/podmeter")
    print(f"== packaging/kubernetes, against {PODMETER}")
    files = load_manifests()
    check_files(files)
    kust = check_kustomization(files)
    ns = check_namespaces(files, kust)
    docs = [d for n, ds in files.items() if n not in (KUSTOMIZATION, UNINSTALL) for d in ds]
    caps = required_caps()
    keys = known_keys()
    cm, cm_key, cfg = check_configmap(docs, keys)
    r = check_daemonset(docs, caps, keys, cfg, cm["metadata"]["name"] if cm else None, cm_key)
    if r:
        _, sa, labels, port = r
        check_rbac(docs, ns, sa)
        svc = check_service(docs, labels, port)
        check_servicemonitor(docs, svc)
        check_networkpolicy(docs, labels, port)
    check_uninstall(files, ns)
    check_components()
    check_renders()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
