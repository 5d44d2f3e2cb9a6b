#!/usr/bin/env bash
# results/recall/scratch/es-gradient-N15/mimic.sh [NAME...]: gradient
# descent from ES's 12,000-generation N = 15 q = 32 model, at GD's
# fine-tuning recipe (gd-reference's, as results/recall/gd/ft-es-scratch-N15/q32:
# lr 0.0017 -> 0.0003 cosine over 3,000 steps, warm-up 100, Adam
# 0.9/0.95, eps 1e-5, n 512, m 10, q 32), 1,500 steps, with ES's traits
# added one at a time by adam-mimic.py:
#   noise1.27-noclip  isotropic noise nu = 1.27 (a step's cosine with
#                     -grad L^32 brought to ES's 0.20 at generation 750 of
#                     ar-N15-es-end-both, from a GD batch's 0.325) and no
#                     clip: ES's estimate, as ar-N15-es-end-both uses it
#   noclip            no clip, no noise
#   noise1.27         the noise, with GD's clip at norm 1
#   noise0.6-noclip   half the noise (a step's cosine 0.28), no clip
# Each run goes to results/recall/scratch/mimic-N15/NAME: train.log, the
# models every 250 steps as models/model-g<STEP>.safetensors with their
# full-set evaluations (scripts/eval-snapshots), models/snapshots.csv, and
# loss.csv (loss.py's L^32 at 500, 1,000, 1,500).  A run whose
# snapshots.csv exists is skipped.  About 20 min per run on one core.
# Run from the repository root.
set -euo pipefail
S='results/recall/scratch/ar-N15-scratch-gd-recipe-q/q=32/model.safetensors'
rec=(--q 32 --seeds 10 --batch 512 --lr 0.0017 --lr-end 0.0003 --lr-steps 3000
	--schedule cosine --warmup 100 --beta2 0.95 --eps 1e-5 --steps 1500 --save-every 250)
root=results/recall/scratch/mimic-N15
[ $# -gt 0 ] || set -- noise1.27-noclip noclip noise1.27 noise0.6-noclip
for name in "$@"; do
	case $name in
	noise1.27-noclip) extra=(--clip 0 --noise 1.27) ;;
	noclip) extra=(--clip 0) ;;
	noise1.27) extra=(--clip 1 --noise 1.27) ;;
	noise0.6-noclip) extra=(--clip 0 --noise 0.6) ;;
	*) echo "mimic.sh: unknown run $name" >&2; exit 2 ;;
	esac
	d=$root/$name
	[ -f "$d/models/snapshots.csv" ] && continue
	mkdir -p "$d/models"
	/usr/bin/python3 results/recall/gd/es-gradient/adam-mimic.py "$S" "$d/m.safetensors" \
		"${rec[@]}" "${extra[@]}" > "$d/train.log" 2>&1
	for g in 250 500 750 1000 1250; do
		mv "$d/m-$g.safetensors" "$d/models/model-g$g.safetensors"
	done
	mv "$d/m.safetensors" "$d/models/model-g1500.safetensors"
	scripts/eval-snapshots "$d" --set eval.max_inputs=0
	/usr/bin/python3 results/recall/scratch/es-gradient-N15/loss.py --q 32 \
		"$d"/models/model-g{500,1000,1500}.safetensors > "$d/loss.csv"
done
