#!/usr/bin/env bash
# e2e-train: a short training run leaves a complete run directory
# (config.yaml that loads back, one valid JSON line per generation,
# checkpoint, eval.json); `randes eval` gives the same figures on 1 and 2
# ranks; the ES pipeline through the daemon reduces the sphere function by
# more than 1000x.
. "$(dirname "$0")/e2e-lib.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

run 2 train "$SRC/configs/default.yaml" --run-dir demo \
	--set run.generations=12 --set run.checkpoint_every=5 \
	--set eval.max_inputs=300 --set eval.seeds=8 \
	--set eval.majority=[1,3] >demo.out 2>demo.err ||
	{ cat demo.err >&2; fail "training the default config"; }
for f in config.yaml metrics.jsonl checkpoint.bin checkpoint.prev.bin eval.json; do
	[ -s "demo/$f" ] || fail "demo/$f missing or empty"
done
run 0 check-config demo/config.yaml >resolved.yaml || fail "config.yaml does not load"
grep -q "generations: 12" resolved.yaml || fail "config.yaml lost the --set override"
$PY - demo/metrics.jsonl demo/eval.json <<'PYEOF' || fail "metrics/eval JSON"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["g"] for l in lines] == list(range(12)), [l["g"] for l in lines]
for l in lines:
    for k in ("fitness_min", "fitness_mean", "fitness_max", "objective",
              "sigma", "evals_per_s", "t_eval", "t_comm", "t_update",
              "grad_norm", "grad_noise_norm", "update_norm", "theta_hash",
              "bytes_down", "bytes_up"):
        assert k in l, k
    assert l["grad_noise_norm"] > 0, l["grad_noise_norm"]
    assert l["fitness_min"] <= l["fitness_mean"] <= l["fitness_max"]
ev = json.load(open(sys.argv[2]))
assert ev["task"] == "cycle_coloring" and ev["seeds"] == 8
assert ev["eval_set"]["inputs"] == 300
assert 0 <= ev["success"]["p5"] <= ev["success"]["average"] <= 1
PYEOF
grep -q "g 12/12" demo.out || fail "no final progress line"
grep -q "majority(3)" demo.out || fail "no evaluation table on stdout"
pass "run directory complete; metrics and eval.json valid"

# The evaluation does not depend on the number of ranks.
run 1 eval demo --seeds 8 --out e1.json >/dev/null 2>&1 || fail "eval -np 1"
run 2 eval demo --seeds 8 --out e2.json >/dev/null 2>&1 || fail "eval -np 2"
cmp -s e1.json e2.json || fail "eval.json differs between -np 1 and -np 2"
cmp -s e1.json demo/eval.json || fail "randes eval differs from the end-of-training eval"
pass "randes eval: identical eval.json on 1 and 2 ranks and at the end of training"

run 0 eval demo --seeds 3 --set eval.max_inputs=50 --set eval.majority=[1,3] \
	--out e50.json >/dev/null 2>&1 || fail "eval --set"
grep -q '"inputs":50' e50.json || fail "eval --set eval.max_inputs=50 was not applied"
expect_exit 2 run 0 eval demo --set model.width=3
grep -q "only eval" last.err || fail "eval --set of a model key: no clear refusal"
pass "eval --set changes evaluation keys only"

expect_exit 2 run 0 eval demo --seeds 0
expect_exit 3 run 0 eval no-such-dir
pass "eval refuses bad --seeds (2) and a missing run directory (3)"

# ES through the whole daemon on the sphere function (D = 100).
run 2 train "$SRC/configs/sphere.yaml" --run-dir sphere \
	--set run.eval_at_end=false >/dev/null 2>&1 || fail "sphere run"
$PY - sphere/metrics.jsonl <<'PYEOF' || fail "sphere did not improve 1000x"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
first, last = lines[0]["objective"], min(l["objective"] for l in lines[-20:])
print(f"sphere: f(centre) {first:.4g} -> {last:.4g} ({first / last:.0f}x)")
assert first / last > 1000
PYEOF
pass "sphere D=100 reduced by more than 1000x through the daemon"

# grad_norm is the estimate before es.grad_clip: with plain SGD every
# update is lr·min(grad_norm, clip) long, and the clip acts on some lines.
run 1 train "$SRC/configs/sphere.yaml" --run-dir clip --set run.generations=30 \
	--set run.eval_at_end=false --set es.optimizer=sgd --set es.momentum=0 \
	--set es.grad_clip=5.6 >/dev/null 2>&1 || fail "sphere run with es.grad_clip"
$PY - clip/metrics.jsonl <<'PYEOF' || fail "grad_norm / update_norm with es.grad_clip"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
clipped = 0
for l in lines:
    want = l["lr"] * min(l["grad_norm"], 5.6)
    assert abs(l["update_norm"] - want) <= 1e-7 * want, (l["g"], l["update_norm"], want)
    clipped += l["grad_norm"] > 5.6
print(f"clip: {clipped} of {len(lines)} generations clipped")
assert 0 < clipped < len(lines)  # the clip acts on some, not all
PYEOF
pass "metrics grad_norm: the estimate's norm before es.grad_clip, the update lr·min(norm, clip)"
