#!/usr/bin/env python3
"""jsoncmp.py GOLDEN ACTUAL: compare JSON documents by value.

ACTUAL holds one JSON document per line (modrun -a), GOLDEN a JSON array
of the same documents.  Objects compare as key sets (order-free, but a
duplicate key in ACTUAL is an error), numbers within 1e-9 relative, all
else exactly.  Prints the first difference with its path and exits 1.
"""
import json
import math
import sys


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in %r" % keys)
    return dict(pairs)


def diff(a, b, path):
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a is b else path
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
            return None
        return "%s: %r != %r" % (path, a, b)
    if type(a) is not type(b):
        return "%s: %r != %r" % (path, a, b)
    if isinstance(a, dict):
        if set(a) != set(b):
            return "%s: keys %s != %s" % (path, sorted(a), sorted(b))
        for k in sorted(a):
            d = diff(a[k], b[k], "%s/%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: %d items != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b else "%s: %r != %r" % (path, a, b)


def main():
    with open(sys.argv[1]) as f:
        golden = json.load(f)
    with open(sys.argv[2]) as f:
        actual = [json.loads(l, object_pairs_hook=no_dups)
                  for l in f if l.strip()]
    d = diff(golden, actual, "")
    if d:
        print("jsoncmp: %s differs from golden %s at %s"
              % (sys.argv[2], sys.argv[1], d))
        sys.exit(1)


main()
