#!/usr/bin/env bash
# results/recall/scratch/es-gradient-N15/measure.sh: one ES gradient estimate
# against GD's gradient at N = 15, q = 8 and 32, at two points of equal
# training loss: ES's end (ar-N15-scratch-gd-recipe-q, 12,000 generations)
# and GD's 3,500-step model from scratch (gd/n15-steps; loss.py puts both
# at the same loss, 0.447 and 0.453 at q = 8, 0.615 and 0.611 at q = 32).
#
# Each estimate is one generation of the run's own config (gd-recipe:
# P = 4,096, sigma 0.005, raw fitness) with es.optimizer sgd, lr 1 and no
# momentum, so model - start is the centre estimate; measure.py
# (results/recall/gd/es-gradient) compares them with -grad L^q over 256
# GD batches (n = 512, m = 10) and with single GD batch gradients.
# SEEDS=K sets the estimates at P = 4,096 (default 8); BIG_P=P adds two
# estimates at population P (the committed JSON: BIG_P=16384).
# Run from the repository root; writes runs/es-gradient-N15/ and
# results/recall/scratch/es-gradient-N15/<point>-q<q>.json.
set -euo pipefail
out=results/recall/scratch/es-gradient-N15
es=results/recall/scratch/ar-N15-scratch-gd-recipe-q
gd=results/recall/gd/n15-steps
work=runs/es-gradient-N15
seeds=${SEEDS:-8}
. "$out/estimate.sh"
for q in 8 32; do
	for point in es-end gd-3500; do
		if [ $point = es-end ]; then start=$es/q=$q/model.safetensors
		else start=$gd/q$q/models/model-g3500.safetensors; fi
		dirs=()
		for pop in 4096 ${BIG_P:-}; do
			n=$seeds
			[ "$pop" = 4096 ] || n=2
			for s in $(seq 1 "$n"); do
				d=$work/$point-q$q/P$pop-s$s
				dirs+=("$d")
				estimate "$d" "$es/q=$q/config.yaml" "$start" "$pop" "$s"
			done
		done
		compare "$out/$point-q$q.json" "$start" "$q" "${dirs[@]}"
	done
done
