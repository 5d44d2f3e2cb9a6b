#!/usr/bin/env bash
# results/recall/scratch/es-gradient-N15/mimic.sh [NAME...]: gradient
# descent from ES's 12,000-generation N = 15 q = 32 model, at GD's
# fine-tuning recipe (gd-reference's, as results/recall/gd/ft-es-scratch-N15/q32:
# lr 0.0017 -> 0.0003 cosine over 3,000 steps, warm-up 100, Adam
# 0.9/0.95, eps 1e-5, n 512, m 10, q 32), 1,500 steps, with ES's traits
# added by adam-mimic.py as NAME says: its parts, joined by '-', are
#   noiseNU   isotropic noise nu = NU; 1.27 brings a step's cosine with
#             -grad L^32 to ES's 0.20 at generation 750 of
#             ar-N15-es-end-both, from a GD batch's 0.325; 0.6 to 0.28
#   noclip    no clip (GD clips at norm 1; ar-N15-es-end-both does not)
#   sgd       SGD with momentum 0.9 instead of Adam, at lr 3.53 times the
#             recipe's (0.006 -> 0.00106: its steps' length, about 0.02,
#             is then Adam's); sgdLR: at peak LR, the end 0.3/1.7 of it.
#             Under SGD the noise cannot raise the small coordinates'
#             denominators, as it does Adam's second moment.
#   intom     the noise enters Adam's first moment only (the second sees
#             the clean gradient); intov: the second moment only
#   vfloor    Adam's denominator takes its second moment less the noise's
#             variance per coordinate, both averaged alike (kept at least
#             the first moment's share of it, (1 - beta1)/(1 + beta1))
#   vm        Adam's second moment takes the first moment squared
#   lrxK      Adam's lr K times the recipe's (peak and end)
#   seedN     the run's seed N (batches, seeds, noise) instead of 1
#   b1B       Adam's beta1 B instead of 0.9 (0.99: the first moment
#             averages the noise over about ten times as many steps)
#   q8        objective q = 8 from ES's q = 8 model (the other half of
#             the paper's pair; GD's recipe alone: PV 0.0012 / 0.00098 /
#             0.00082 at 500 / 1,000 / 1,500, results/recall/gd/ft-es-scratch-N15/q8);
#             loss.csv then holds L^8
# The runs made (the default list): noise1.27-noclip (ES's estimate, as
# ar-N15-es-end-both uses it), noclip, noise1.27, noise0.6-noclip; SGD:
# sgd-noclip, sgd-noise1.27-noclip, sgd0.02-noclip,
# sgd0.02-noise1.27-noclip, sgd0.06-noclip (diverges); the noise's two
# paths into Adam: noise1.27-intom-noclip, noise1.27-intov-noclip(-seed2);
# the floor taken out: noise1.27-vfloor-noclip(-seed2), vm-noclip; the
# controls: noise1.27-lrx3-noclip, noclip-seed2, noise1.27-noclip-seed2;
# less noise: noise0.3-noclip, noise0.15-noclip;
# q = 8: q8-noclip, q8-noise1.27-noclip, q8-noise0.3-noclip,
# q8-noise0.15-noclip(-seed2), and beside them noise0.15-noclip-seed2;
# beta1 0.99: b10.99-noclip, noise1.27-b10.99-noclip, and
# noise1.27-b10.99-vfloor-noclip, stopped at step 500 by hand (its
# train.log only): its steps had wrecked the model (batch success 0.03).
# Each run goes to results/recall/scratch/mimic-N15/NAME: train.log, the
# models every 250 steps as models/model-g<STEP>.safetensors with their
# full-set evaluations (scripts/eval-snapshots), models/snapshots.csv, and
# loss.csv (loss.py's L^32 at 500, 1,000, 1,500).  A run whose
# snapshots.csv exists is skipped.  3 to 20 min per run on one core (the
# rate swings with what else runs).
# Run from the repository root.
set -euo pipefail
starts=results/recall/scratch/ar-N15-scratch-gd-recipe-q    # q=32/, q=8/
lr=0.0017 lr_end=0.0003
rec=(--seeds 10 --batch 512 --lr-steps 3000 --schedule cosine --warmup 100
	--beta2 0.95 --eps 1e-5 --steps 1500 --save-every 250)
root=results/recall/scratch/mimic-N15
[ $# -gt 0 ] || set -- noise1.27-noclip noclip noise1.27 noise0.6-noclip \
	sgd-noclip sgd-noise1.27-noclip sgd0.02-noclip sgd0.02-noise1.27-noclip sgd0.06-noclip \
	noise1.27-intom-noclip noise1.27-intov-noclip noise1.27-intov-noclip-seed2 \
	noise1.27-vfloor-noclip noise1.27-vfloor-noclip-seed2 vm-noclip \
	noise1.27-lrx3-noclip noclip-seed2 noise1.27-noclip-seed2 \
	noise0.3-noclip noise0.15-noclip b10.99-noclip noise1.27-b10.99-noclip \
	q8-noclip q8-noise1.27-noclip q8-noise0.15-noclip \
	q8-noise0.15-noclip-seed2 noise0.15-noclip-seed2 q8-noise0.3-noclip
for name in "$@"; do
	q=32 clip=1 peak=$lr end=$lr_end extra=()
	for part in ${name//-/ }; do
		case $part in
		noise[0-9]*) extra+=(--noise "${part#noise}") ;;
		noclip) clip=0 ;;
		intom | intov) extra+=(--noise-into "${part#into}") ;;
		vfloor) extra+=(--v-from g-floor) ;;
		vm) extra+=(--v-from m) ;;
		seed[0-9]*) extra+=(--seed "${part#seed}") ;;
		q8) q=8 ;;
		b1[0-9]*) extra+=(--beta1 "${part#b1}") ;;
		lrx[0-9]*)
			k=${part#lrx}
			peak=$(awk "BEGIN { print $lr * $k }") end=$(awk "BEGIN { print $lr_end * $k }") ;;
		sgd) extra+=(--optimizer sgd) peak=0.006 end=0.00106 ;;
		sgd[0-9]*)
			peak=${part#sgd}
			extra+=(--optimizer sgd) end=$(awk "BEGIN { print $peak * $lr_end / $lr }") ;;
		*) echo "mimic.sh: unknown part $part of $name" >&2; exit 2 ;;
		esac
	done
	start=$starts/q=$q/model.safetensors
	extra+=(--q "$q" --clip "$clip" --lr "$peak" --lr-end "$end")
	d=$root/$name
	[ -f "$d/models/snapshots.csv" ] && continue
	mkdir -p "$d/models"
	/usr/bin/python3 results/recall/gd/es-gradient/adam-mimic.py "$start" "$d/m.safetensors" \
		"${rec[@]}" "${extra[@]}" > "$d/train.log" 2>&1
	for g in 250 500 750 1000 1250; do
		mv "$d/m-$g.safetensors" "$d/models/model-g$g.safetensors"
	done
	mv "$d/m.safetensors" "$d/models/model-g1500.safetensors"
	scripts/eval-snapshots "$d" --set eval.max_inputs=0
	/usr/bin/python3 results/recall/scratch/es-gradient-N15/loss.py --q "$q" \
		"$d"/models/model-g{500,1000,1500}.safetensors > "$d/loss.csv"
done
