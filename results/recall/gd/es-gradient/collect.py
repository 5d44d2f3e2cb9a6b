#!/usr/bin/python3
"""Gather the adam-mimic runs into this directory (how docs/results.md's
table was made).

  results/recall/gd/es-gradient/collect.py RUNDIR

RUNDIR holds NAME.safetensors, NAME-STEP.safetensors, their
`randes eval ... --set eval.max_inputs=0` JSON and NAME.log for each run
below.  Writes trajectories.csv (every snapshot's figures) and copies each
run's final model, eval.json and log into runs/NAME/ (and the snapshots
in KEEP as model-STEP.safetensors).  The first runs were
made before adam-mimic.py stamped its own metadata: their model files say
"gd-reference", so the copies get the trained_by line of the command that
made them (tensors unchanged).
"""
import csv
import glob
import json
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "scripts"))
import safetensors_io  # noqa: E402

GD = ("--lr 3e-3 --lr-end 3e-4 --lr-steps 10000 --schedule cosine --warmup 333 "
      "--beta2 0.95 --eps 1e-5 --clip 1 --q 100")
ES = "--q 128"
RUNS = [  # name, options after START OUT (all from the same START)
    ("gd-clean", GD + " --steps 3000"),
    ("gd-smooth0.01", GD + " --steps 3000 --smooth 0.01"),
    ("gd-smooth0.02", GD + " --steps 3000 --smooth 0.02"),
    ("gd-noise1.6", GD + " --steps 3000 --noise 1.6"),
    ("gd-noise1.6-noclip", GD.replace("--clip 1", "--clip 0") + " --steps 3000 --noise 1.6"),
    ("gd-norm", GD + " --steps 3000 --normalize"),
    ("gd-all", GD + " --steps 3000 --normalize --noise 1.6 --smooth 0.02"),
    ("gdrecipe-q128", GD.replace("--q 100", "--q 128") + " --steps 2000"),
    ("es-clean", ES + " --steps 3000"),
    ("es-b0.95", ES + " --steps 3000 --beta2 0.95"),
    ("es-norm", ES + " --steps 3000 --normalize"),
    ("es-norm-b0.95", ES + " --steps 3000 --normalize --beta2 0.95"),
    ("es-b0.95-noise1.6", ES + " --steps 3000 --beta2 0.95 --noise 1.6"),
]

# snapshots kept beside the final model: GD in its trough (measure-gd1000.json
# compares ES's estimate with GD's at 1,000) and after (grad-norms.py)
KEEP = {"gd-clean": [500, 1000, 2000]}


def figures(path):
    e = json.load(open(path))
    m30 = [x for x in e["majority"] if x["k"] == 30][0]
    return {"avg": 100.0 * e["success"]["average"], "p5": 100.0 * e["success"]["p5"],
            "maj30_avg": 100.0 * m30["average"], "maj30_p5": 100.0 * m30["p5"],
            "pred_var": e["predictive_variance"]["average"]}


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    src = sys.argv[1]
    rows = []
    for name, opts in RUNS:
        final = int(re.search(r"--steps (\d+)", opts).group(1))
        for ev in glob.glob(os.path.join(src, name + "*.safetensors.eval.json")):
            tail = os.path.basename(ev)[len(name):-len(".safetensors.eval.json")]
            if tail and not re.fullmatch(r"-\d+", tail):
                continue                      # another run's name with this prefix
            step = int(tail[1:]) if tail else final
            rows.append(dict(run=name, step=step, options=opts, **figures(ev)))
        d = os.path.join(HERE, "runs", name)
        os.makedirs(d, exist_ok=True)
        for step in [final] + KEEP.get(name, []):
            stem = name if step == final else "%s-%d" % (name, step)
            f = safetensors_io.File(os.path.join(src, stem + ".safetensors"))
            meta = dict(f.meta)
            if "adam-mimic" not in meta["trained_by"]:
                meta["trained_by"] = ("results/recall/gd/es-gradient/adam-mimic.py START OUT "
                                      "%s (at step %d)" % (opts, step))
                meta["config"] = meta["config"].replace('"gd-reference"', '"adam-mimic"')
            safetensors_io.write(os.path.join(d, "model%s.safetensors"
                                              % ("" if step == final else "-%d" % step)),
                                 meta, [(n, f.shape(n), f.raw(n)) for n in f.names])
        shutil.copy(os.path.join(src, name + ".safetensors.eval.json"),
                    os.path.join(d, "eval.json"))
        shutil.copy(os.path.join(src, name + ".log"), os.path.join(d, "train.log"))
    rows.sort(key=lambda r: ([n for n, _ in RUNS].index(r["run"]), r["step"]))
    with open(os.path.join(HERE, "trajectories.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["run", "step", "avg", "p5", "maj30_avg",
                                           "maj30_p5", "pred_var", "options"])
        w.writeheader()
        for r in rows:
            w.writerow({k: ("%.4f" % v if k == "pred_var" else "%.1f" % v)
                        if isinstance(v, float) else v for k, v in r.items()})


if __name__ == "__main__":
    main()
