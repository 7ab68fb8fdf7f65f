#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A stand-in forge for the reconciler's tests: the REST shapes of GitHub
(/github/...), GitLab (/gitlab/api/v4/...) and Gitea (/gitea/api/v1/...)
that podmeter-reconciler uses, with state: pull (merge) requests open,
merged, closed; labels; comments; issues. One open pull request per head
and base: a second is refused as the real ones do (GitHub 422, GitLab and
Gitea 409). Requests need the token of --token-file, in each forge's header.

Admin (for the test, no token):
  GET  /_admin/state                      everything, as JSON
  POST /_admin/merge?forge=F&number=N&merged_at=T   merge: the base branch of
       --git-dir moves to the pull request's head (fast-forward, else a
       commit of its tree on the base), merged_at T (unix seconds)
  POST /_admin/close?forge=F&number=N     closed unmerged, as a person would
  POST /_admin/hide_next_list?forge=F     the next list of pull requests is
       empty (a lookup that misses one: create must meet 422/409)

    fake_forge.py --port P --token-file F --git-dir BARE [--lifetime S]
"""
import argparse
import http.server
import json
import re
import subprocess
import threading
import time
import urllib.parse

LOCK = threading.Lock()


def iso(t):
    return None if not t else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Forge:
    def __init__(self, name):
        self.name = name
        self.prs = []          # dicts
        self.issues = []
        self.labels = {}       # gitea: name -> id
        self.next = 1
        self.hide_list = False
        self.calls = []

    def new_number(self):
        n = self.next
        self.next += 1
        return n


FORGES = {f: Forge(f) for f in ("github", "gitlab", "gitea")}


def pr_json(forge, p):
    if forge.name == "gitlab":
        return {"iid": p["number"], "id": 1000 + p["number"], "web_url": p["url"],
                "state": {"open": "opened"}.get(p["state"], p["state"]),
                "source_branch": p["head"], "target_branch": p["base"], "title": p["title"],
                "description": p["body"], "labels": p["labels"],
                "merged_at": iso(p["merged_at"]), "closed_at": iso(p["closed_at"])}
    st = "closed" if p["state"] in ("closed", "merged") else "open"
    out = {"number": p["number"], "html_url": p["url"], "state": st, "title": p["title"],
           "body": p["body"], "merged": p["state"] == "merged",
           "merged_at": iso(p["merged_at"]), "closed_at": iso(p["closed_at"]),
           "head": {"ref": p["head"]}, "base": {"ref": p["base"]},
           "labels": [{"name": l} for l in p["labels"]]}
    return out


def issue_json(forge, i):
    if forge.name == "gitlab":
        return {"iid": i["number"], "title": i["title"], "description": i["body"],
                "labels": i["labels"], "state": "opened"}
    return {"number": i["number"], "title": i["title"], "body": i["body"], "state": "open",
            "labels": [{"name": l} for l in i["labels"]]}


def git(args, git_dir):
    return subprocess.run(["git", "--git-dir", git_dir] + args, check=True,
                          capture_output=True, text=True).stdout.strip()


def merge_branch(git_dir, head, base):
    h = git(["rev-parse", "refs/heads/" + head], git_dir)
    b = git(["rev-parse", "refs/heads/" + base], git_dir)
    if git(["rev-parse", h + "^"], git_dir) == b:
        git(["update-ref", "refs/heads/" + base, h, b], git_dir)
        return h
    tree = git(["rev-parse", h + "^{tree}"], git_dir)
    c = git(["-c", "user.name=forge", "-c", "user.email=forge@test", "commit-tree", tree,
             "-p", b, "-m", "merge " + head], git_dir)
    git(["update-ref", "refs/heads/" + base, c, b], git_dir)
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--git-dir", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    token = open(args.token_file).read().strip()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            return json.loads(raw) if raw else {}

        def authed(self, forge):
            if forge.name == "gitlab":
                got = self.headers.get("PRIVATE-TOKEN")
            elif forge.name == "gitea":
                got = (self.headers.get("Authorization") or "").removeprefix("token ")
            else:
                got = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            return got == token

        def route(self, method):
            url = urllib.parse.urlparse(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            path = url.path
            with LOCK:
                if path.startswith("/_admin/"):
                    return self.admin(method, path[len("/_admin/"):], q)
                for name, prefix in (("github", "/github"), ("gitlab", "/gitlab/api/v4"),
                                     ("gitea", "/gitea/api/v1")):
                    if path.startswith(prefix + "/"):
                        forge = FORGES[name]
                        if not self.authed(forge):
                            return self.send(401, {"message": "Bad credentials"})
                        forge.calls.append([method, path[len(prefix):], q])
                        body = self.body() if method in ("POST", "PATCH", "PUT") else {}
                        return self.api(forge, method, path[len(prefix):], q, body)
            self.send(404, {"message": "Not Found"})

        def admin(self, method, what, q):
            if what == "state":
                return self.send(200, {n: {"prs": f.prs, "issues": f.issues, "calls": f.calls}
                                       for n, f in FORGES.items()})
            forge = FORGES[q.get("forge", "github")]
            if what == "hide_next_list":
                forge.hide_list = True
                return self.send(200, {})
            p = next((p for p in forge.prs if p["number"] == int(q["number"])), None)
            if not p or p["state"] != "open":
                return self.send(409, {"message": "not open"})
            if what == "merge":
                p["merge_sha"] = merge_branch(args.git_dir, p["head"], p["base"])
                p["state"] = "merged"
                p["merged_at"] = float(q.get("merged_at") or time.time())
                p["closed_at"] = p["merged_at"]
                return self.send(200, p)
            if what == "close":
                p["state"] = "closed"
                p["closed_at"] = float(q.get("closed_at") or time.time())
                return self.send(200, p)
            self.send(404, {})

        def api(self, forge, method, path, q, body):
            m = re.match(r"^/(?:repos/[^/]+/[^/]+|projects/[^/]+)/(pulls|merge_requests|issues|labels)"
                         r"(?:/(\d+))?(?:/(comments|notes|labels))?(?:/([^/]+))?$", path)
            if not m:
                return self.send(404, {"message": "Not Found"})
            kind, num, sub, subid = m.groups()
            if kind in ("pulls", "merge_requests"):
                return self.pulls(forge, method, num, sub, q, body)
            if kind == "labels":
                return self.labels(forge, method, body)
            return self.issues(forge, method, num, sub, subid, q, body)

        def pulls(self, forge, method, num, sub, q, body):
            if num is None and method == "GET":
                if forge.hide_list:
                    forge.hide_list = False
                    return self.send(200, [])
                want = {"github": "open", "gitea": "open", "gitlab": "opened"}[forge.name]
                out = [p for p in forge.prs if q.get("state", want) == want and p["state"] == "open"]
                if forge.name == "github" and "head" in q:
                    out = [p for p in out if q["head"].split(":", 1)[-1] == p["head"]]
                if "base" in q:
                    out = [p for p in out if p["base"] == q["base"]]
                if forge.name == "gitlab":
                    out = [p for p in out if p["head"] == q.get("source_branch", p["head"])
                           and p["base"] == q.get("target_branch", p["base"])]
                if forge.name == "gitea":
                    page, limit = int(q.get("page", 1)), int(q.get("limit", 50))
                    out = out[(page - 1) * limit:page * limit]
                return self.send(200, [pr_json(forge, p) for p in out])
            if num is None and method == "POST":
                head = body.get("head") or body.get("source_branch")
                base = body.get("base") or body.get("target_branch")
                if any(p["head"] == head and p["base"] == base and p["state"] == "open"
                       for p in forge.prs):
                    code = 422 if forge.name == "github" else 409
                    return self.send(code, {"message": "A pull request already exists for %s" % head})
                n = forge.new_number()
                labels = [l for l in (body.get("labels") or "").split(",") if l] \
                    if forge.name == "gitlab" else []
                p = {"number": n, "head": head, "base": base, "title": body.get("title", ""),
                     "body": body.get("body", body.get("description", "")), "state": "open",
                     "merged_at": None, "closed_at": None, "labels": labels, "comments": [],
                     "url": "http://forge.test/%s/pull/%d" % (forge.name, n),
                     "created_at": time.time()}
                forge.prs.append(p)
                return self.send(201, pr_json(forge, p))
            p = next((p for p in forge.prs if p["number"] == int(num)), None)
            if not p:
                return self.send(404, {"message": "Not Found"})
            if sub in ("notes", "comments") and method == "POST":
                p["comments"].append(body.get("body", ""))
                return self.send(201, {"id": len(p["comments"])})
            if method == "GET":
                return self.send(200, pr_json(forge, p))
            if method in ("PATCH", "PUT"):
                if "title" in body:
                    p["title"] = body["title"]
                if "body" in body or "description" in body:
                    p["body"] = body.get("body", body.get("description"))
                if body.get("state") == "closed" or body.get("state_event") == "close":
                    if p["state"] == "open":
                        p["state"] = "closed"
                        p["closed_at"] = time.time()
                for l in (body.get("add_labels") or "").split(","):
                    if l and l not in p["labels"]:
                        p["labels"].append(l)
                for l in (body.get("remove_labels") or "").split(","):
                    if l in p["labels"]:
                        p["labels"].remove(l)
                return self.send(200, pr_json(forge, p))
            self.send(405, {"message": "Method Not Allowed"})

        def labels(self, forge, method, body):
            if method == "GET":
                return self.send(200, [{"id": i, "name": n} for n, i in forge.labels.items()])
            name = body["name"]
            forge.labels.setdefault(name, len(forge.labels) + 1)
            self.send(201, {"id": forge.labels[name], "name": name})

        def issues(self, forge, method, num, sub, subid, q, body):
            byid = {i: n for n, i in forge.labels.items()}
            if num is None and method == "GET":
                want = q.get("labels")
                out = [i for i in forge.issues if not want or want in i["labels"]]
                return self.send(200, [issue_json(forge, i) for i in out])
            if num is None and method == "POST":
                labels = body.get("labels") or []
                if isinstance(labels, str):
                    labels = [l for l in labels.split(",") if l]
                labels = [byid.get(l, l) if isinstance(l, int) else l for l in labels]
                n = forge.new_number()
                i = {"number": n, "title": body.get("title", ""),
                     "body": body.get("body", body.get("description", "")), "labels": labels,
                     "updates": 0}
                forge.issues.append(i)
                return self.send(201, issue_json(forge, i))
            # /issues/N/...: a pull request's comments and labels (GitHub, Gitea), or an issue
            n = int(num)
            p = next((p for p in forge.prs if p["number"] == n), None)
            i = next((i for i in forge.issues if i["number"] == n), None)
            if sub == "comments" and p:
                p["comments"].append(body.get("body", ""))
                return self.send(201, {"id": len(p["comments"])})
            if sub == "labels" and p:
                if method == "POST":
                    for l in body.get("labels", []):
                        l = byid.get(l, l) if isinstance(l, int) else l
                        if l not in p["labels"]:
                            p["labels"].append(l)
                    return self.send(200, [{"name": l} for l in p["labels"]])
                if method == "DELETE":
                    name = urllib.parse.unquote(subid or "")
                    name = byid.get(int(name), name) if name.isdigit() else name
                    if name not in p["labels"]:
                        return self.send(404, {"message": "Label does not exist"})
                    p["labels"].remove(name)
                    return self.send(200, [])
            if i and method in ("PATCH", "PUT"):
                i["title"] = body.get("title", i["title"])
                i["body"] = body.get("body", body.get("description", i["body"]))
                i["updates"] += 1
                return self.send(200, issue_json(forge, i))
            if i and method == "GET":
                return self.send(200, issue_json(forge, i))
            self.send(404, {"message": "Not Found"})

        def do_GET(self):
            self.route("GET")

        def do_POST(self):
            self.route("POST")

        def do_PATCH(self):
            self.route("PATCH")

        def do_PUT(self):
            self.route("PUT")

        def do_DELETE(self):
            self.route("DELETE")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), H)
    threading.Timer(args.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
