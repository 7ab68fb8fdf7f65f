#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A faulty reconciler for the tests: passes POSTs through to a receiver, or
misbehaves as the file MODE says:
  pass      forward the request and relay the answer
  500       answer 500 without forwarding
  hang      read the request, never answer
  close     forward the request, then close the connection halfway through
            the answer's body (the receiver has stored it: a retry must be
            dropped there as a duplicate)
Each request's outcome is appended to MODE.log. Stops after --lifetime s.

    fault_proxy.py --port P --to HOST:PORT --mode-file FILE
"""
import argparse
import http.client
import http.server
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    host, port = args.to.rsplit(":", 1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mode = open(args.mode_file).read().strip()
            with open(args.mode_file + ".log", "a") as f:
                f.write("%s %s\n" % (mode, self.headers.get("X-Podmeter-Seq", "?")))
            if mode == "500":
                self.send_response(500)
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"oops\n")
                return
            if mode == "hang":
                time.sleep(60)
                return
            c = http.client.HTTPConnection(host, int(port), timeout=10)
            hdrs = {k: v for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection")}
            try:
                c.request("POST", self.path, body, hdrs)
                r = c.getresponse()
                status, data = r.status, r.read()
            except OSError as e:    # the receiver is down: a gateway's answer
                status, data = 502, str(e).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data) + 100))
            self.end_headers()
            if mode == "close":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data + b" " * 100)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    threading.Timer(args.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
