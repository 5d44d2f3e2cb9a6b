#!/usr/bin/env bash
# results/recall/scratch/es-gradient-N15/values.sh: at ES's end point
# (ar-N15-scratch-gd-recipe-q, 12,000 generations), how much better is one
# ES estimate with more query values per position per generation
# (task.exhaustive_values; the runs' own 4 give 15 x 4 = 60 inputs) than
# with a larger population?  One-generation estimates as measure.sh makes
# them (es.optimizer sgd, lr 1, no momentum: model - start is the estimate),
# eight per setting, compared by measure.py with -grad L^q over 256 GD
# batches.  Reuses measure.sh's P = 4,096 and P = 16,384 runs (run it with
# BIG_P=16384 first, or this makes them).  Writes
# results/recall/scratch/es-gradient-N15/es-end-values-q<q>.json.
# Run from the repository root.
set -euo pipefail
out=results/recall/scratch/es-gradient-N15
es=results/recall/scratch/ar-N15-scratch-gd-recipe-q
work=runs/es-gradient-N15
. "$out/estimate.sh"
for q in 8 32; do
	start=$es/q=$q/model.safetensors
	# population x values: the runs' own, 4x each lever, then both
	if [ $q = 32 ]; then sets="4096x4 16384x4 1024x16 4096x16 4096x32 16384x32"
	else sets="4096x4 16384x4 4096x16"; fi
	dirs=()
	estimates "$work/es-end-q$q" "$es/q=$q/config.yaml" "$start" $sets
	compare "$out/es-end-values-q$q.json" "$start" "$q" "${dirs[@]}"
done
