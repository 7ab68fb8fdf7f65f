#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Records every open and read of the files given, as the kernel reports them
(fanotify FAN_OPEN, FAN_ACCESS, with the pid that did it), one line each to
OUT: "<mask hex> <pid> <comm> <path>". Prints "watching" once the marks are
in place; stops when STOP exists or after --lifetime seconds. Needs root.

    open_watch.py --out OUT --stop STOP FILE...
"""
import argparse
import ctypes
import os
import select
import struct
import time

FAN_CLASS_NOTIF = 0x0
FAN_CLOEXEC = 0x1
FAN_NONBLOCK = 0x2
FAN_MARK_ADD = 0x1
FAN_ACCESS = 0x1
FAN_OPEN = 0x20
AT_FDCWD = -100
META = struct.Struct("IBBHQii")	# event_len, vers, reserved, metadata_len, mask, fd, pid


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() or "?"
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    libc = ctypes.CDLL(None, use_errno=True)
    libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int,
                                   ctypes.c_char_p]
    fd = libc.fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, os.O_RDONLY)
    if fd < 0:
        raise SystemExit("fanotify_init: %s" % os.strerror(ctypes.get_errno()))
    for p in args.files:
        if libc.fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN | FAN_ACCESS, AT_FDCWD, p.encode()):
            raise SystemExit("fanotify_mark %s: %s" % (p, os.strerror(ctypes.get_errno())))
    out = open(args.out, "a", buffering=1)
    print("watching", flush=True)
    until = time.monotonic() + args.lifetime
    while time.monotonic() < until and not os.path.exists(args.stop):
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            continue
        buf = os.read(fd, 65536)
        off = 0
        while off + META.size <= len(buf):
            n, _, _, _, mask, efd, pid = META.unpack_from(buf, off)
            off += n if n else META.size
            path = "?"
            if efd >= 0:
                try:
                    path = os.readlink("/proc/self/fd/%d" % efd)
                finally:
                    os.close(efd)
            out.write("%08x %d %s %s\n" % (mask, pid, comm(pid), path))


if __name__ == "__main__":
    main()
