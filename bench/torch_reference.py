#!/usr/bin/python3
"""PyTorch reference for one randes ES generation (issue 8).

Times the forward work of one evolution-strategies generation for the two
paper workloads, written in PyTorch (float32, inference mode, no autograd) the
way an expert would, so that randes' C evaluator can be compared against it:

  recall    associative recall, N = 20 (PAPER.md 2.2): P = 64 members,
            n = 512 inputs x m = 30 seeds = 15,360 sequences of L = 21 tokens
            per member, mean BCE over 5 bits, L^q pooling with q = 100.
  coloring  3-colouring of C_10 (PAPER.md 3.2): P = 64 members, n = 256
            cycles x m = 10 seeds = 2,560 sequences of 10 tokens per member,
            edge-agreement loss / 30, L^q pooling with q = 10.

Every member is its own perturbed parameter vector theta +- sigma*eps_k
(antithetic pairs, eps_k drawn once per pair); all members see the same
inputs and seeds (common random numbers), as in DESIGN.md "One generation".

Configurations:
  --installed  torch and OpenBLAS exactly as Debian installs them: no
               environment variables, torch's default thread count, whole
               member at once (no chunking), no population split.
  --tuned      OPENBLAS_CORETYPE (SkylakeX on an AVX-512 CPU) and
               OPENBLAS_NUM_THREADS=1 set before torch loads, torch threads 1,
               the population split over 2 processes, activations in chunks
               sized for the L2 cache.
  neither      runs both, each in its own process (the environment must be set
               before OpenBLAS is loaded), and prints the ratio.

Algebra levels (--algebra): 'issue8' (default) uses exactly the savings listed
in issue 8; 'folded' additionally folds the linear maps that follow the gelu
into each other; 'lut' additionally tabulates the first MLP (see
docs/performance-torch.md).  All levels are exact rewrites of the same model and
are checked against a naive per-sequence float64 implementation at start-up.

The last line printed on stdout is one JSON object (with --json it is the only
thing on stdout; the human-readable report goes to stderr).

Run with Debian's interpreter:  /usr/bin/python3 bench/torch_reference.py
"""

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time

# ----------------------------------------------------------------------------
# Command line, parsed before torch is imported: the tuned configuration must
# set OpenBLAS's environment before the library is loaded.

WORKLOADS = ("recall", "coloring")
LEVELS = ("issue8", "folded", "lut")
# inputs per chunk (all m seeds of each) in the tuned configuration, chosen by
# timing chunks of 4..256 inputs here (docs/performance-torch.md)
DEFAULT_CHUNK = {("recall", "issue8"): 16, ("recall", "folded"): 24,
                 ("recall", "lut"): 32, ("coloring", "issue8"): 64,
                 ("coloring", "folded"): 64}


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="PyTorch reference timing of one randes ES generation "
                    "(issue 8). Run with /usr/bin/python3.")
    ap.add_argument("--workload", choices=("recall", "coloring", "both"),
                    default="both")
    cfg = ap.add_mutually_exclusive_group()
    cfg.add_argument("--tuned", dest="config", action="store_const",
                     const="tuned", help="hand-tuned threads/env/chunks")
    cfg.add_argument("--installed", dest="config", action="store_const",
                     const="installed", help="torch as Debian installs it")
    ap.add_argument("--generations", type=int, default=5,
                    help="timed generations (median reported), default 5")
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed warm-up generations, default 2")
    ap.add_argument("--json", action="store_true",
                    help="only the JSON line on stdout (report on stderr)")
    ap.add_argument("--algebra", choices=LEVELS + ("all",), default="issue8",
                    help="algebraic savings used (default issue8)")
    ap.add_argument("--population", type=int, default=64)
    ap.add_argument("--inputs", type=int, default=None,
                    help="n (default 512 recall, 256 coloring)")
    ap.add_argument("--seeds", type=int, default=None,
                    help="m (default 30 recall, 10 coloring)")
    ap.add_argument("--tokens", type=int, default=20, help="recall N")
    ap.add_argument("--sigma", type=float, default=0.02)
    ap.add_argument("--run-seed", type=int, default=7)
    # tuning knobs; defaults depend on --tuned / --installed
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (tuned default 1; "
                         "installed: torch's default)")
    ap.add_argument("--split", choices=("none", "threads", "procs"),
                    default=None,
                    help="split the population over 2 workers "
                         "(tuned default procs, installed none)")
    ap.add_argument("--chunk", type=int, default=None,
                    help="inputs per chunk (all m seeds of each input); "
                         "tuned default recall 16/24/32 (issue8/folded/lut), "
                         "coloring 64; installed: n (no chunking)")
    ap.add_argument("--coretype", default=None,
                    help="OPENBLAS_CORETYPE for --tuned (default SkylakeX on "
                         "AVX-512 CPUs, Haswell on AVX2 CPUs; 'none' = leave "
                         "OpenBLAS's own choice)")
    ap.add_argument("--gelu", choices=("sigmoid", "tanh"), default="sigmoid",
                    help="gelu(tanh approx.) evaluated as x*sigmoid(2u) "
                         "(default, same function) or torch's gelu(approximate"
                         "='tanh')")
    ap.add_argument("--search", action="store_true",
                    help="(tuned) time threads x split x chunk combinations "
                         "and report the best")
    ap.add_argument("--no-check", action="store_true",
                    help="skip the correctness check against the naive model")
    ap.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.generations < 1 or a.warmup < 0:
        ap.error("--generations must be >= 1 and --warmup >= 0")
    if a.population < 2 or a.population % 2:
        ap.error("--population must be even")
    return a


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


ARGS = parse_args(sys.argv[1:])
OUT = sys.stderr if ARGS.json else sys.stdout


def say(*a):
    print(*a, file=OUT, flush=True)


# ----------------------------------------------------------------------------
# No configuration given: run each configuration in its own process, merge.

