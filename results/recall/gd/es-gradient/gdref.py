"""What measure.py and adam-mimic.py share: scripts/gd-reference as a module,
and its batch loss (PAPER.md 2.5: n fresh inputs, m fresh seeds shared by
the batch, L^q over the inputs of the mean BCE over the seeds)."""
import importlib.machinery
import importlib.util
import math
import os
import sys

sys.dont_write_bytecode = True
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                       "scripts")
sys.path.insert(0, SCRIPTS)

import torch  # noqa: E402


def load():
    """scripts/gd-reference (no .py, so not importable by name)."""
    path = os.path.join(SCRIPTS, "gd-reference")
    loader = importlib.machinery.SourceFileLoader("gd_reference", path)
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("gd_reference", loader))
    loader.exec_module(mod)
    mod.torch = torch
    return mod


def stratified_batch(spec, values, gen):
    """randes's exhaustive adversary (docs/tasks.md): N * values inputs,
    input k querying position k // values; with values = 2^d every value
    appears once per position, else the queried values are random; every
    other row of every filling is fresh random bits."""
    n = spec.N * values
    Y = torch.randint(0, 2, (n, spec.N, spec.d), generator=gen).to(torch.float32)
    qpos = torch.arange(n) // values
    if values == 2 ** spec.d:
        v = torch.arange(n) % values
        Y[torch.arange(n), qpos] = ((v[:, None] >> torch.arange(spec.d)) & 1).to(torch.float32)
    return Y, qpos, Y[torch.arange(n), qpos]


def batch_loss(gr, spec, P, n, m, q, gen, values=0):
    """L^q of one fresh batch -> (loss, logits, targets), drawn from gen in
    gd-reference's order (inputs, then seeds).  P is the parameters, or a
    function called after those draws that returns them (adam-mimic.py's
    perturbed θ draws its noise there).  values > 0: the batch is
    stratified_batch's N * values inputs instead of n random ones."""
    if values:
        Y, qpos, y = stratified_batch(spec, values, gen)
        n = Y.shape[0]
    else:
        Y, qpos, y = gr.batch(spec, n, gen)
    seeds = torch.randint(0, 2, (m, spec.R), generator=gen).to(torch.float32)
    if callable(P):
        P = P()
    z = gr.forward_tabled(spec, P, gr.token_ids(spec, Y, qpos), seeds).reshape(n * m, spec.O)
    yy = y[:, None, :].expand(n, m, spec.d).reshape(n * m, spec.d)
    ell = torch.nn.functional.binary_cross_entropy_with_logits(z, yy, reduction="none").mean(1)
    return gr.lq_pool(ell.view(n, m).mean(1), q), z, yy


def norm(ts):
    """The global norm of a list of tensors (summed in double)."""
    return math.sqrt(sum(float((t * t).sum()) for t in ts))
