#!/usr/bin/python3
"""How good is one ES gradient estimate at ES's start θ, next to one GD step's?

  results/recall/gd/es-gradient/measure.py START.safetensors ESDIR... > measure.json

Each ESDIR is a one-generation `randes train` run from START with
es.optimizer sgd, es.momentum 0 and es.lr 1, so its model minus START is
the centre gradient estimate ĝ of that generation (es.h).  The GD side is
scripts/gd-reference's own forward pass and loss: the gradient of L^q over
a batch of n fresh inputs and m fresh seeds, the estimate one GD step uses.
"Reference" is the mean of --ref such batch gradients.

Printed per group of runs (same P, σ, es.shaping and, for recall,
task.exhaustive_values): the mean cosine
between two independent estimates (the share of the estimate's energy that
is signal, to first order), and the mean cosine of each estimate with the
reference -∇L, over all of θ and over the seed rows of embed.w alone.
"""
import argparse
import itertools
import json
import os
import re
import sys

sys.dont_write_bytecode = True
import gdref  # noqa: E402  (puts scripts/ on the path)
import safetensors_io  # noqa: E402
import torch  # noqa: E402


def flat(f, names):
    return torch.cat([torch.tensor(f.floats(n).tolist(), dtype=torch.float64) for n in names])


def cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("start")
    p.add_argument("esdirs", nargs="+")
    p.add_argument("--q", type=float, default=128.0)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--gd", type=int, default=16, help="GD batch gradients to compare")
    p.add_argument("--ref", type=int, default=256, help="batch gradients in the reference")
    p.add_argument("--values", type=int, default=0,
                   help="the GD batches (reference and compared) are randes's exhaustive "
                        "adversary's N x VALUES inputs instead of --batch random ones")
    p.add_argument("--save-reference", metavar="FILE",
                   help="torch.save the reference -grad L (float64, flat) to FILE")
    a = p.parse_args()
    torch.set_num_threads(1)
    gr = gdref.load()
    start = safetensors_io.File(a.start)
    names = start.names
    spec = gr.Spec(start.meta, a.start)
    P = {n: torch.tensor(start.floats(n).tolist(), dtype=torch.float32)
         .view(start.shape(n)).requires_grad_(True) for n in names}
    theta0 = torch.cat([P[n].detach().reshape(-1).to(torch.float64) for n in names])
    # the seed rows of embed.w: its last R rows (features F .. F+R-1)
    seedrows = []
    for n in names:
        m = torch.zeros(start.shape(n), dtype=torch.bool)
        if n == "embed.w":
            m[spec.F:spec.F + spec.R] = True
        seedrows.append(m.reshape(-1))
    seedrows = torch.cat(seedrows)
    gen = torch.Generator().manual_seed(12345)

    def gd_grad():
        loss = gdref.batch_loss(gr, spec, P, a.batch, a.seeds, a.q, gen, a.values)[0]
        g = torch.autograd.grad(loss, [P[n] for n in names])
        return torch.cat([t.reshape(-1).to(torch.float64) for t in g])

    ref = sum(gd_grad() for _ in range(a.ref)) / a.ref
    down = -ref                                   # the descent direction
    gds = [-gd_grad() for _ in range(a.gd)]
    if a.save_reference:
        torch.save(down, a.save_reference)

    groups = {}
    for d in a.esdirs:
        cfg = open(os.path.join(d, "config.yaml")).read()
        pop = int(re.search(r"(?m)^  population: (\d+)", cfg).group(1))
        sig = float(re.search(r"(?m)^  sigma: ([0-9.e-]+)", cfg).group(1))
        shaping = re.search(r"(?m)^  shaping: (\w+)", cfg).group(1)
        xv = re.search(r"(?m)^  exhaustive_values: (\d+)", cfg)
        xv = int(xv.group(1)) if xv else 4
        f = safetensors_io.File(os.path.join(d, "model.safetensors"))
        groups.setdefault((pop, sig, shaping, xv), []).append(flat(f, names) - theta0)

    def summary(vecs):
        pair = [cos(u, v) for u, v in itertools.combinations(vecs, 2)]
        pair_s = [cos(u[seedrows], v[seedrows]) for u, v in itertools.combinations(vecs, 2)]
        mean = sum(vecs) / len(vecs)
        return {
            "estimates": len(vecs),
            "cos_between_estimates": sum(pair) / len(pair),
            "cos_between_estimates_seed_rows": sum(pair_s) / len(pair_s),
            "cos_with_reference": sum(cos(v, down) for v in vecs) / len(vecs),
            "cos_with_reference_seed_rows":
                sum(cos(v[seedrows], down[seedrows]) for v in vecs) / len(vecs),
            "cos_of_their_mean_with_reference": cos(mean, down),
            "seed_rows_share_of_norm2":
                sum(float(v[seedrows].norm() ** 2 / v.norm() ** 2) for v in vecs) / len(vecs),
        }

    out = {"parameters": int(theta0.numel()), "seed_row_parameters": int(seedrows.sum()),
           "q": a.q, "batch": spec.N * a.values if a.values else a.batch,
           "seeds": a.seeds, "reference_batches": a.ref,
           "reference_seed_rows_share_of_norm2": float(down[seedrows].norm() ** 2
                                                       / down.norm() ** 2),
           "gd": summary(gds), "es": {}}
    if a.values:        # named only here, so the older JSON files are unchanged
        out["batch_kind"] = "exhaustive, %d values per position" % a.values
    for (pop, sig, shaping, xv), vecs in sorted(groups.items()):
        # recall's query values per position (task.exhaustive_values) are
        # named only where they differ from the configs' 4, so the labels
        # of the JSON files written before this key are unchanged
        label = "P=%d sigma=%g %s" % (pop, sig, shaping)
        out["es"][label + ("" if xv == 4 else " values=%d" % xv)] = summary(vecs)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
