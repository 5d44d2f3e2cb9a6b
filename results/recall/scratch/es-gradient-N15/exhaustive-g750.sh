#!/usr/bin/env bash
# results/recall/scratch/es-gradient-N15/exhaustive-g750.sh: is ES's
# estimate at the q = 32 run's generation 750 aimed at a different
# gradient?  ES scores each generation on the exhaustive adversary's
# inputs (every position x 32 values, fresh fillings; docs/tasks.md), GD
# and the reference in both-g750-q32.json on random batches of 512.  This
# compares both-g750.sh's estimates (the same directories) with -grad L^32
# over 256 exhaustive batches instead (measure.py --values 32), whose GD
# batch gradients are then ES's estimate at P -> infinity; writes
# exhaustive-g750-q32.json, and the cosine between the two references
# (random and exhaustive batches, 256 each) to exhaustive-g750-refs.txt.
# Run from the repository root after both-g750.sh.
set -euo pipefail
out=results/recall/scratch/es-gradient-N15
. "$out/estimate.sh"
dirs=()
g750 16384x32 4096x4 16384x4 4096x32
start=$g750_start
m=results/recall/gd/es-gradient/measure.py
tmp=runs/es-gradient-N15/both-g750-q32
/usr/bin/python3 $m "$start" "${dirs[@]}" --q 32 --seeds 10 --values 32 \
	--save-reference $tmp/ref-exhaustive.pt > "$out/exhaustive-g750-q32.json"
/usr/bin/python3 $m "$start" "${dirs[@]}" --q 32 --seeds 10 --batch 512 \
	--save-reference $tmp/ref-random.pt > $tmp/random-again.json
# the random side must be both-g750.sh's own measurement, byte for byte
cmp $tmp/random-again.json "$out/both-g750-q32.json"
/usr/bin/python3 -c '
import sys, torch
a, b = (torch.load(f) for f in sys.argv[1:3])
print("cos(-grad L^32 on random batches of 512, on exhaustive batches of 480) = %.4f" % float(a @ b / (a.norm() * b.norm())))
' $tmp/ref-random.pt $tmp/ref-exhaustive.pt | tee "$out/exhaustive-g750-refs.txt"
