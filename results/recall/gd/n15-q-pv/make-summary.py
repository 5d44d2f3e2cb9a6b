#!/usr/bin/python3
"""summary.csv in `randes sweep --summarize`'s columns, for models that no
sweep trained (scripts/gd-reference's), so that scripts/plot draws them:

  make-summary.py ROOT N M Q=DIR [Q=DIR...]

ROOT gets summary.csv; each DIR holds the eval.json of the model trained at
that q (task size N, m seeds); the columns are those scripts/plot reads.
"""
import csv
import json
import os
import sys

if len(sys.argv) < 5:
    sys.exit(__doc__)
root, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cols = ["index", "run", "status", "q", "task", "variant", "task_size", "m",
        "success.average", "success.p5", "success.worst",
        "majority.30.average", "majority.30.p5",
        "predictive_variance.average", "predictive_variance.p95",
        "seed_disagreement.average", "seed_disagreement.p95",
        "loss.average", "loss.p95", "loss.worst"] + ["histogram.%02d" % b for b in range(20)]
rows = []
for i, spec in enumerate(sys.argv[4:]):
    q, d = spec.split("=", 1)
    e = json.load(open(os.path.join(d, "eval.json")))
    r = {"index": i, "run": os.path.basename(os.path.normpath(d)), "status": "done", "q": q,
         "task": e["task"], "variant": e["variant"], "task_size": n, "m": m}
    for k in ("success", "predictive_variance", "seed_disagreement", "loss"):
        for kk, v in e[k].items():
            if "%s.%s" % (k, kk) in cols:
                r["%s.%s" % (k, kk)] = v
    for mj in e["majority"]:
        if mj["k"] == 30:
            r["majority.30.average"], r["majority.30.p5"] = mj["average"], mj["p5"]
    for b, v in enumerate(e["histogram"]["fractions"]):
        r["histogram.%02d" % b] = v
    rows.append(r)
with open(os.path.join(root, "summary.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, cols)
    w.writeheader()
    w.writerows(rows)
