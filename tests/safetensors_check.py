#!/usr/bin/python3
"""Reads a .safetensors file with nothing but json and NumPy (no randes, no
`safetensors` package) and checks that it is well formed.

    /usr/bin/python3 tests/safetensors_check.py FILE [--expect-ramp]
                     [--meta KEY=VALUE]... [--quiet]
    /usr/bin/python3 tests/safetensors_check.py --forward FILE...

Prints every tensor (name, dtype, shape, sum) and the metadata, then checks:
the 8-byte little-endian header length, the JSON header, dtype F32, shapes
matching the byte ranges, data_offsets tiling the data exactly (no gap, no
overlap, nothing after the last tensor), the data starting at a multiple of
8 bytes.  --expect-ramp checks the values written by test-safetensors: the
float at global index g (g = data_offsets[0] / 4 + j) equals
((g * 37) % 1001 - 500) / 64.  --meta checks a metadata value.

--forward re-implements the model's forward pass in NumPy from the
equations of docs/model.md (the function `forward` below is the one printed
there) and runs it on files written by test-model: their metadata holds the
model spec ("model", as model_spec_write_json writes it) and "inputs", a
JSON object {nin, ns, feat, index, seed, mask, ref} with the batch and the
C reference's logits at every position; the NumPy logits must agree to
1e-6 of the batch's largest logit.

Exit status 0 when every check passes, 1 otherwise (with the reason).
"""
import json
import sys

import numpy as np


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def layernorm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def forward(P, spec, feat, index, seed, mask=None):
    """One sequence.  P: tensor name -> float64 array; spec: the "model"
    metadata (model_spec_write_json).  feat (Lx, F); index (Lx, NI) ints;
    seed (S,) as the model takes it; mask (L, L) 0/1 for the graph mask.
    Returns the logits of every model position, (L, O)."""
    io, rse = spec["io"], spec["seed_encoding"]
    Lx, NI, W = io["seq_len"], io["n_index"], spec["width"]
    tok = np.concatenate([P[f"embed.index.{k}"][index[:, k]] for k in range(NI)]
                         + [feat.reshape(Lx, -1)], axis=1)             # (Lx, T)
    if rse["placement"] == "every_token":
        X = np.concatenate([tok, np.tile(seed, (Lx, 1))], axis=1)      # (L, T+R)
    elif rse["placement"] == "per_token":
        X = np.concatenate([tok, seed.reshape(Lx, -1)], axis=1)        # (L, T+R)
    else:
        X = np.concatenate([seed[None, :], tok], axis=0)               # (L, T)
    L = X.shape[0]
    if spec["input_embedding"] == "none":
        H = X
    else:
        H = X @ P["embed.w"] + P["embed.b"]
        if spec["input_embedding"] == "mlp":
            H = gelu(H) @ P["embed.w2"] + P["embed.b2"]
    if spec["positional"] == "learned":
        H = H + P["pos"]
    elif spec["positional"] == "sinusoidal":
        p, c = np.arange(L)[:, None], np.arange(W)[None, :]
        ang = p * 10000.0 ** (-(c - c % 2) / W)
        H = H + np.where(c % 2 == 0, np.sin(ang), np.cos(ang))
    allowed = {"causal": np.tril(np.ones((L, L))), "full": np.ones((L, L)),
               "graph": mask}[io["mask"]].astype(bool)                 # (L, L)
    nh, K, Vs = spec["heads"], spec["key_size"], spec["value_size"]
    for l in range(spec["layers"]):
        b = f"blocks.{l}."
        x = layernorm(H, P[b + "ln1.g"], P[b + "ln1.b"]) if spec["layernorm"] else H
        Q = (x @ P[b + "attn.wq"]).reshape(L, nh, K)
        Kx = (x @ P[b + "attn.wk"]).reshape(L, nh, K)
        V = (x @ P[b + "attn.wv"]).reshape(L, nh, Vs)
        S = np.einsum("phd,qhd->hpq", Q, Kx)                           # (H, L, L)
        if spec["attention"] == "linear":
            A = np.where(allowed, S, 0.0)
        else:
            S = np.where(allowed, S / np.sqrt(K), -np.inf)
            m = S.max(-1, keepdims=True)
            E = np.exp(S - np.where(np.isfinite(m), m, 0.0))
            Z = E.sum(-1, keepdims=True)
            A = np.divide(E, Z, out=np.zeros_like(E), where=Z > 0)     # no key: 0
        Y = np.einsum("hpq,qhe->phe", A, V).reshape(L, nh * Vs)
        H = H + Y @ P[b + "attn.wo"]
        if spec["mlp"]:
            x = layernorm(H, P[b + "ln2.g"], P[b + "ln2.b"]) if spec["layernorm"] else H
            H = H + gelu(x @ P[b + "mlp.w1"] + P[b + "mlp.b1"]) @ P[b + "mlp.w2"] + P[b + "mlp.b2"]
    if spec["layernorm"]:
        H = layernorm(H, P["ln_f.g"], P["ln_f.b"])
    return H @ P["head.w"] + P["head.b"]                               # (L, O)


def load(path):
    """Tensors (float64) and metadata of a file, by json + NumPy only."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    P = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        P[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(
            info["shape"]).astype(np.float64)
    return P, meta


def check_forward(paths):
    worst = 0.0
    for path in paths:
        P, meta = load(path)
        spec = json.loads(meta["model"])
        inp = json.loads(meta["inputs"])
        io, L = spec["io"], spec["seq_total"]
        Lx, nin, ns = io["seq_len"], inp["nin"], inp["ns"]
        f32 = lambda v: np.array(v, dtype=np.float32).astype(np.float64)
        feat = f32(inp["feat"]).reshape(nin, Lx, io["feat"])
        index = np.array(inp["index"], dtype=np.int64).reshape(nin, Lx, io["n_index"])
        seed = f32(inp["seed"]).reshape(ns, -1)
        mask = np.array(inp["mask"]).reshape(nin, L, L)
        ref = f32(inp["ref"]).reshape(nin * ns, L, -1)
        scale = max(np.abs(ref).max(), 1e-30)
        for b in range(nin * ns):
            i, j = divmod(b, ns)
            out = forward(P, spec, feat[i], index[i], seed[j], mask[i])
            d = np.abs(out - ref[b]).max() / scale
            if not d <= 1e-6:
                fail("%s: sequence %d: NumPy forward differs from the C "
                     "reference by %.3g of the largest logit" % (path, b, d))
            worst = max(worst, d)
    print("safetensors_check: NumPy forward agrees on %d files, worst "
          "%.2g of the largest logit" % (len(paths), worst))


def fail(msg):
    print("safetensors_check: " + msg, file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) < 2:
        fail("usage: safetensors_check.py FILE [--expect-ramp] "
             "[--meta KEY=VALUE]... [--quiet]")
    if argv[1] == "--forward":
        check_forward(argv[2:])
        return
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
