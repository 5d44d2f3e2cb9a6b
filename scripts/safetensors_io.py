"""safetensors_io: the F32 safetensors files randes writes, read and written
by the standard library only (docs/formats.md).

Shared by scripts/average-models, scripts/recall-positions and
scripts/gd-reference; each turns a FormatError into its own exit code.
(tests/safetensors_check.py keeps a reader of its own on purpose: it is the
test's independent check of randes' writer.)
"""

import array
import json
import os
import struct
import sys


class FormatError(Exception):
    """A file that cannot be read, or is not an F32 safetensors file; the
    message starts with the path."""


class File:
    """One file: meta (the __metadata__ string map), entries (name ->
    {"dtype", "shape", "data_offsets"}), names (in data order), head (the
    8-byte length and the header, as stored) and data (the bytes after it)."""

    def __init__(self, path):
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise FormatError("%s: %s" % (path, e.strerror))
        if len(raw) < 8:
            raise FormatError("%s: too short for safetensors" % path)
        n = struct.unpack("<Q", raw[:8])[0]
        if 8 + n > len(raw):
            raise FormatError("%s: header length %d past the end of the file" % (path, n))
        try:
            header = json.loads(raw[8:8 + n])
        except ValueError as e:
            raise FormatError("%s: header is not JSON (%s)" % (path, e))
        if not isinstance(header, dict):
            raise FormatError("%s: header is not a JSON object" % path)
        self.path = path
        self.meta = header.pop("__metadata__", {})
        if not isinstance(self.meta, dict):
            raise FormatError("%s: __metadata__ is not a JSON object" % path)
        self.head = raw[:8 + n]
        self.data = raw[8 + n:]
        self.entries = header
        spans = []
        for name, t in header.items():
            if not isinstance(t, dict) or t.get("dtype") != "F32":
                raise FormatError("%s: tensor %s is %s, not F32" % (
                    path, name, t.get("dtype") if isinstance(t, dict) else t))
            try:
                lo, hi = (int(v) for v in t["data_offsets"])
                count = 1
                for s in t["shape"]:
                    count *= int(s)
            except (KeyError, TypeError, ValueError):
                raise FormatError("%s: tensor %s has no valid shape or offsets" % (path, name))
            if lo < 0 or hi - lo != 4 * count or hi > len(self.data):
                raise FormatError("%s: tensor %s has a bad byte range" % (path, name))
            spans.append((lo, name))
        self.names = [name for _, name in sorted(spans)]

    def shape(self, name):
        return list(self.entries[name]["shape"])

    def raw(self, name):
        lo, hi = self.entries[name]["data_offsets"]
        return self.data[lo:hi]

    def floats(self, name):
        """The tensor's values as array('f'), in the machine's byte order."""
        return floats(self.raw(name))


def floats(buf):
    a = array.array("f")
    a.frombytes(buf)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def to_bytes(values):
    """array('f') (or any float iterable) as little-endian F32 bytes."""
    a = values if isinstance(values, array.array) and values.typecode == "f" \
        else array.array("f", values)
    if sys.byteorder != "little":
        a = array.array("f", a)
        a.byteswap()
    return a.tobytes()


def write_atomic(path, blob):
    """blob to path through path.tmp, fsync and rename: a crash leaves the
    old file or the new one, never a part (OSError otherwise)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write(path, meta, tensors):
    """tensors: (name, shape, bytes) in layout order; written atomically."""
    header = {"__metadata__": meta}
    off = 0
    for name, shape, buf in tensors:
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [off, off + len(buf)]}
        off += len(buf)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    write_atomic(path, struct.pack("<Q", len(hj)) + hj + b"".join(b for _, _, b in tensors))
