#!/usr/bin/python3
"""ES's update rule on exact gradients: which part of ES loses the seed use?

  results/recall/gd/es-gradient/adam-mimic.py START.safetensors OUT.safetensors
      [--smooth SIGMA] [--noise NU] [--normalize] [recipe options]

From START, runs an Adam optimiser on batch gradients of L^q (n fresh
inputs, m fresh seeds per step: scripts/gd-reference's forward pass and
loss), changed the ways ES's update differs from a gradient step:

  g = ∇ L^q(θ + SIGMA·ε)        ε ~ N(0, I) drawn anew each step (--smooth)
  g = g / |g|                    (--normalize: ES's centered ranks keep the
                                  length of its estimate about constant)
  g += NU · |g| · ξ / √D         ξ ~ N(0, I) (--noise)

--smooth gives ES's Gaussian smoothing (the mean over ε of ∇L(θ + σε) is
the gradient of the smoothed loss ES climbs), --noise its estimation
noise: NU = 1.6 brings a step's cosine with the reference gradient from
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
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--clip", type=float, default=0.0, help="global norm; 0 = none")
    p.add_argument("--normalize", action="store_true",
                   help="scale g to norm 1 before the noise (ES's centered ranks keep "
                   "its estimate's norm about constant)")
    a = p.parse_args()
    torch.set_num_threads(1)
    gr = gdref.load()
    meta, tensors = gr.read_safetensors(a.start)
    spec = gr.Spec(meta, a.start)
    names = [n for n, _, _ in tensors]
    P = {k: v.to(torch.float32).clone().requires_grad_(True)
         for k, v in gr.as_tensors(tensors).items()}
    params = [P[n] for n in names]
    D = sum(t.numel() for t in params)
    opt = torch.optim.Adam(params, lr=a.lr, betas=(0.9, a.beta2), eps=a.eps)
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

    def save(path, step):
        md = gr.out_meta(spec, meta, rec, step)
        md["trained_by"] = what + " (at step %d)" % step
        md["config"] = md["config"].replace('"gd-reference"', '"adam-mimic"')
        safetensors_io.write(path, md, [(n, shape, safetensors_io.to_bytes(
            P[n].detach().reshape(-1).tolist())) for n, shape, _ in tensors])

    def perturbed():                              # θ + σε, ε drawn from gen
        return {n: P[n] + a.smooth * torch.randn(P[n].shape, generator=gen) for n in names}
    print("adam-mimic: q %g, n %d, m %d, %d steps, noise %g, smooth %g, D %d"
          % (a.q, a.batch, a.seeds, a.steps, a.noise, a.smooth, D), flush=True)
    t0 = time.time()
    unorm = 0.0                                   # sum of |Δθ| since the last line
    for step in range(1, a.steps + 1):
        loss, z, yy = gdref.batch_loss(gr, spec, perturbed if a.smooth > 0 else P,
                                       a.batch, a.seeds, a.q, gen)
        g = torch.autograd.grad(loss, params)
        if a.normalize:
            gn = gdref.norm(g)
            g = [t / gn for t in g] if gn > 0 else g
        if a.noise > 0:
            gn = gdref.norm(g)
            g = [t + a.noise * gn / math.sqrt(D) * torch.randn(t.shape, generator=gen)
                 for t in g]
        for t, gt in zip(params, g):
            t.grad = torch.nan_to_num(gt.detach(), nan=0.0, posinf=0.0, neginf=0.0)
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, a.clip)
        for grp in opt.param_groups:
            grp["lr"] = lr_at(gr, a, step - 1)
        before = [t.detach().clone() for t in params]
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