def run_both_configs():
    results = []
    for cfg in ("installed", "tuned"):
        argv = [a for a in sys.argv[1:] if a != "--json"]
        cmd = [sys.executable, os.path.abspath(__file__), "--" + cfg,
               "--json", "--_child"] + argv
        say("== running: " + " ".join(cmd))
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=OUT,
                           text=True)
        if p.returncode != 0:
            say("child failed with exit code %d" % p.returncode)
            sys.exit(p.returncode)
        results.append(json.loads(p.stdout.strip().splitlines()[-1]))
    merged = {"bench": "torch_reference", "configs": results, "ratios": []}
    by = {}
    for r in results:
        for w in r["results"]:
            by[(r["config"], w["workload"], w["algebra"])] = w
    say("")
    say("%-9s %-7s %12s %12s %8s" % ("workload", "algebra", "installed s",
                                        "tuned s", "ratio"))
    for (cfg, wl, lv), w in sorted(by.items()):
        if cfg != "installed" or ("tuned", wl, lv) not in by:
            continue
        t = by[("tuned", wl, lv)]
        ratio = w["seconds_per_generation"] / t["seconds_per_generation"]
        merged["ratios"].append({"workload": wl, "algebra": lv,
                                 "installed_over_tuned": ratio})
        say("%-9s %-7s %12.3f %12.3f %8.2f" % (
            wl, lv, w["seconds_per_generation"],
            t["seconds_per_generation"], ratio))
    print(json.dumps(merged), flush=True)


if ARGS.config is None:
    run_both_configs()
    sys.exit(0)

TUNED = ARGS.config == "tuned"
ENV_SET = {}
if TUNED:
    flags = cpu_flags()
    ct = ARGS.coretype
    if ct is None:
        ct = ("SkylakeX" if "avx512f" in flags else
              "Haswell" if "avx2" in flags else "none")
    if ct.lower() != "none":
        ENV_SET["OPENBLAS_CORETYPE"] = ct
    ENV_SET["OPENBLAS_NUM_THREADS"] = "1"
    ENV_SET["OMP_NUM_THREADS"] = str(ARGS.threads or 1)
    os.environ.update(ENV_SET)
