#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Writes a one-layer OCI image archive (an OCI layout as a tar, what
`ctr image import` takes) from files on this machine, with no registry.

    oci_image.py --out IMAGE.tar --name REF [--entry IMAGE_PATH=HOST_PATH]...
                 [--link IMAGE_PATH=TARGET]... [--dir IMAGE_PATH]...

Files keep their mode; parent directories are made as needed. The layer is
uncompressed, its entries in a fixed order with fixed times, so the same
inputs make the same image.
"""
import argparse
import hashlib
import io
import json
import os
import tarfile

MTIME = 1700000000


def add_dirs(tar, seen, path):
    parts = path.strip("/").split("/")[:-1]
    for i in range(len(parts)):
        d = "/".join(parts[: i + 1])
        if d in seen:
            continue
        seen.add(d)
        ti = tarfile.TarInfo(d)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        ti.mtime = MTIME
        tar.addfile(ti)


def layer(entries, links, dirs):
    buf = io.BytesIO()
    seen = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(dirs):
            add_dirs(tar, seen, d.rstrip("/") + "/x")
        for dst, src in sorted(entries.items()):
            add_dirs(tar, seen, dst)
            st = os.stat(src)
            ti = tarfile.TarInfo(dst.strip("/"))
            ti.size = st.st_size
            ti.mode = st.st_mode & 0o7777
            ti.mtime = MTIME
            with open(src, "rb") as f:
                tar.addfile(ti, f)
        for dst, target in sorted(links.items()):
            add_dirs(tar, seen, dst)
            ti = tarfile.TarInfo(dst.strip("/"))
            ti.type = tarfile.SYMTYPE
            ti.linkname = target
            ti.mode = 0o777
            ti.mtime = MTIME
            tar.addfile(ti)
    return buf.getvalue()


def blob(blobs, media_type, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def pairs(items):
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.startswith("/"):
            raise SystemExit("oci_image: expected /IMAGE_PATH=VALUE, got %r" % item)
        out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--entry", action="append", default=[])
    ap.add_argument("--link", action="append", default=[])
    ap.add_argument("--dir", action="append", default=[])
    args = ap.parse_args()

    blobs = {}
    data = layer(pairs(args.entry), pairs(args.link), args.dir)
    layer_desc = blob(blobs, "application/vnd.oci.image.layer.v1.tar", data)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin:/opt/pm"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
    }
    config_desc = blob(blobs, "application/vnd.oci.image.config.v1+json",
                       json.dumps(config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    man_desc = blob(blobs, "application/vnd.oci.image.manifest.v1+json",
                    json.dumps(manifest, sort_keys=True).encode())
    man_desc["annotations"] = {"io.containerd.image.name": args.name,
                               "org.opencontainers.image.ref.name": args.name.rsplit(":", 1)[-1]}
    man_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [man_desc]}

    with tarfile.open(args.out, "w") as tar:
        files = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                 ("index.json", json.dumps(index, sort_keys=True).encode())]
        files += [("blobs/sha256/" + d.split(":", 1)[1], b) for d, b in sorted(blobs.items())]
        for d in ("blobs", "blobs/sha256"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            ti.mtime = MTIME
            tar.addfile(ti)
        for name, b in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(b)
            ti.mode = 0o644
            ti.mtime = MTIME
            tar.addfile(ti, io.BytesIO(b))


if __name__ == "__main__":
    main()
