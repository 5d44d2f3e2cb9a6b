#!/usr/bin/env bash
# e2e-resume: a run stopped (by generations, by SIGUSR1, by SIGKILL) and
# resumed gives bitwise the same theta as one that never stopped; resume
# refuses a config that changes the model and accepts one that does not.
. "$(dirname "$0")/e2e-lib.sh"

cat >c.yaml <<'YAML'
run: {name: res, seed: 21, generations: 30, checkpoint_every: 5, eval_at_end: false}
task: {kind: cycle_coloring}
objective: {variant: q_R, q: {interp: step, points: [[0, 1], [10, 10]]}, seeds: 3, inputs: 8}
es: {population: 16, sigma: {interp: linear, points: [[0, 0.05], [30, 0.01]]}, lr: 0.01}
YAML

run 2 train c.yaml --run-dir full >/dev/null 2>&1 || fail "uninterrupted run"
want=$(last_hash full)

# 1. Stopped by a shorter run.generations, resumed with the full count.
run 2 train c.yaml --run-dir part --set run.generations=12 >/dev/null 2>&1 ||
	fail "first part"
run 2 train c.yaml --run-dir part --resume >/dev/null 2>part.log || fail "resume"
[ "$(last_hash part)" = "$want" ] || fail "resume after a shorter run differs"
[ "$(hashes part)" = "$(hashes full)" ] || fail "metrics of the resumed run differ"
pass "resume after run.generations: same theta, same metrics"
# the config that trained generations 0-11 is kept, the change logged
grep -q "^  generations: 12$" part/config.g12.yaml ||
	fail "config.g12.yaml does not hold the first part's config"
grep -q "^  generations: 30$" part/config.yaml || fail "config.yaml not updated"
grep -q "in 1 key (run.generations 12 -> 30)" part.log ||
	fail "the resume did not log the changed key: $(cat part.log)"
run 2 train c.yaml --run-dir part --resume >/dev/null 2>part.log ||
	fail "resume of a finished run"
[ "$(ls part/config.g*.yaml)" = "part/config.g12.yaml" ] ||
	fail "an unchanged config was kept again: $(ls part)"
grep -q "config differs" part.log && fail "an unchanged config logged a change"
pass "resume with a changed key: the old config kept as config.g12.yaml"

# 2. Killed with SIGKILL mid-run: resume from the last checkpoint.
"$MPIRUN" 2 "$RANDES" train c.yaml --run-dir killed \
	--set run.generations=100000 >/dev/null 2>&1 &
pid=$!
wait_for_lines killed/metrics.jsonl 13 60
kill -KILL "$pid" 2>/dev/null || true
pkill -KILL -f "randes train c.yaml --run-dir killed" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -f killed/checkpoint.bin ] || fail "no checkpoint after SIGKILL"
run 2 train c.yaml --run-dir killed --resume >/dev/null 2>&1 ||
	fail "resume after SIGKILL"
[ "$(last_hash killed)" = "$want" ] || fail "resume after SIGKILL differs"
[ "$(hashes killed)" = "$(hashes full)" ] ||
	fail "metrics after SIGKILL + resume hold duplicates or gaps"
pass "SIGKILL mid-run, resume: same theta, metrics without duplicates"

# 1b. The same with task.coloring_numerics: double (the default, float, is
# what the runs above use).
run 2 train c.yaml --run-dir fulld --set task.coloring_numerics=double \
	>/dev/null 2>&1 || fail "uninterrupted double run"
run 2 train c.yaml --run-dir partd --set task.coloring_numerics=double \
	--set run.generations=12 >/dev/null 2>&1 || fail "first double part"
run 2 train c.yaml --run-dir partd --set task.coloring_numerics=double \
	--resume >/dev/null 2>&1 || fail "double resume"
[ "$(hashes partd)" = "$(hashes fulld)" ] || fail "double resume differs"
pass "resume with coloring_numerics double: same theta, same metrics"

# es.theta_ema: the model written is the θ average; training (θ) is the
# same as without it, and a resumed run writes the same average.
run 2 train c.yaml --run-dir ema --set es.theta_ema=0.8 >/dev/null 2>&1 ||
	fail "es.theta_ema run"
[ "$(hashes ema)" = "$(hashes full)" ] || fail "es.theta_ema changed theta"
cmp -s ema/model.safetensors full/model.safetensors &&
	fail "es.theta_ema: the model is theta, not its average"
run 2 train c.yaml --run-dir emap --set es.theta_ema=0.8 \
	--set run.generations=12 >/dev/null 2>&1 || fail "es.theta_ema first part"
run 2 train c.yaml --run-dir emap --set es.theta_ema=0.8 --resume \
	>/dev/null 2>&1 || fail "es.theta_ema resume"
cmp -s ema/model.safetensors emap/model.safetensors ||
	fail "es.theta_ema: the resumed run's average differs"
run 0 export ema --out ema-x.safetensors >/dev/null 2>&1 || fail "export ema"
cmp -s ema-x.safetensors ema/model.safetensors ||
	fail "export of an es.theta_ema run is not its average"
pass "es.theta_ema: same theta, the average is the model, resumed exactly"

# 3. Resume refuses a model change, accepts an eval change.
expect_exit 2 run 0 train c.yaml --run-dir part --resume --set model.width=8
grep -q "model.width" last.err || fail "refusal does not name model.width"
expect_exit 2 run 0 train c.yaml --run-dir part --resume --set run.seed=3
# the scores' arithmetic is part of the run
expect_exit 2 run 0 train c.yaml --run-dir part --resume \
	--set task.coloring_numerics=double
grep -q "task.coloring_numerics" last.err ||
	fail "refusal does not name task.coloring_numerics"
run 0 train c.yaml --run-dir part --resume --set run.checkpoint_every=3 \
	--set eval.seeds=7 --set eval.majority=[1,5] >/dev/null 2>&1 ||
	fail "an unlocked change was refused"
pass "resume refuses model.width/run.seed/coloring_numerics changes, accepts run/eval changes"

# 4. Without --resume an existing run is refused, nothing is touched.
before=$(md5sum part/checkpoint.bin)
expect_exit 2 run 0 train c.yaml --run-dir part
grep -q -- "--resume" last.err || fail "refusal does not mention --resume"
[ "$(md5sum part/checkpoint.bin)" = "$before" ] || fail "checkpoint touched"
pass "an existing run directory is refused without --resume"
