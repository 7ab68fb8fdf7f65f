#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A stand-in kubelet for the tests: serves GET /pods from a PodList file,
misbehaving as the file MODE says: ok, 500, hang (accepts, never answers),
truncated (half the body), garbage. HTTPS when given a certificate and key.
The Authorization header of the last request goes to MODE.auth.
Stops by itself after --lifetime seconds.

    fake_kubelet.py --port P --podlist FILE --mode-file FILE [--cert C --key K]
"""
import argparse
import http.server
import ssl
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--podlist", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=120)
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            with open(args.mode_file + ".auth", "w") as f:
                f.write(self.headers.get("Authorization", ""))
            mode = open(args.mode_file).read().strip()
            body = open(args.podlist, "rb").read()
            if mode == "hang":
                time.sleep(30)
                return
            if mode == "500":
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"internal error")
                return
            if mode == "garbage":
                body = b"<html>502 Bad Gateway</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "truncated":
                body = body[: len(body) // 2]
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Timer(args.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
