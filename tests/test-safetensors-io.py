#!/usr/bin/python3
"""Unit test of scripts/safetensors_io.py, the Python scripts' reader and
writer of randes' safetensors files: known bytes built by hand here (struct
and json, not the module) are read back exactly; what the module writes is
parsed by hand; every malformed file is refused with the path and the
reason; a failed write leaves nothing behind."""

import json
import os
import struct
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "scripts"))
import safetensors_io as st  # noqa: E402


def build(header, data=b""):
    hj = json.dumps(header).encode()
    return struct.pack("<Q", len(hj)) + hj + data


class SafetensorsIO(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "f.safetensors")

    def tearDown(self):
        self.dir.cleanup()

    def put(self, blob):
        with open(self.path, "wb") as f:
            f.write(blob)

    def test_reads_known_file(self):
        # two tensors stored in the reverse of the header's key order
        data = struct.pack("<3f", 0.25, -1.5, 3.0)
        self.put(build({"__metadata__": {"format": "randes", "variant": "q_R"},
                        "w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
                        "b": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, data))
        f = st.File(self.path)
        self.assertEqual(f.names, ["b", "w"])  # data order
        self.assertEqual(f.meta, {"format": "randes", "variant": "q_R"})
        self.assertEqual(list(f.floats("b")), [0.25])
        self.assertEqual(list(f.floats("w")), [-1.5, 3.0])
        self.assertEqual(f.shape("w"), [2])
        self.assertEqual(f.raw("w"), data[4:12])

    def test_write_layout(self):
        st.write(self.path, {"k": "v"},
                 [("a", [2, 1], st.to_bytes([1.0, -2.0])), ("c", [1], st.to_bytes([0.5]))])
        with open(self.path, "rb") as fh:
            raw = fh.read()
        n = struct.unpack("<Q", raw[:8])[0]
        self.assertEqual((8 + n) % 8, 0)  # data aligned, as randes writes it
        h = json.loads(raw[8:8 + n])
        self.assertEqual(h["__metadata__"], {"k": "v"})
        self.assertEqual(h["a"], {"dtype": "F32", "shape": [2, 1], "data_offsets": [0, 8]})
        self.assertEqual(h["c"], {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]})
        self.assertEqual(raw[8 + n:], struct.pack("<3f", 1.0, -2.0, 0.5))
        self.assertFalse(os.path.exists(self.path + ".tmp"))

    def test_refusals(self):
        f32 = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
        cases = [
            (b"abc", "too short"),
            (struct.pack("<Q", 64) + b"{}", "past the end"),
            (struct.pack("<Q", 2) + b"{x", "not JSON"),
            (build([1, 2]), "not a JSON object"),
            (build({"__metadata__": 5}), "__metadata__ is not"),
            (build({"a": dict(f32, dtype="F16")}, b"\0" * 4), "not F32"),
            (build({"a": {"dtype": "F32"}}), "no valid shape"),
            (build({"a": dict(f32, shape=[2])}, b"\0" * 4), "bad byte range"),
            (build({"a": f32}, b"\0" * 3), "bad byte range"),
            (build({"a": dict(f32, data_offsets=[-4, 0])}, b"\0" * 4), "bad byte range"),
        ]
        for blob, why in cases:
            self.put(blob)
            with self.assertRaises(st.FormatError) as cm:
                st.File(self.path)
            self.assertIn(why, str(cm.exception))
            self.assertTrue(str(cm.exception).startswith(self.path), str(cm.exception))
        with self.assertRaises(st.FormatError) as cm:
            st.File(os.path.join(self.dir.name, "missing"))
        self.assertIn("No such file", str(cm.exception))

    def test_failed_write_leaves_nothing(self):
        where = os.path.join(self.dir.name, "no", "such", "dir", "f.safetensors")
        with self.assertRaises(OSError):
            st.write(where, {}, [("a", [1], st.to_bytes([1.0]))])
        self.assertFalse(os.path.exists(where))
        self.assertFalse(os.path.exists(where + ".tmp"))
        # over an existing file: the new content, and no temporary left
        self.put(b"old")
        st.write(self.path, {}, [("a", [1], st.to_bytes([2.0]))])
        self.assertEqual(list(st.File(self.path).floats("a")), [2.0])
        self.assertEqual(os.listdir(self.dir.name), ["f.safetensors"])

if __name__ == "__main__":
    unittest.main(verbosity=2)