else:
    leaked = [k for k in os.environ
              if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO"))]
    if leaked:
        say("warning: --installed but the environment sets %s; the numbers "
            "are not 'as installed'" % ", ".join(sorted(leaked)))

import ctypes  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_grad_enabled(False)
DEFAULT_TORCH_THREADS = torch.get_num_threads()
if TUNED:
    torch.set_num_threads(ARGS.threads or 1)
elif ARGS.threads:
    torch.set_num_threads(ARGS.threads)


# ----------------------------------------------------------------------------
# Which BLAS torch uses here.

def blas_info():
    info = {"torch": torch.__version__, "blas_info": None,
            "openblas": None, "openblas_corename": None,
            "openblas_threads": None, "openblas_path": None}
    cfg = torch.__config__.show()
    mt = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    info["blas_info"] = mt.group(1) if mt else None
    info["mkldnn"] = "MKL-DNN" in cfg
    info["cpu_capability"] = None
    for line in cfg.splitlines():
        if "CPU capability usage" in line:
            info["cpu_capability"] = line.split(":", 1)[1].strip()
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if ("openblas" in p or "libblas" in p) and p not in paths:
                    paths.append(p)
    except OSError:
        pass
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            info["openblas"] = lib.openblas_get_config().decode()
            info["openblas_corename"] = lib.openblas_get_corename().decode()
            info["openblas_threads"] = lib.openblas_get_num_threads()
            info["openblas_path"] = os.path.realpath(p)
            break
        except (OSError, AttributeError):
            continue
    info["blas_libraries_mapped"] = [os.path.realpath(p) for p in paths]
    return info


# ----------------------------------------------------------------------------
# Shared pieces

C_GELU = math.sqrt(2.0 / math.pi)
TWO_C = torch.tensor(2.0 * C_GELU)


class Workspace:
    """Cached buffers, one per worker: no allocation of large tensors inside
    the generation loop once the shapes are known."""

    def __init__(self):
        self.bufs = {}

    def get(self, name, *shape, dtype=torch.float32):
        t = self.bufs.get(name)
        if t is None or tuple(t.shape) != shape or t.dtype != dtype:
            t = torch.empty(shape, dtype=dtype)
            self.bufs[name] = t
        return t


def gelu_tanh_(x, tmp):
    """In place: x <- gelu_tanh(x) = 0.5 x (1 + tanh(c (x + 0.044715 x^3)))
    computed as x * sigmoid(2c (x + 0.044715 x^3)), the same function
    (0.5(1+tanh(u)) = sigmoid(2u)).  In Debian's torch 1.13 tanh is slow
    (measured here, one thread: tanh 0.46 G elements/s, gelu(approximate=
    'tanh') 0.38, sigmoid 1.45), so this form is about 2x faster."""
    if ARGS.gelu == "tanh":
        torch._C._nn.gelu(x, approximate="tanh", out=tmp)
        x.copy_(tmp)
        return x
    torch.addcmul(TWO_C, x, x, value=2.0 * C_GELU * 0.044715, out=tmp)
    tmp.mul_(x)
    torch.sigmoid(tmp, out=tmp)
    return x.mul_(tmp)


def trunc_normal(gen, shape, var):
    """VarianceScaling-style truncated normal (+-2 sd, variance-corrected)."""
    std = math.sqrt(var) / 0.87962566103423978
    t = torch.empty(shape).normal_(0.0, std, generator=gen)
    lim = 2.0 * std
    bad = t.abs() > lim
    while bool(bad.any()):
        t[bad] = torch.empty(int(bad.sum())).normal_(0.0, std, generator=gen)
        bad = t.abs() > lim
    return t


def lq_pool(lbar, q):
    """Stable L^q pooling: M * mean((lbar/M)^q)^(1/q), M = max (PAPER 1.2)."""
    lb = lbar.double()
    M = float(lb.max())
    if M <= 0.0:
        return 0.0
    if math.isinf(q):
        return M
    return M * float(((lb / M) ** q).mean()) ** (1.0 / q)


def mix(*xs):
    h = 0x9E3779B97F4A7C15
    for x in xs:
        h = ((h ^ (x & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9) \
            & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def gen_for(*xs):
    g = torch.Generator()
    g.manual_seed(mix(*xs))
    return g


def param_views(theta, layout):
    out, off = {}, 0
    for name, shape in layout:
        size = 1
        for s in shape:
            size *= s
        out[name] = theta[off:off + size].view(shape)
        off += size
    return out


def layout_size(layout):
    tot = 0
    for _, shape in layout:
        size = 1
        for s in shape:
            size *= s
        tot += size
    return tot


# ----------------------------------------------------------------------------
# Associative recall (PAPER 2.2)

class Recall:
    name = "recall"
    q = 100.0
    W = 40          # width
    DK = 5          # key/value size
    BITS = 5
    SEED = 10

    def __init__(self, N, n, m):
        self.N, self.n, self.m = N, n, m
        self.L = N + 1
        self.D_in = N + self.SEED + self.BITS
        W, dk = self.W, self.DK
        self.layout = [("We", (self.D_in, W)), ("be", (W,)),
                       ("Wf", (W, W)), ("bf", (W,))]
        for l in range(2):
            self.layout += [("Wq%d" % l, (W, dk)), ("Wk%d" % l, (W, dk)),
                            ("Wv%d" % l, (W, dk)), ("Wo%d" % l, (dk, W))]
        self.layout += [("Wout", (W, self.BITS)), ("bout", (self.BITS,))]
        self.D = layout_size(self.layout)
        L = self.L
        self.macs_per_seq = L * (40 * N + 4000) + 20 * L * L   # PAPER 8.1
        self.seqs_per_member = n * m

    def init_theta(self, gen):
        W, dk = self.W, self.DK
        parts = {"We": trunc_normal(gen, (self.D_in, W), 1.0 / self.D_in),
                 "be": torch.zeros(W),
                 "Wf": trunc_normal(gen, (W, W), 0.88 ** 2 / W),
                 "bf": torch.zeros(W),
                 "Wout": trunc_normal(gen, (W, self.BITS), 1.0 / W),
                 "bout": torch.zeros(self.BITS)}
        for l in range(2):
            for k in "qkv":
                parts["W%s%d" % (k, l)] = trunc_normal(gen, (W, dk), 1.0 / W)
            parts["Wo%d" % l] = trunc_normal(gen, (dk, W), 1.0 / (2 * dk))
        return torch.cat([parts[nm].reshape(-1) for nm, _ in self.layout])

    # -- data (a pure function of (run_seed, g)) --
    def batch(self, run_seed, g, chunk):
        N, n, m = self.N, self.n, self.m
        gen = gen_for(run_seed, 1, g)
        qi = torch.randint(0, N, (n,), generator=gen)
        y = torch.randint(0, 2, (n, self.BITS), generator=gen).float()
        Y = torch.randint(0, 2, (n, N, self.BITS), generator=gen).float()
        Y[torch.arange(n), qi] = y
        S = torch.randint(0, 2, (m, self.SEED), generator=gen).float()
        b = {"q": qi, "y": y, "Y": Y, "S": S, "chunk": chunk}
        # targets in the chunk layout [5, m, n] (sequence b = (j, i))
        b["yT"] = y.t().contiguous()
        # LUT row index of every token of every sequence: [L, m, n]
        if ARGS_LEVEL_NEEDS_LUT[0]:
            pw = (2 ** torch.arange(self.BITS)).float()
            vcode = (Y * pw).sum(-1).long()                    # [n, N]
            t = torch.arange(N).view(1, N)
            tok = (t * 32 + vcode)                              # [n, N]
            j = torch.arange(m)
            idx = torch.empty(self.L, m, n, dtype=torch.long)
            idx[:N] = (tok.t().reshape(N, 1, n) * m + j.view(1, m, 1))
            idx[N] = (N * 32 + qi).view(1, n) * m + j.view(m, 1)
            b["lut_idx"] = []
            for i0 in range(0, n, chunk):
                i1 = min(n, i0 + chunk)
                b["lut_idx"].append(idx[:, :, i0:i1].reshape(-1).clone())
        return b

    # -- per-member preparation --
    def prepare(self, theta, b, level):
        w = param_views(theta, self.layout)
        N, L, m = self.N, self.L, self.m
        We = w["We"]
        Wk_, Ws_, Wv_ = We[:N], We[N:N + self.SEED], We[N + self.SEED:]
        p = {"w": w, "level": level}
        Eseed = b["S"] @ Ws_                                    # [m, 40]
        p["EseedT"] = Eseed.t().contiguous().view(self.W, 1, m, 1)
        if level != "lut":
            # A[i, t] = We_key[t] + Y[i,t] We_val + be ; A[i, N] = We_key[q]+be
            A = torch.empty(self.n, L, self.W)
            A[:, :N] = b["Y"] @ Wv_ + (Wk_ + w["be"])
            A[:, N] = Wk_[b["q"]] + w["be"]
            p["AT"] = A.permute(2, 1, 0).contiguous()           # [40, L, n]
        if level == "issue8":
            p["WfT"] = w["Wf"].t().contiguous()
            p["bf"] = w["bf"].view(-1, 1)
            p["Wqkv1T"] = torch.cat([w["Wq0"], w["Wk0"], w["Wv0"]], 1) \
                .t().contiguous()                               # [15, 40]
            p["Wo1T"] = w["Wo0"].t().contiguous()               # [40, 5]
            p["Wkv2T"] = torch.cat([w["Wk1"], w["Wv1"]], 1).t().contiguous()
            p["Wq2T"] = w["Wq1"].t().contiguous()
            p["Wo2T"] = w["Wo1"].t().contiguous()
            p["WoutT"] = w["Wout"].t().contiguous()
            p["bout"] = w["bout"].view(-1, 1)
        else:
            Wf, bf = w["Wf"], w["bf"]
            R1 = torch.cat([w["Wq0"], w["Wk0"], w["Wv0"], w["Wk1"],
                            w["Wv1"]], 1)                       # [40, 25]
            R2 = torch.cat([w["Wq1"], w["Wout"]], 1)            # [40, 10]
            W1, b1 = Wf @ R1, bf @ R1
            W2, b2 = Wf @ R2, bf @ R2
            b2 = b2 + torch.cat([torch.zeros(self.DK), w["bout"]])
            p["M1T"] = (w["Wo0"] @ R1[:, 15:25]).t().contiguous()  # [10, 5]
            p["M2T"] = (w["Wo0"] @ R2).t().contiguous()            # [10, 5]
            p["M3T"] = (w["Wo1"] @ w["Wout"]).t().contiguous()     # [5, 5]
            if level == "folded":
                p["W1T"], p["b1"] = W1.t().contiguous(), b1.view(-1, 1)
                p["W2T"], p["b2"] = W2.t().contiguous(), b2.view(-1, 1)
            else:   # lut: tabulate gelu(H0) @ [W1 | W2] over (t, v, j)
                Vtab = torch.tensor([[(v >> k) & 1 for k in range(self.BITS)]
                                     for v in range(32)],
                                    dtype=torch.float32) @ Wv_  # [32, 40]
                base = torch.empty(N * 32 + N, self.W)
                base[:N * 32] = (Wk_.view(N, 1, -1) + Vtab.view(1, 32, -1)) \
                    .reshape(N * 32, -1)
                base[N * 32:] = Wk_
                base += w["be"]
                H0 = (base.view(-1, 1, self.W) + Eseed.view(1, m, -1)) \
                    .reshape(-1, self.W)
                gelu_tanh_(H0, torch.empty_like(H0))
                tab = torch.addmm(torch.cat([b1, b2]), H0,
                                  torch.cat([W1, W2], 1))       # [R, 35]
                p["tabT"] = tab.t().contiguous()                # [35, R]
        return p

    # -- the forward of one chunk of sequences, feature-major [f, t, b] --
    @staticmethod
    def prefix_attn(q, k, v, ws, L, B):
        """Causal linear attention (mask incl. diagonal, no scaling) as a
        prefix sum of k_s v_s^T:  o_t = q_t . sum_{s<=t} k_s v_s^T.
        q, k, v: [5, L, B] -> o [5, L, B]."""
        KV = ws.get("KV", 5, 5, L, B)
        torch.mul(k.unsqueeze(1), v.unsqueeze(0), out=KV)
        for t in range(1, L):
            KV[:, :, t].add_(KV[:, :, t - 1])
        o = ws.get("o1", 5, L, B)
        torch.mul(KV[0], q[0].unsqueeze(0), out=o)
        for a in range(1, 5):
            o.addcmul_(KV[a], q[a].unsqueeze(0))
        return o

    @staticmethod
    def last_attn(q, k, v, ws, L, B):
        """Layer 2 at the query position only: o = sum_s (q . k_s) v_s.
        q: [5, B]; k, v: [5, L, B] -> [5, B]."""
        s = ws.get("s2", L, B)
        torch.mul(k[0], q[0], out=s)
        for a in range(1, 5):
            s.addcmul_(k[a], q[a])
        o = ws.get("o2", 5, B)
        tmp = ws.get("o2tmp", 5, L, B)
        torch.mul(v, s.unsqueeze(0), out=tmp)
        torch.sum(tmp, 1, out=o)
        return o

    def chunk_logits(self, p, b, ci_idx, i0, i1, ws):
        """Logits z [5, B] for the sequences (j, i), j < m, i0 <= i < i1,
        ordered b = j * (i1 - i0) + (i - i0)."""
        L, m, Wd = self.L, self.m, self.W
        ci = i1 - i0
        B = ci * m
        LB = L * B
        level = p["level"]
        if level == "lut":
            idx = b["lut_idx"][ci_idx]
            P = ws.get("P", 25, LB)
            torch.index_select(p["tabT"][:25], 1, idx, out=P)
            PL = ws.get("PL", 10, B)
            torch.index_select(p["tabT"][25:], 1,
                               idx[(L - 1) * B:], out=PL)
        else:
            H = ws.get("H", Wd, L, m, ci)
            torch.add(p["AT"][:, :, i0:i1].unsqueeze(2), p["EseedT"], out=H)
            G = gelu_tanh_(H.view(Wd, LB), ws.get("tmp", Wd, LB))
        if level == "issue8":
            H1 = ws.get("H1", Wd, LB)
            torch.addmm(p["bf"], p["WfT"], G, out=H1)
            QKV = ws.get("QKV", 15, LB)
            torch.mm(p["Wqkv1T"], H1, out=QKV)
            QKV = QKV.view(15, L, B)
            o1 = self.prefix_attn(QKV[0:5], QKV[5:10], QKV[10:15], ws, L, B)
            H1.addmm_(p["Wo1T"], o1.view(5, LB))                # H2
            KV2 = ws.get("KV2", 10, LB)
            torch.mm(p["Wkv2T"], H1, out=KV2)
            KV2 = KV2.view(10, L, B)
            hl = H1.view(Wd, L, B)[:, L - 1]                    # [40, B]
            q2 = torch.mm(p["Wq2T"], hl)
            o2 = self.last_attn(q2, KV2[0:5], KV2[5:10], ws, L, B)
            h = torch.addmm(hl, p["Wo2T"], o2)
            return torch.addmm(p["bout"], p["WoutT"], h)
        # folded / lut
        if level == "folded":
            P = ws.get("P", 25, LB)
            torch.addmm(p["b1"], p["W1T"], G, out=P)
            PL = torch.addmm(p["b2"], p["W2T"], G.view(Wd, L, B)[:, L - 1])
        Pv = P.view(25, L, B)
        o1 = self.prefix_attn(Pv[0:5], Pv[5:10], Pv[10:15], ws, L, B)
        KV2 = ws.get("KV2", 10, LB)
        torch.addmm(P[15:25], p["M1T"], o1.view(5, LB), out=KV2)
        KV2 = KV2.view(10, L, B)
        QZ = torch.addmm(PL, p["M2T"], o1[:, L - 1])            # [10, B]
        o2 = self.last_attn(QZ[0:5], KV2[0:5], KV2[5:10], ws, L, B)
        return torch.addmm(QZ[5:10], p["M3T"], o2)

    def member_lbar(self, p, b, ws, logits_out=None):
        n, m = self.n, self.m
        chunk = b["chunk"]
        lbar = torch.empty(n)
        for ci_idx, i0 in enumerate(range(0, n, chunk)):
            i1 = min(n, i0 + chunk)
            ci = i1 - i0
            z = self.chunk_logits(p, b, ci_idx, i0, i1, ws)     # [5, m*ci]
            tgt = b["yT"][:, i0:i1].unsqueeze(1).expand(5, m, ci) \
                .reshape(5, m * ci)
            ell = F.binary_cross_entropy_with_logits(z, tgt, reduction="none")
            lbar[i0:i1] = ell.view(5, m, ci).mean((0, 1))
            if logits_out is not None:                          # [n, m, 5]
                logits_out[i0:i1] = z.view(5, m, ci).permute(2, 1, 0)
        return lbar

    # -- naive per-sequence reference, float64, exactly PAPER 2.2 --
    def naive_logits(self, theta, b, i, j):
        w = {k: v.double() for k, v in param_views(theta, self.layout).items()}
        N, L = self.N, self.L
        X = torch.zeros(L, self.D_in, dtype=torch.float64)
        X[torch.arange(N), torch.arange(N)] = 1.0
        X[N, int(b["q"][i])] = 1.0
        X[:, N:N + self.SEED] = b["S"][j].double()
        X[:N, N + self.SEED:] = b["Y"][i].double()
        H = F.gelu(X @ w["We"] + w["be"], approximate="tanh") @ w["Wf"] \
            + w["bf"]
        M = torch.tril(torch.ones(L, L, dtype=torch.float64))
        for l in range(2):
            Q, K, V = H @ w["Wq%d" % l], H @ w["Wk%d" % l], H @ w["Wv%d" % l]
            H = H + ((Q @ K.t()) * M) @ V @ w["Wo%d" % l]
        return H[L - 1] @ w["Wout"] + w["bout"]

    def naive_loss(self, z, b, i):
        return float(F.binary_cross_entropy_with_logits(
            z, b["y"][i].double(), reduction="mean"))


# ----------------------------------------------------------------------------
# Cycle colouring C_10 (PAPER 3.2)

class Coloring:
    name = "coloring"
    q = 10.0
    W = 16
    COLORS = 3

    def __init__(self, n, m, V=10):
        self.V, self.n, self.m = V, n, m
        self.L = V
        W = self.W
        self.layout = [("We", (V + 1, W)), ("be", (W,))]
        for l in range(2):
            self.layout += [("Wq%d" % l, (W, W)), ("Wk%d" % l, (W, W)),
                            ("Wv%d" % l, (W, W)), ("Wo%d" % l, (W, W))]
        self.layout += [("Wout", (W, 3)), ("bout", (3,))]
        self.D = layout_size(self.layout)
        L = self.L
        # PAPER 8.2: embedding + 2 x (QKV + out + dense attention) + head
        self.macs_per_seq = (L * (V + 1) * W + 2 * (3 * L * W * W + L * W * W
                                                    + 2 * L * L * W)
                             + L * W * 3)
        self.seqs_per_member = n * m

    def init_theta(self, gen):
        W, V = self.W, self.V
        parts = {"We": trunc_normal(gen, (V + 1, W), 0.1 / (V + 1)),
                 "be": torch.zeros(W),
                 "Wout": trunc_normal(gen, (W, 3), 1.0 / W),
                 "bout": torch.zeros(3)}
        for l in range(2):
            for k in "qkv":
                parts["W%s%d" % (k, l)] = trunc_normal(gen, (W, W), 1.0 / W)
            parts["Wo%d" % l] = trunc_normal(gen, (W, W), 1.0 / (2 * W))
        return torch.cat([parts[nm].reshape(-1) for nm, _ in self.layout])

    def batch(self, run_seed, g, chunk):
        V, n, m = self.V, self.n, self.m
        gen = gen_for(run_seed, 2, g)
        perm = torch.argsort(torch.rand(n, V, generator=gen), dim=1)
        U = torch.rand(m, V, generator=gen)
        # Input i is the cycle perm[i, 0] - perm[i, 1] - ... - perm[i, V-1]
        # - perm[i, 0]: its edges are (perm[k], perm[k+1 mod V]).  The fast
        # path keeps every sequence in this cycle order, so that "the two
        # neighbours" are the positions k-1 and k+1: the adjacency-masked
        # attention becomes two shifted products and needs no gather.
        b = {"perm": perm, "U": U, "chunk": chunk, "idx": []}
        js = torch.arange(m).view(1, m, 1)
        for i0 in range(0, n, chunk):
            i1 = min(n, i0 + chunk)
            ci = i1 - i0
            pt = perm[i0:i1].t().reshape(V, 1, ci)              # [k, 1, i]
            pn = pt.roll(-1, 0)                                 # perm[k+1]
            pp = pt.roll(1, 0)                                  # perm[k-1]
            b["idx"].append({
                # per-seed table row of token (k, j, i): j*V + perm[i, k]
                "tok": (js * V + pt).reshape(-1).clone(),
                # layer-1 score tables Sc[j, v, w] = q1(j,v) . k1(j,w)
                "snext": ((js * V + pt) * V + pn).reshape(-1).clone(),
                "sprev": ((js * V + pt) * V + pp).reshape(-1).clone()})
        return b

    def prepare(self, theta, b, level):
        w = param_views(theta, self.layout)
        V, W, m = self.V, self.W, self.m
        We = w["We"]
        # The tokens do not depend on the graph: the embedding and the
        # layer-1 projections are computed once per (seed, vertex) and shared
        # by all inputs.  Per-token table, feature-major [F, m*V].
        H0 = We[:V].view(1, V, W) + b["U"].view(-1, V, 1) * We[V] + w["be"]
        QKV1 = H0 @ torch.cat([w["Wq0"], w["Wk0"], w["Wv0"]], 1)  # [m,V,48]
        Q1, K1, V1 = QKV1[..., :16], QKV1[..., 16:32], QKV1[..., 32:]
        p = {"level": level,
             "Sc": (Q1 @ K1.transpose(1, 2)).reshape(-1)}        # [m*V*V]
        if level == "issue8":
            tab = torch.cat([H0, V1], 2)                          # [m,V,32]
            p["Wo1T"] = w["Wo0"].t().contiguous()
            p["Wqkv2T"] = torch.cat([w["Wq1"], w["Wk1"], w["Wv1"]], 1) \
                .t().contiguous()
            p["Wo2T"] = w["Wo1"].t().contiguous()
            p["WoutT"] = w["Wout"].t().contiguous()
            p["bout"] = w["bout"].view(3, 1)
        else:
            R = torch.cat([w["Wq1"], w["Wk1"], w["Wv1"], w["Wout"]], 1)
            base = H0 @ R                                         # [m,V,51]
            base[..., 48:] += w["bout"]
            tab = torch.cat([base, V1], 2)                        # [m,V,67]
            p["F1T"] = (w["Wo0"] @ R).t().contiguous()            # [51, 16]
            p["F2T"] = (w["Wo1"] @ w["Wout"]).t().contiguous()    # [3, 16]
        p["tabT"] = tab.reshape(m * V, -1).t().contiguous()       # [F, m*V]
        return p

    @staticmethod
    def cyc_scores(q, k, ws, tag):
        """Edge scores along the cycle: next[k] = q_k . k_{k+1},
        prev[k] = q_k . k_{k-1} (indices mod V).  q, k: [f, V, B]."""
        f, V, B = q.shape
        t = ws.get(tag + "t", f, V, B)
        sn = ws.get(tag + "sn", V, B)
        sp = ws.get(tag + "sp", V, B)
        torch.mul(q[:, :V - 1], k[:, 1:], out=t[:, :V - 1])
        torch.mul(q[:, V - 1], k[:, 0], out=t[:, V - 1])
        torch.sum(t, 0, out=sn)
        torch.mul(q[:, 1:], k[:, :V - 1], out=t[:, 1:])
        torch.mul(q[:, 0], k[:, V - 1], out=t[:, 0])
        torch.sum(t, 0, out=sp)
        return sn, sp

    @staticmethod
    def cyc_mix(sn, sp, v, o):
        """o_k = sn_k v_{k+1} + sp_k v_{k-1} (indices mod V), the attention
        masked by the cycle adjacency (2 neighbours, no self).
        sn, sp: [V, B]; v, o: [f, V, B]."""
        V = v.shape[1]
        torch.mul(v[:, 1:], sn[:V - 1], out=o[:, :V - 1])
        torch.mul(v[:, 0], sn[V - 1], out=o[:, V - 1])
        o[:, 1:].addcmul_(v[:, :V - 1], sp[1:])
        o[:, 0].addcmul_(v[:, V - 1], sp[0])
        return o

    def chunk_logits(self, p, b, ci_idx, i0, i1, ws):
        """Logits [3, V, B] in cycle order: position k of sequence
        b = j * ci + (i - i0) is vertex perm[i, k] with seed j."""
        V, m = self.V, self.m
        ci = i1 - i0
        B = ci * m
        VB = V * B
        ix = b["idx"][ci_idx]
        F_ = p["tabT"].shape[0]
        T = ws.get("T", F_, VB)
        torch.index_select(p["tabT"], 1, ix["tok"], out=T)
        s1n = ws.get("s1n", VB)
        s1p = ws.get("s1p", VB)
        torch.index_select(p["Sc"], 0, ix["snext"], out=s1n)
        torch.index_select(p["Sc"], 0, ix["sprev"], out=s1p)
        v1 = T[F_ - 16:].view(16, V, B)
        o1 = self.cyc_mix(s1n.view(V, B), s1p.view(V, B), v1,
                          ws.get("o1", 16, V, B))
        o2 = ws.get("o2", 16, V, B)
        if p["level"] == "issue8":
            H = ws.get("H", 16, VB)
            torch.addmm(T[:16], p["Wo1T"], o1.view(16, VB), out=H)
            QKV = ws.get("QKV", 48, VB)
            torch.mm(p["Wqkv2T"], H, out=QKV)
            Q = QKV.view(48, V, B)
            sn, sp = self.cyc_scores(Q[0:16], Q[16:32], ws, "l2")
            self.cyc_mix(sn, sp, Q[32:48], o2)
            H.addmm_(p["Wo2T"], o2.view(16, VB))
            z = torch.addmm(p["bout"], p["WoutT"], H)
            return z.view(3, V, B)
        R = ws.get("R", 51, VB)
        torch.addmm(T[:51], p["F1T"], o1.view(16, VB), out=R)
        Rv = R.view(51, V, B)
        sn, sp = self.cyc_scores(Rv[0:16], Rv[16:32], ws, "l2")
        self.cyc_mix(sn, sp, Rv[32:48], o2)
        z = torch.addmm(R[48:51], p["F2T"], o2.view(16, VB))
        return z.view(3, V, B)

    def member_lbar(self, p, b, ws, logits_out=None):
        n, m, V = self.n, self.m, self.V
        chunk = b["chunk"]
        lbar = torch.empty(n)
        for ci_idx, i0 in enumerate(range(0, n, chunk)):
            i1 = min(n, i0 + chunk)
            ci = i1 - i0
            B = ci * m
            z = self.chunk_logits(p, b, ci_idx, i0, i1, ws)     # [3, V, B]
            pr = torch.softmax(z, 0)
            # sum over the edges (k, k+1 mod V) and colours of p_k(c) p_k+1(c)
            t = ws.get("lt", 3, V, B)
            torch.mul(pr[:, :V - 1], pr[:, 1:], out=t[:, :V - 1])
            torch.mul(pr[:, V - 1], pr[:, 0], out=t[:, V - 1])
            e = t.view(3 * V, m, ci).sum(0)                     # [m, ci]
            lbar[i0:i1] = e.mean(0) / (3 * V)
            if logits_out is not None:                          # [n,m,V,3]
                zz = z.view(3, V, m, ci).permute(3, 2, 1, 0)    # [i,j,k,c]
                for i in range(ci):
                    logits_out[i0 + i][:, b["perm"][i0 + i]] = zz[i]
        return lbar

    def naive_logits(self, theta, b, i, j):
        w = {k: v.double() for k, v in param_views(theta, self.layout).items()}
        V = self.V
        X = torch.zeros(V, V + 1, dtype=torch.float64)
        X[torch.arange(V), torch.arange(V)] = 1.0
        X[:, V] = b["U"][j].double()
        perm = b["perm"][i]
        A = torch.zeros(V, V, dtype=torch.float64)
        for k in range(V):
            u, v = int(perm[k]), int(perm[(k + 1) % V])
            A[u, v] = A[v, u] = 1.0
        H = X @ w["We"] + w["be"]
        for l in range(2):
            Q, K, Vv = H @ w["Wq%d" % l], H @ w["Wk%d" % l], H @ w["Wv%d" % l]
            H = H + ((Q @ K.t()) * A) @ Vv @ w["Wo%d" % l]
        return H @ w["Wout"] + w["bout"]                        # [V, 3]

    def naive_loss(self, z, b, i):
        p = torch.softmax(z, 1)
        perm = b["perm"][i]
        tot = 0.0
        for k in range(self.V):
            u, v = int(perm[k]), int(perm[(k + 1) % self.V])
            tot += float((p[u] * p[v]).sum())
        return tot / (3 * self.V)


# ----------------------------------------------------------------------------
# One generation

ARGS_LEVEL_NEEDS_LUT = [False]


class Generation:
    def __init__(self, wl, P, sigma, run_seed, level, chunk):
        self.wl, self.P, self.sigma = wl, P, sigma
        self.run_seed, self.level, self.chunk = run_seed, level, chunk
        self.theta = wl.init_theta(gen_for(run_seed, 0))

    def noise(self, g, pairs):
        """eps_k for the given pairs: one normal vector per pair."""
        return {k: torch.randn(self.wl.D, generator=gen_for(
            self.run_seed, 3, g, k)) for k in pairs}

    def members(self, g, lo, hi, ws, timing):
        """Fitness (pooled loss) of members lo..hi-1 (member 2k = theta +
        sigma eps_k, 2k+1 = theta - sigma eps_k)."""
        t0 = time.perf_counter()
        b = self.wl.batch(self.run_seed, g, self.chunk)
        t1 = time.perf_counter()
        eps = self.noise(g, range(lo // 2, (hi + 1) // 2))
        thetas = {}
        for mem in range(lo, hi):
            e = eps[mem // 2]
            thetas[mem] = torch.add(self.theta, e,
                                    alpha=self.sigma if mem % 2 == 0
                                    else -self.sigma)
        t2 = time.perf_counter()
        fit = []
        with torch.inference_mode():
            for mem in range(lo, hi):
                p = self.wl.prepare(thetas[mem], b, self.level)
                lbar = self.wl.member_lbar(p, b, ws)
                fit.append(lq_pool(lbar, self.wl.q))
        t3 = time.perf_counter()
        timing["data"] = timing.get("data", 0.0) + (t1 - t0)
        timing["noise"] = timing.get("noise", 0.0) + (t2 - t1)
        timing["eval"] = timing.get("eval", 0.0) + (t3 - t2)
        return fit


def child_main(conn, gen_obj):
    torch.set_num_threads(1)
    ws = Workspace()
    while True:
        msg = conn.recv()
        if msg is None:
            break
        g, lo, hi = msg
        timing = {}
        c0 = time.process_time()
        fit = gen_obj.members(g, lo, hi, ws, timing)
        conn.send((fit, timing, time.process_time() - c0))


class Runner:
    """Runs whole generations with the population split as configured."""

    def __init__(self, gen_obj, split, threads):
        self.G, self.split = gen_obj, split
        self.ws = [Workspace(), Workspace()]
        self.proc = None
        if split == "procs":
            import multiprocessing as mp
            ctx = mp.get_context("fork")
            self.conn, child = ctx.Pipe()
            self.proc = ctx.Process(target=child_main, args=(child, gen_obj),
                                    daemon=True)
            self.proc.start()

    def close(self):
        if self.proc is not None:
            self.conn.send(None)
            self.proc.join(10)
            self.proc = None

    def run(self, g):
        P = self.G.P
        half = (P // 2 + 1) // 2 * 2            # an even split point
        t0 = time.perf_counter()
        c0 = time.process_time()
        cpu_other = 0.0
        timing = {}
        if self.split == "none":
            fit = self.G.members(g, 0, P, self.ws[0], timing)
        elif self.split == "threads":
            res, tm2 = {}, {}

            def other():
                res["fit"] = self.G.members(g, half, P, self.ws[1], tm2)
            th = threading.Thread(target=other)
            th.start()
            fit = self.G.members(g, 0, half, self.ws[0], timing)
            th.join()
            fit = fit + res["fit"]
        else:
            self.conn.send((g, half, P))
            fit = self.G.members(g, 0, half, self.ws[0], timing)
            f2, tm2, cpu_other = self.conn.recv()
            fit = fit + f2
        wall = time.perf_counter() - t0
        timing["cpu"] = time.process_time() - c0 + cpu_other
        return fit, wall, timing


# ----------------------------------------------------------------------------
# Correctness: optimised forward vs naive per-sequence float64 model

def check(wl, level, run_seed):
    n_small, m_small = 6, 3
    chunk = 4                     # two chunks, the second one partial
    if wl.name == "recall":
        w2 = Recall(wl.N, n_small, m_small)
    else:
        w2 = Coloring(n_small, m_small, wl.V)
    gobj = Generation(w2, 2, 0.02, run_seed, level, chunk)
    b = w2.batch(run_seed, 12345, chunk)
    worst_z, worst_loss = 0.0, 0.0
    ws = Workspace()
    for sgn in (1.0, -1.0):
        theta = gobj.theta + sgn * 0.02 * torch.randn(
            w2.D, generator=gen_for(run_seed, 4))
        p = w2.prepare(theta, b, level)
        if wl.name == "recall":
            zs = torch.empty(n_small, m_small, 5)
        else:
            zs = torch.empty(n_small, m_small, w2.V, 3)
        lbar = w2.member_lbar(p, b, ws, logits_out=zs)
        for i in range(n_small):
            lsum = 0.0
            for j in range(m_small):
                zn = w2.naive_logits(theta, b, i, j)
                worst_z = max(worst_z, float((zs[i, j].double() - zn)
                                             .abs().max()))
                lsum += w2.naive_loss(zn, b, i)
            worst_loss = max(worst_loss,
                             abs(float(lbar[i]) - lsum / m_small))
    ok = worst_z < 2e-4 and worst_loss < 2e-5
    return {"max_abs_logit_diff": worst_z, "max_abs_loss_diff": worst_loss,
            "sequences": 2 * n_small * m_small, "ok": ok}


# ----------------------------------------------------------------------------
# Driver

def workload_obj(name):
    if name == "recall":
        return Recall(ARGS.tokens, ARGS.inputs or 512, ARGS.seeds or 30)
    return Coloring(ARGS.inputs or 256, ARGS.seeds or 10)


def set_threads(threads):
    """Leave torch's thread count alone in the installed configuration."""
    if TUNED or ARGS.threads:
        torch.set_num_threads(threads)


def time_config(wl, level, split, threads, chunk, gens, warm):
    set_threads(threads)
    gobj = Generation(wl, ARGS.population, ARGS.sigma, ARGS.run_seed, level,
                      chunk)
    runner = Runner(gobj, split, threads)
    walls, parts, fits = [], [], None
    try:
        for it in range(warm + gens):
            fit, wall, timing = runner.run(1000 + it)
            if it >= warm:
                walls.append(wall)
                parts.append(timing)
            fits = fit
    finally:
        runner.close()
    med = statistics.median(walls)
    part = {k: statistics.median([p[k] for p in parts]) for k in parts[0]}
    return med, walls, part, fits


def main():
    names = WORKLOADS if ARGS.workload == "both" else (ARGS.workload,)
    levels = LEVELS if ARGS.algebra == "all" else (ARGS.algebra,)
    ARGS_LEVEL_NEEDS_LUT[0] = "lut" in levels
    info = blas_info()
    flags = cpu_flags()
    split = ARGS.split or ("procs" if TUNED else "none")
    threads = ARGS.threads or (1 if TUNED else DEFAULT_TORCH_THREADS)
    say("torch_reference: config=%s  torch %s  BLAS_INFO=%s  OpenBLAS=%s "
        "(kernel %s, %s threads)  MKL-DNN=%s  ATen capability=%s"
        % (ARGS.config, info["torch"], info["blas_info"],
           info["openblas_path"], info["openblas_corename"],
           info["openblas_threads"], info["mkldnn"], info["cpu_capability"]))
    say("cpu: %s, %d cpus, avx512f=%s; torch default threads=%d; env set by "
        "this script: %s" % (cpu_model(), os.cpu_count(), "avx512f" in flags,
                             DEFAULT_TORCH_THREADS,
                             " ".join("%s=%s" % kv for kv in ENV_SET.items())
                             or "none"))
    say("machine load (1 min) at start: %.2f" % os.getloadavg()[0])
    out = {"bench": "torch_reference", "config": ARGS.config,
           "python": sys.version.split()[0], "torch": info["torch"],
           "blas": info, "cpu": cpu_model(), "cpus": os.cpu_count(),
           "env": ENV_SET, "torch_default_threads": DEFAULT_TORCH_THREADS,
           "loadavg_start": os.getloadavg()[0], "results": [], "checks": []}
    failed = False
    for name in names:
        wl = workload_obj(name)
        flop = 2.0 * wl.macs_per_seq * wl.seqs_per_member * ARGS.population
        say("")
        say("== %s: P=%d n=%d m=%d (%d sequences/member, L=%d), D=%d params; "
            "paper-formulation FLOP/sequence = 2 x %d MACs -> %.2f GFLOP per "
            "generation" % (name, ARGS.population, wl.n, wl.m,
                            wl.seqs_per_member, wl.L, wl.D, wl.macs_per_seq,
                            flop / 1e9))
        for level in levels:
            if name == "coloring" and level == "lut":
                say("coloring has no first MLP to tabulate: 'lut' is the same "
                    "as 'folded' there; skipped")
                continue
            chunk = ARGS.chunk or (DEFAULT_CHUNK[(name, level)] if TUNED
                                   else wl.n)
            if not ARGS.no_check:
                set_threads(threads)
                c = check(wl, level, ARGS.run_seed)
                c.update({"workload": name, "algebra": level})
                out["checks"].append(c)
                say("check %-8s %-6s vs naive float64 per-sequence model on %d "
                    "sequences: max |dlogit| = %.2e, max |dloss| = %.2e  %s"
                    % (name, level, c["sequences"], c["max_abs_logit_diff"],
                       c["max_abs_loss_diff"], "ok" if c["ok"] else "FAIL"))
                if not c["ok"]:
                    failed = True
                    continue
            if ARGS.search and TUNED:
                search(wl, level, flop)
            med, walls, part, fits = time_config(
                wl, level, split, threads, chunk, ARGS.generations,
                ARGS.warmup)
            seqs = wl.seqs_per_member * ARGS.population
            r = {"workload": name, "algebra": level, "config": ARGS.config,
                 "population": ARGS.population, "inputs": wl.n,
                 "seeds": wl.m, "sequences_per_generation": seqs,
                 "gflop_per_generation": flop / 1e9,
                 "seconds_per_generation": med,
                 "seconds_all": walls,
                 "sequences_per_second": seqs / med,
                 "effective_gflops": flop / med / 1e9,
                 "split": split, "torch_threads": threads,
                 "chunk_inputs": chunk, "gelu": ARGS.gelu,
                 "parts_rank0": {k: v for k, v in part.items()
                                 if k != "cpu"},
                 "cpu_seconds_per_generation": part["cpu"],
                 "fitness_mean": sum(fits) / len(fits)}
            out["results"].append(r)
            say("%-8s %-6s %-9s threads=%d split=%-7s chunk=%3d inputs  "
                "%.3f s/gen (min %.3f max %.3f, %d gens)  %.3g seq/s  "
                "%.2f effective GFLOP/s" % (
                    name, level, ARGS.config, threads, split, chunk, med,
                    min(walls), max(walls), len(walls), seqs / med,
                    flop / med / 1e9))
            say("         medians: CPU time of all workers %.3f s/gen; "
                "worker 0: data %.4f s, noise %.4f s, eval %.3f s; mean "
                "fitness %.9f" % (part["cpu"], part.get("data", 0),
                                  part.get("noise", 0), part.get("eval", 0),
                                  r["fitness_mean"]))
    out["loadavg_end"] = os.getloadavg()[0]
    import resource
    out["peak_rss_mb"] = {
        "main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        / 1024.0}
    say("peak RSS: main process %.0f MB, largest worker child %.0f MB"
        % (out["peak_rss_mb"]["main"], out["peak_rss_mb"]["children"]))
    say("machine load (1 min) at end: %.2f (the machine is shared: numbers "
        "are noisy)" % out["loadavg_end"])
    print(json.dumps(out), flush=True)
    if failed:
        sys.exit(1)


def search(wl, level, flop):
    say("search (%s, %s): 1 warm-up + 3 timed generations per combination"
        % (wl.name, level))
    chunks = ([1, 2, 4, 8, 16, 32, wl.n] if wl.name == "recall"
              else [16, 32, 64, 128, wl.n])
    best = None
    for threads in (1, 2):
        for split in ("none", "threads", "procs"):
            if split != "none" and threads == 2:
                continue
            for chunk in chunks:
                med, _, _, _ = time_config(wl, level, split, threads, chunk,
                                           3, 1)
                say("  threads=%d split=%-7s chunk=%4d  %.3f s/gen  %.2f "
                    "GFLOP/s" % (threads, split, chunk, med, flop / med / 1e9))
                if best is None or med < best[0]:
                    best = (med, threads, split, chunk)
    say("  best: threads=%d split=%s chunk=%d (%.3f s/gen)"
        % (best[1], best[2], best[3], best[0]))


if __name__ == "__main__":
    main()
