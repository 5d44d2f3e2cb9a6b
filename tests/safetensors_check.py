#!/usr/bin/python3
"""Reads a .safetensors file with nothing but json and NumPy (no randes, no
`safetensors` package) and checks that it is well formed.

    /usr/bin/python3 tests/safetensors_check.py FILE [--expect-ramp]
                     [--meta KEY=VALUE]... [--quiet]

Prints every tensor (name, dtype, shape, sum) and the metadata, then checks:
the 8-byte little-endian header length, the JSON header, dtype F32, shapes
matching the byte ranges, data_offsets tiling the data exactly (no gap, no
overlap, nothing after the last tensor), the data starting at a multiple of
8 bytes.  --expect-ramp checks the values written by test-safetensors: the
float at global index g (g = data_offsets[0] / 4 + j) equals
((g * 37) % 1001 - 500) / 64.  --meta checks a metadata value.
Exit status 0 when every check passes, 1 otherwise (with the reason).
"""
import json
import sys

import numpy as np


def fail(msg):
    print("safetensors_check: " + msg, file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) < 2:
        fail("usage: safetensors_check.py FILE [--expect-ramp] "
             "[--meta KEY=VALUE]... [--quiet]")
    path = argv[1]
    ramp = "--expect-ramp" in argv[2:]
    quiet = "--quiet" in argv[2:]
    want_meta = {}
    args = argv[2:]
    for i, a in enumerate(args):
        if a == "--meta":
            key, _, value = args[i + 1].partition("=")
            want_meta[key] = value

    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        fail("file shorter than 8 bytes")
    n = int.from_bytes(raw[:8], "little")
    if 8 + n > len(raw):
        fail("header length %d past the end of the file" % n)
    if (8 + n) % 8:
        fail("data does not start at a multiple of 8 bytes")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]

    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str)
               for k, v in meta.items()):
        fail("__metadata__ is not a string map")
    spans = []
    for name, info in header.items():
        if info.get("dtype") != "F32":
            fail("%s: dtype %r" % (name, info.get("dtype")))
        shape = info["shape"]
        begin, end = info["data_offsets"]
        count = int(np.prod(shape)) if shape else 1
        if end - begin != 4 * count:
            fail("%s: %d bytes for shape %s" % (name, end - begin, shape))
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape)
        spans.append((begin, end, name))
        if ramp:
            g = begin // 4 + np.arange(count, dtype=np.int64)
            want = (((g * 37) % 1001 - 500) / 64.0).astype(np.float32)
            if not np.array_equal(arr.reshape(-1), want):
                fail("%s: values differ from the ramp" % name)
        if not quiet:
            print("%-28s F32 %-12s sum %.9g" %
                  (name, list(shape), float(arr.astype(np.float64).sum())))
    spans.sort()
    at = 0
    for begin, end, name in spans:
        if begin != at:
            fail("%s: begins at %d, expected %d" % (name, begin, at))
        at = end
    if at != len(data):
        fail("%d bytes after the last tensor" % (len(data) - at))
    for key, value in want_meta.items():
        if meta.get(key) != value:
            fail("metadata %s = %r, expected %r" % (key, meta.get(key), value))
    if not quiet:
        for key, value in meta.items():
            print("meta %s = %s" % (key, value))
    print("safetensors_check: ok, %d tensors, %d data bytes"
          % (len(spans), len(data)))


if __name__ == "__main__":
    main(sys.argv)
