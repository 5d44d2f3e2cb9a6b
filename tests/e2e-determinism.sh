#!/usr/bin/env bash
# e2e-determinism: the same config and seed give bitwise the same theta after
# every generation for -np 1, 2 and 3, with static and dynamic assignment,
# for openai_es (colouring, in both task.coloring_numerics) and pgpe (a
# small grid world with roll-outs); and the same theta whichever
# instruction set the kernels use (RANDES_ISA), as on another CPU.
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

# Another CPU: RANDES_ISA forces the kernels' instruction set for the
# whole process (training, noise, update), so a run here shows what a
# machine without AVX-512 (or without AVX2) computes.  Colouring in both
# numerics and a small recall model (input MLP, linear attention, fresh
# seeds) must give the same theta after every generation under each.
cat >rec.yaml <<'YAML'
run: {name: det-rec, seed: 4, generations: 4, checkpoint_every: 2, eval_at_end: false}
task: {kind: associative_recall, num_tokens: 6}
model: {width: 24}
objective: {variant: q_R, q: 16, seeds: 3, inputs: 12}
es: {population: 10, sigma: 0.03, lr: 0.01}
YAML
isas=
for isa in generic avx2 avx512; do
	RANDES_ISA=$isa "$RANDES" --version >/dev/null 2>&1 && isas="$isas $isa"
done
case $isas in
*generic*avx2*) ;;
*) fail "RANDES_ISA: fewer than two instruction sets here ($isas)" ;;
esac
for what in "col" "col --set task.coloring_numerics=double" "rec" "grid"; do
	set -- $what
	ref=
	for isa in $isas; do
		d="isa-$1-$#-$isa"
		RANDES_ISA=$isa run 0 train "$1.yaml" --run-dir "$d" "${@:2}" \
			>/dev/null 2>"$d.err" || fail "$what under $isa did not finish"
		grep -q "kernels $isa" "$d.err" || fail "$d: the log names no kernels $isa"
		h=$(hashes "$d")
		[ -n "$h" ] || fail "$d: no theta hashes"
		if [ -z "$ref" ]; then
			ref=$h
		else
			[ "$h" = "$ref" ] || fail "$what: theta under $isa differs from the first ($isas )"
		fi
	done
	pass "$what: the same theta under every instruction set ($isas )"
done
rc=0
RANDES_ISA=sse "$RANDES" train col.yaml --run-dir isa-bad >/dev/null 2>isa-bad.err ||
	rc=$?
[ "$rc" = 2 ] || fail "RANDES_ISA=sse: exit $rc, expected 2"
grep -q "RANDES_ISA='sse': expected generic, avx2 or avx512" isa-bad.err ||
	fail "RANDES_ISA=sse: $(cat isa-bad.err)"
[ ! -e isa-bad ] || fail "RANDES_ISA=sse: wrote isa-bad"
pass "RANDES_ISA=sse refused with exit 2 before anything is written"
