#!/usr/bin/python3
"""ES's update rule on exact gradients: which part of ES loses the seed use?

  results/recall/gd/es-gradient/adam-mimic.py START.safetensors OUT.safetensors
      [--smooth SIGMA] [--noise NU [--noise-into m|v]] [--v-from g-floor|m]
      [--normalize] [--optimizer sgd] [recipe options]

From START, runs an Adam optimiser (or, with --optimizer sgd, SGD with
heavy-ball momentum --momentum, PyTorch's: b = μ·b + g, θ -= lr·b) on
batch gradients of L^q (n fresh inputs, m fresh seeds per step:
scripts/gd-reference's forward pass and loss), changed the ways ES's
update differs from a gradient step:

  g = ∇ L^q(θ + SIGMA·ε)        ε ~ N(0, I) drawn anew each step (--smooth)
  g = g / |g|                    (--normalize: ES's centered ranks keep the
                                  length of its estimate about constant)
  g += NU · |g| · ξ / √D         ξ ~ N(0, I) (--noise)

--smooth gives ES's Gaussian smoothing (the mean over ε of ∇L(θ + σε) is
the gradient of the smoothed loss ES climbs), --noise its estimation
noise.  --noise-into splits the noise's effect on Adam: m, the noise goes
into Adam's first moment only (its second moment sees the clean g); v, the
second moment only (the steps' direction is the clean g's).  --v-from
changes what the second moment averages: g-floor, g² less the added
noise's known variance per coordinate (averaged alike, the difference
kept at least (1 - β1)/(1 + β1) of that average, 1/19 at β1 = 0.9); m,
the first moment squared.  With
either option Adam is written out (split_adam_step), the formula of
PyTorch's 1.13, which it matches bit for bit with neither change.  The
noise NU = 1.6 brings a step's cosine with the reference gradient from
GD's 0.45 down to ES's 0.24 at P = 4,096 (measure.json).

The default recipe is ES's q-sweep one (Adam β 0.9/0.999, ε 1e-8, lr 0.002
falling linearly to 0.001 at step 2,000, no clipping, q = 128);
gd-reference's is --lr 3e-3 --lr-end 3e-4 --lr-steps 10000 --schedule
cosine --warmup 333 --beta2 0.95 --eps 1e-5 --clip 1 --q 100, and with it
and none of the three changes the run is gd-reference's own, step for
step.  Models every --save-every steps (OUT-STEP.safetensors) and at the
end are written like gd-reference's, so `randes eval` reads them.
"""
import argparse
import math
import sys
import time

sys.dont_write_bytecode = True
import gdref  # noqa: E402  (puts scripts/ on the path)
import safetensors_io  # noqa: E402
import torch  # noqa: E402


def lr_at(gr, a, step):
    """Linear warm-up from 0 over --warmup steps, then a cosine
    (gd-reference's own schedule) or a line from --lr to --lr-end at
    --lr-steps, and --lr-end after."""
    if a.schedule == "cosine":
        return gr.lr_at(argparse.Namespace(lr=a.lr, lr_end=a.lr_end, warmup=a.warmup,
                                           steps=a.lr_steps), step)
    if step < a.warmup:
        return a.lr * step / a.warmup
    t = min(1.0, (step - a.warmup) / max(1, a.lr_steps - a.warmup))
    return a.lr + (a.lr_end - a.lr) * t


