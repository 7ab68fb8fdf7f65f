#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A stand-in Kubernetes API server for the reconciler's tests: answers
POST /apis/authentication.k8s.io/v1/tokenreviews as the API server does.
The caller must present --caller-token (the reconciler's own ServiceAccount
token), or gets 401. Tokens it knows come from --tokens FILE, lines
"TOKEN NODE [USERNAME]" (USERNAME defaults to the agents' ServiceAccount);
a token with NODE "-" has no node claim. Re-read on each request. The
MODE file says "ok", or "down" (answers 503). Each review is appended to
MODE.log as "TOKEN AUDIENCES". Stops by itself after --lifetime seconds.

    fake_apiserver.py --port P --tokens FILE --caller-token T --mode-file FILE
"""
import argparse
import http.server
import json
import threading

AGENT_USER = "system:serviceaccount:podmeter:podmeter"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--caller-token", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()

    def known():
        out = {}
        for line in open(args.tokens):
            f = line.split()
            if len(f) >= 2:
                out[f[0]] = (f[1], f[2] if len(f) > 2 else AGENT_USER)
        return out

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            req = self.rfile.read(length)
            if open(args.mode_file).read().strip() == "down":
                return self.answer(503, {"kind": "Status", "message": "unavailable"})
            if self.headers.get("Authorization") != "Bearer " + args.caller_token:
                return self.answer(401, {"kind": "Status", "message": "Unauthorized"})
            if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
                return self.answer(404, {"kind": "Status", "message": "not found"})
            review = json.loads(req)
            spec = review.get("spec", {})
            token = spec.get("token", "")
            with open(args.mode_file + ".log", "a") as f:
                f.write("%s %s\n" % (token, ",".join(spec.get("audiences", []))))
            status = {"authenticated": False, "error": "invalid bearer token"}
            who = known().get(token)
            if who:
                node, user = who
                extra = {} if node == "-" else {"authentication.kubernetes.io/node-name": [node]}
                status = {"authenticated": True,
                          "user": {"username": user, "uid": "u-" + token[:6],
                                   "groups": ["system:serviceaccounts"], "extra": extra},
                          "audiences": spec.get("audiences", [])}
            review["status"] = status
            self.answer(201, review)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    threading.Timer(args.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
