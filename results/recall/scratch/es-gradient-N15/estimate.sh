# results/recall/scratch/es-gradient-N15/estimate.sh: sourced by
# measure.sh, values.sh, both-g750.sh, sigma-g750.sh and
# exhaustive-g750.sh; run from the repository root.
#
# estimate DIR CONFIG START POP SEED [VALUES [SIGMA]] makes one ES
# gradient estimate in DIR, unless DIR already holds one: one generation
# of CONFIG from START at population POP, run seed SEED, VALUES query
# values per position and perturbation scale SIGMA (default, or empty:
# the config's), with es.optimizer sgd, lr 1 and no momentum, so
# DIR/model.safetensors - START is the centre estimate.
estimate() {
	local d=$1 cfg=$2 start=$3 pop=$4 s=$5 xv=${6:-} sig=${7:-}
	local extra=()
	[ -z "$xv" ] || extra=(--set task.exhaustive_values="$xv")
	[ -z "$sig" ] || extra+=(--set es.sigma="$sig")
	mkdir -p "$(dirname "$d")"
	[ -f "$d/model.safetensors" ] && return 0
	build/randes train "$cfg" --run-dir "$d" \
		--set run.generations=1 --set run.seed="$s" \
		--set run.eval_at_end=false --set run.model_every=0 \
		--set model.init_from="$start" --set es.population="$pop" \
		"${extra[@]}" \
		--set es.optimizer=sgd --set es.lr=1 --set es.momentum=0 \
		> "$d.log" 2>&1 || { cat "$d.log" >&2; exit 1; }
}

# estimates WORK CONFIG START SET...: estimate() for run seeds 1-8 at
# each SET, POPxVALUES or POPxVALUES@SIGMA (16384x32: P = 16,384, 32
# query values; 4096x32@0.0025: P = 4,096, 32 values, sigma 0.0025), in
# WORK/P<pop>[-x<values>][-sigma<sigma>]-s<seed>, the -x part left out
# where VALUES is 4 (the runs' own); appends the directories to the array
# dirs.
estimates() {
	local work=$1 cfg=$2 start=$3 set pop xv sig s d
	shift 3
	for set in "$@"; do
		sig=
		case $set in *@*) sig=${set#*@} set=${set%@*} ;; esac
		pop=${set%x*} xv=${set#*x}
		for s in $(seq 1 8); do
			d=$work/P$pop
			[ "$xv" = 4 ] || d=$d-x$xv
			[ -z "$sig" ] || d=$d-sigma$sig
			d=$d-s$s
			dirs+=("$d")
			estimate "$d" "$cfg" "$start" "$pop" "$s" "$xv" "$sig"
		done
	done
}

# compare OUT START Q DIR...: measure.py's comparison of the estimates in
# DIR... with -grad L^Q at START (256 GD batches, n = 512, m = 10) and with
# single GD batch gradients, written to OUT, whose name is then printed.
compare() {
	local out=$1 start=$2 q=$3
	shift 3
	/usr/bin/python3 results/recall/gd/es-gradient/measure.py "$start" "$@" \
		--q "$q" --batch 512 --seeds 10 > "$out"
	echo "$out"
}

# g750 SET...: estimates() at generation 750 of ar-N15-es-end-both's
# q = 32 run (its committed model and config), in
# runs/es-gradient-N15/both-g750-q32, shared by both-g750.sh,
# sigma-g750.sh and exhaustive-g750.sh; sets g750_start to that model.
g750() {
	local run='results/recall/scratch/ar-N15-es-end-both/q=32'
	g750_start=$run/models/model-g750.safetensors
	estimates runs/es-gradient-N15/both-g750-q32 "$run/config.yaml" "$g750_start" "$@"
}