def split_adam_step(params, M, V, gm, gv, lr, b1, b2, eps, t, v_from="g", floor=0.0,
                    F=None):
    """One Adam step (t from 1) whose first moment M takes gm and second
    moment V takes gv² (v_from "g"; with gm = gv it is PyTorch's Adam
    without weight decay, operation for operation), or the bias-corrected
    first moment squared ("m"), or ("g-floor", the form randes had as
    es.adam_noise_floor in commit 1ba4c32 only) F[0] = b2·F[0] + (1 -
    b2)·floor, and the denominator
    takes v/bc2 - F[0]/bc2, kept at least the first moment's share of
    F[0]/bc2, (1 - b1)/(1 + b1)."""
    keep = (1 - b1) / (1 + b1)
    bc1 = 1 - b1 ** t
    bc2 = 1 - b2 ** t
    bc2s = math.sqrt(bc2)
    if v_from == "g-floor":
        F[0] = b2 * F[0] + (1 - b2) * floor
    with torch.no_grad():
        for p, m, v, xr, yr in zip(params, M, V, gm, gv):
            x = torch.nan_to_num(xr.detach(), nan=0.0, posinf=0.0, neginf=0.0)
            y = x if yr is xr else torch.nan_to_num(yr.detach(), nan=0.0, posinf=0.0,
                                                    neginf=0.0)
            m.mul_(b1).add_(x, alpha=1 - b1)
            if v_from == "m":
                y = m / bc1
            v.mul_(b2).addcmul_(y, y, value=1 - b2)
            if v_from == "g-floor":
                d = torch.clamp(v / bc2 - F[0] / bc2, min=keep * F[0] / bc2)
                p.addcdiv_(m, d.sqrt().add_(eps), value=-lr / bc1)
            else:
                p.addcdiv_(m, (v.sqrt() / bc2s).add_(eps), value=-lr / bc1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("start")
    p.add_argument("out")
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--smooth", type=float, default=0.0)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--q", type=float, default=128.0)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save-every", type=int, default=250)
    # the optimiser recipe: ES's by default; gd-reference's is
    # --lr 3e-3 --lr-end 3e-4 --lr-steps 10000 --schedule cosine --warmup 333
    # --beta2 0.95 --eps 1e-5 --clip 1
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--lr-end", type=float, default=0.001)
    p.add_argument("--lr-steps", type=int, default=2000)
    p.add_argument("--schedule", choices=["linear", "cosine"], default="linear")
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--clip", type=float, default=0.0, help="global norm; 0 = none")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                   help="sgd: per-coordinate steps proportional to the gradient, so "
                   "isotropic noise cannot shrink the small coordinates' steps the "
                   "way it does through Adam's second moment")
    p.add_argument("--momentum", type=float, default=0.9, help="sgd's")
    p.add_argument("--noise-into", choices=["both", "m", "v"], default="both",
                   help="Adam's moments the noise enters (m or v: Adam only, no clip)")
    p.add_argument("--v-from", choices=["g", "g-floor", "m"], default="g",
                   help="what Adam's second moment averages: g², g² less the added "
                   "noise's variance per coordinate, or the first moment squared "
                   "(g-floor, m: Adam only, no clip)")
    p.add_argument("--normalize", action="store_true",
                   help="scale g to norm 1 before the noise (ES's centered ranks keep "
                   "its estimate's norm about constant)")
    a = p.parse_args()
    manual = a.noise_into != "both" or a.v_from != "g"
    if manual and (a.optimizer != "adam" or a.clip > 0):
        p.error("--noise-into m|v and --v-from g-floor|m need Adam and --clip 0")
    torch.set_num_threads(1)
    gr = gdref.load()
    meta, tensors = gr.read_safetensors(a.start)
    spec = gr.Spec(meta, a.start)
    names = [n for n, _, _ in tensors]
    P = {k: v.to(torch.float32).clone().requires_grad_(True)
         for k, v in gr.as_tensors(tensors).items()}
    params = [P[n] for n in names]
    D = sum(t.numel() for t in params)
    if manual:
        opt = None                                # split_adam_step is the optimiser
    elif a.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=a.lr, momentum=a.momentum)
    else:
        opt = torch.optim.Adam(params, lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps)
    gen = torch.Generator().manual_seed(a.seed)
    # gd-reference's model metadata (its out_meta reads these), then what
    # trained the model instead of gd-reference
    rec = argparse.Namespace(variant="q_R", q=a.q, steps=a.steps, batch=a.batch,
                             seeds=a.seeds, lr=a.lr, lr_end=a.lr_end, warmup=a.warmup,
                             init_seed=a.seed, from_template=True)
    what = ("results/recall/gd/es-gradient/adam-mimic.py q=%g steps=%d batch=%d seeds=%d "
            "seed=%d lr=%g lr_end=%g lr_steps=%d schedule=%s warmup=%d beta2=%g eps=%g "
            "clip=%g normalize=%d noise=%g smooth=%g"
            % (a.q, a.steps, a.batch, a.seeds, a.seed, a.lr, a.lr_end, a.lr_steps,
               a.schedule, a.warmup, a.beta2, a.eps, a.clip, int(a.normalize), a.noise,
               a.smooth))
    if a.optimizer == "sgd":
        what += " optimizer=sgd momentum=%g" % a.momentum
    if a.beta1 != 0.9:
        what += " beta1=%g" % a.beta1
    if manual:
        what += " noise_into=%s" % a.noise_into
        if a.v_from != "g":
            what += " v_from=%s" % a.v_from
        F = [0.0]                                 # g-floor's average of the floor
        M = [torch.zeros_like(t) for t in params]
        V = [torch.zeros_like(t) for t in params]

    def save(path, step):
        md = gr.out_meta(spec, meta, rec, step)
        md["trained_by"] = what + " (at step %d)" % step
        md["config"] = md["config"].replace('"gd-reference"', '"adam-mimic"')
        safetensors_io.write(path, md, [(n, shape, safetensors_io.to_bytes(
            P[n].detach().reshape(-1).tolist())) for n, shape, _ in tensors])

    def perturbed():                              # θ + σε, ε drawn from gen
        return {n: P[n] + a.smooth * torch.randn(P[n].shape, generator=gen) for n in names}
    print("adam-mimic: %s, q %g, n %d, m %d, %d steps, noise %g, smooth %g, D %d"
          % (a.optimizer, a.q, a.batch, a.seeds, a.steps, a.noise, a.smooth, D), flush=True)
    t0 = time.time()
    unorm = 0.0                                   # sum of |Δθ| since the last line
    for step in range(1, a.steps + 1):
        loss, z, yy = gdref.batch_loss(gr, spec, perturbed if a.smooth > 0 else P,
                                       a.batch, a.seeds, a.q, gen)
        g = torch.autograd.grad(loss, params)
        if a.normalize:
            gn = gdref.norm(g)
            g = [t / gn for t in g] if gn > 0 else g
        clean, gn = g, 0.0
        if a.noise > 0:
            gn = gdref.norm(g)
            g = [t + a.noise * gn / math.sqrt(D) * torch.randn(t.shape, generator=gen)
                 for t in g]
        lr = lr_at(gr, a, step - 1)
        before = [t.detach().clone() for t in params]
        if manual:
            gm, gv = {"both": (g, g), "m": (g, clean), "v": (clean, g)}[a.noise_into]
            split_adam_step(params, M, V, gm, gv, lr, a.beta1, a.beta2, a.eps, step, a.v_from,
                            (a.noise * float(gn)) ** 2 / D, F)
        else:
            for t, gt in zip(params, g):
                t.grad = torch.nan_to_num(gt.detach(), nan=0.0, posinf=0.0, neginf=0.0)
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, a.clip)
            for grp in opt.param_groups:
                grp["lr"] = lr
            opt.step()
        with torch.no_grad():
            unorm += gdref.norm([t - b for t, b in zip(params, before)])
        if step % 50 == 0:
            succ = ((z > 0).to(torch.float32) == yy).all(1).to(torch.float32).mean().item()
            print("step %5d  L^q %.4f  success %.3f  |step| %.4f  %.0f s"
                  % (step, loss.item(), succ, unorm / 50, time.time() - t0), flush=True)
            unorm = 0.0
        if step % a.save_every == 0 or step == a.steps:
            out = a.out if step == a.steps else a.out.replace(".safetensors",
                                                               "-%d.safetensors" % step)
            save(out, step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
