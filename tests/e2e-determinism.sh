#!/usr/bin/env bash
# e2e-determinism: the same config and seed give bitwise the same theta after
# every generation for -np 1, 2 and 3, with static and dynamic assignment,
# for openai_es (colouring, in both task.coloring_numerics) and pgpe (a
# small grid world with roll-outs).
. "$(dirname "$0")/e2e-lib.sh"

cat >col.yaml <<'YAML'
run: {name: det-col, seed: 11, generations: 8, checkpoint_every: 4, eval_at_end: false}
task: {kind: cycle_coloring}
objective: {variant: q_R, q: 10, seeds: 3, inputs: 8}
es: {population: 14, sigma: 0.03, lr: 0.01}
YAML
cat >grid.yaml <<'YAML'
run: {name: det-grid, seed: 5, generations: 4, checkpoint_every: 2, eval_at_end: false}
task: {kind: gridworld}
model: {width: 16, heads: 2, key_size: 4, value_size: 4, mlp: false, index_dim: 4}
objective: {variant: q_R, q: inf, seeds: 2}
es: {strategy: pgpe, population: 6, sigma: 0.03, lr: 0.01}
YAML

for cfg in col grid; do
	for np in 1 2 3; do
		run "$np" train "$cfg.yaml" --run-dir "$cfg-np$np" >/dev/null 2>&1 ||
			fail "$cfg -np $np did not finish"
	done
	run 3 train "$cfg.yaml" --run-dir "$cfg-dyn" --set es.assign=dynamic \
		--set es.chunk_pairs=2 >/dev/null 2>&1 || fail "$cfg dynamic"
	ref=$(hashes "$cfg-np1")
	[ "$(echo "$ref" | wc -l)" -ge 4 ] || fail "$cfg: too few metrics lines"
	for d in "$cfg-np2" "$cfg-np3" "$cfg-dyn"; do
		[ "$(hashes "$d")" = "$ref" ] ||
			fail "$cfg: theta differs between -np 1 and $d"
	done
	pass "$cfg: bitwise the same theta for -np 1/2/3 and dynamic assignment"
done

# The colouring runs above take task.coloring_numerics' default (float);
# the committed results' double arithmetic is as deterministic.
for np in 1 2; do
	run "$np" train col.yaml --run-dir "cold-np$np" \
		--set task.coloring_numerics=double >/dev/null 2>&1 ||
		fail "col double -np $np did not finish"
done
[ "$(hashes cold-np1)" = "$(hashes cold-np2)" ] ||
	fail "col double: theta differs between -np 1 and 2"
pass "col with coloring_numerics double: the same theta for -np 1/2"
