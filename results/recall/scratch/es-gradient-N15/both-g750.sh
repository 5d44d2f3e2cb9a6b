#!/usr/bin/env bash
# results/recall/scratch/es-gradient-N15/both-g750.sh: ES's gradient
# estimate against -grad L^32 at generation 750 of ar-N15-es-end-both's
# q = 32 run, where its loss fell behind GD's: eight one-generation
# estimates with the run's own setting (P = 16,384, all 32 query values),
# eight with the older runs' (P = 4,096, 4 values) and eight with each
# lever alone (P = 16,384 with 4 values, P = 4,096 with 32), compared by
# measure.py as values.sh does at ES's end point.  Writes
# results/recall/scratch/es-gradient-N15/both-g750-q32.json (about 25 min
# on two cores beside a sweep).  Run from the repository root.
set -euo pipefail
out=results/recall/scratch/es-gradient-N15
. "$out/estimate.sh"
dirs=()
g750 16384x32 4096x4 16384x4 4096x32
start=$g750_start
compare "$out/both-g750-q32.json" "$start" 32 "${dirs[@]}"
