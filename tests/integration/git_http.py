#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""git's smart HTTP(S) protocol for the reconciler's tests: git-http-backend
behind basic authentication (user and the password in --password-file),
over TLS when given a certificate and key. Request bodies are read whole
(chunked ones decoded, as libgit2 pushes them) and handed to the backend.

    git_http.py --port P --root DIR --user U --password-file F [--cert C --key K]
"""
import argparse
import base64
import http.server
import os
import ssl
import subprocess
import threading

BACKEND = "/usr/lib/git-core/git-http-backend"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    want = "Basic " + base64.b64encode(
        ("%s:%s" % (args.user, open(args.password_file).read().strip())).encode()).decode()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    n = int(self.rfile.readline().split(b";")[0], 16)
                    if n == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(n)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def serve(self):
            data = self.body() if self.command == "POST" else b""
            if self.headers.get("Authorization") != want:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            env = dict(os.environ, GIT_PROJECT_ROOT=args.root, GIT_HTTP_EXPORT_ALL="1",
                       REQUEST_METHOD=self.command, PATH_INFO=path, QUERY_STRING=query,
                       CONTENT_TYPE=self.headers.get("Content-Type", ""),
                       CONTENT_LENGTH=str(len(data)), REMOTE_USER=args.user,
                       REMOTE_ADDR="127.0.0.1", GIT_CONFIG_COUNT="1",
                       GIT_CONFIG_KEY_0="http.receivepack", GIT_CONFIG_VALUE_0="true")
            out = subprocess.run([BACKEND], input=data, env=env, capture_output=True).stdout
            head, _, rest = out.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.decode().split("\r\n"):
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(rest)))
            self.end_headers()
            self.wfile.write(rest)

        do_GET = serve
        do_POST = serve

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), H)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Timer(args.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
