#!/usr/bin/env bash
# results/recall/scratch/es-gradient-N15/sigma-g750.sh: does a smaller
# perturbation scale sharpen ES's gradient estimate?  At generation 750 of
# ar-N15-es-end-both's q = 32 run (as both-g750.sh), eight one-generation
# estimates at P = 4,096 with all 32 query values for each sigma in
# 0.01, 0.005 (the runs' own; both-g750.sh's estimates, reused),
# 0.0025 and 0.00125, compared by measure.py with -grad L^32.  Writes
# results/recall/scratch/es-gradient-N15/sigma-g750-q32.json.  Run from
# the repository root.
set -euo pipefail
out=results/recall/scratch/es-gradient-N15
. "$out/estimate.sh"
dirs=()
g750 4096x32 4096x32@0.01 4096x32@0.0025 4096x32@0.00125
start=$g750_start
compare "$out/sigma-g750-q32.json" "$start" 32 "${dirs[@]}"
