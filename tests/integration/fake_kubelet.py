#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A stand-in kubelet for the tests: serves GET /pods from a PodList file,
misbehaving as the file MODE says: ok, 500, hang (accepts, never answers),
truncated (half the body), garbage; or "big": a PodList of --big-pods pods
with --big-annotation-bytes of annotations each, written in chunks as it is
made (the largest list a node serves is 250 pods of 1 MiB: 250 MiB), its
first pod --big-uid, named big-0. HTTPS when given a certificate and key.
The Authorization header of the last request goes to MODE.auth, and its
path to MODE.path; each big list sent whole adds a line "BYTES" to MODE.sent.
Paths other than /pods (or the API server's /api/v1/nodes/NODE/proxy/pods)
get a 404, as from a kubelet.
Stops by itself after --lifetime seconds.

    fake_kubelet.py --port P --podlist FILE --mode-file FILE [--cert C --key K]
"""
import argparse
import http.server
import json
import ssl
import threading
import time
import uuid

ANNOTATION_VALUE_BYTES = 64 << 10


def big_pod(i, uid, annotation_bytes):
    """One pod, as the kubelet writes it, with ANNOTATION_BYTES of annotations."""
    # values with escapes, as JSON documents in annotations have
    chunk = 'x' * 60 + '"q\n'
    value = json.dumps((chunk * (ANNOTATION_VALUE_BYTES // len(chunk) + 1))[:ANNOTATION_VALUE_BYTES])
    n = max(1, annotation_bytes // ANNOTATION_VALUE_BYTES)
    head = json.dumps({"name": "big-%d" % i, "namespace": "bulk", "uid": uid,
                       "labels": {"app": "bulk"}})[:-1]
    ann = ",".join('"example.com/a%d":%s' % (k, value) for k in range(n))
    rest = json.dumps({
        "spec": {"nodeName": "node-a", "containers": [
            {"name": "app", "image": "bulk:1", "resources": {
                "requests": {"cpu": "100m", "memory": "64Mi"}}}]},
        "status": {"phase": "Running", "qosClass": "Burstable"}})[1:]
    return ('{"metadata":%s,"annotations":{%s}},%s' % (head, ann, rest)).encode()


def send_big(wfile, pods, annotation_bytes, first_uid):
    """The PodList, pod by pod, a chunk each (as a kubelet streams a list it
    has no length for): never whole in this process either."""
    sent = 0
    for part in iter_big(pods, annotation_bytes, first_uid):
        wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        sent += len(part)
    wfile.write(b"0\r\n\r\n")
    return sent


def iter_big(pods, annotation_bytes, first_uid):
    yield b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":['
    for i in range(pods):
        if i:
            yield b","
        yield big_pod(i, first_uid if i == 0 else str(uuid.uuid4()), annotation_bytes)
    yield b"]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--podlist", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--big-pods", type=int, default=250)
    ap.add_argument("--big-annotation-bytes", type=int, default=1 << 20)
    ap.add_argument("--big-uid", default=str(uuid.uuid4()))
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            with open(args.mode_file + ".auth", "w") as f:
                f.write(self.headers.get("Authorization", ""))
            with open(args.mode_file + ".path", "w") as f:
                f.write(self.path)
            route = self.path.split("?")[0]
            if route != "/pods" and not (route.startswith("/api/v1/nodes/")
                                         and route.endswith("/proxy/pods")):
                self.send_response(404)
                self.end_headers()
                self.wfile.write(b"404 page not found")
                return
            mode = open(args.mode_file).read().strip()
            body = open(args.podlist, "rb").read()
            if mode == "big":
                self.protocol_version = "HTTP/1.1"  # chunked is HTTP/1.1's
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    n = send_big(self.wfile, args.big_pods, args.big_annotation_bytes,
                                 args.big_uid)
                except (BrokenPipeError, ConnectionResetError):
                    return
                with open(args.mode_file + ".sent", "a") as f:
                    f.write("%d\n" % n)
                return
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
