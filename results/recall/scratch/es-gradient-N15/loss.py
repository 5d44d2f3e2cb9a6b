#!/usr/bin/python3
"""GD's training loss, measured the same way for every model given.

  results/recall/scratch/es-gradient-N15/loss.py --q Q MODEL... > loss.csv

The loss is gd-reference's (gdref.batch_loss: L^q over n fresh random
inputs of the mean BCE over m fresh seeds), averaged over --batches
batches drawn from one generator seed, so every model sees the same
inputs and seeds.  ES's logged `objective` is L^q over its own input
sample (the exhaustive adversary), which is a different sample; this puts
ES's and GD's models on one scale.  Prints CSV: model, mean, standard error.
"""
import argparse
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "gd", "es-gradient"))
import gdref  # noqa: E402  (puts scripts/ on the path)
import torch  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--q", type=float, required=True)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--batches", type=int, default=64)
    p.add_argument("--gen-seed", type=int, default=777)
    a = p.parse_args()
    torch.set_num_threads(1)
    gr = gdref.load()
    print("model,loss_mean,loss_stderr")
    for path in a.models:
        meta, tensors = gr.read_safetensors(path)
        spec = gr.Spec(meta, path)
        P = {k: v.to(torch.float32) for k, v in gr.as_tensors(tensors).items()}
        gen = torch.Generator().manual_seed(a.gen_seed)
        with torch.no_grad():
            ls = [float(gdref.batch_loss(gr, spec, P, a.batch, a.seeds, a.q, gen)[0])
                  for _ in range(a.batches)]
        mean = sum(ls) / len(ls)
        sd = math.sqrt(sum((x - mean) ** 2 for x in ls) / (len(ls) - 1))
        print("%s,%.5f,%.5f" % (path, mean, sd / math.sqrt(len(ls))))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
