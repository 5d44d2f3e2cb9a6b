#!/usr/bin/python3
"""The length of the L^q batch gradient at each of some models.

  results/recall/gd/es-gradient/grad-norms.py MODEL.safetensors...

For each model: the median, least and largest ‖∇L^q‖ over --batches fresh
batches (n inputs, m seeds; gd-reference's loss, generator seed 7).  This
is where docs/results.md gets the lengths it compares with gd-reference's
clip at norm 1.
"""
import argparse
import statistics
import sys

sys.dont_write_bytecode = True
import gdref  # noqa: E402  (puts scripts/ on the path)
import torch  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--q", type=float, default=100.0)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--batches", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(1)
    gr = gdref.load()
    for path in a.models:
        meta, tensors = gr.read_safetensors(path)
        spec = gr.Spec(meta, path)
        P = {k: v.to(torch.float32).requires_grad_(True)
             for k, v in gr.as_tensors(tensors).items()}
        gen = torch.Generator().manual_seed(7)
        ns = []
        for _ in range(a.batches):
            loss = gdref.batch_loss(gr, spec, P, a.batch, a.seeds, a.q, gen)[0]
            g = torch.autograd.grad(loss, list(P.values()))
            ns.append(gdref.norm(g))
        print("%s: |grad L^%g| median %.3f, least %.3f, largest %.3f over %d batches"
              % (path, a.q, statistics.median(ns), min(ns), max(ns), a.batches))


if __name__ == "__main__":
    main()
