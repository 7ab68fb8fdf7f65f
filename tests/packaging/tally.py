# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""ok/FAIL lines in the style of tests/integration/lib.sh, and their count."""

passes = 0
fails = 0


def ok(msg):
    global passes
    passes += 1
    print(f"  ok    {msg}")


def fail(msg):
    global fails
    fails += 1
    print(f"  FAIL  {msg}")


def check(cond, msg, why=""):
    if cond:
        ok(msg)
    else:
        fail(f"{msg}: {why}" if why else msg)
    return cond


def summary():
    """Print the count; the exit status: 1 when anything failed."""
    print(f"{passes} passed, {fails} failed")
    return 1 if fails else 0
