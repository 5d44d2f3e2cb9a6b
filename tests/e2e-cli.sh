#!/usr/bin/env bash
# e2e-cli: the command line as a user meets it: help and version, exit
# codes (0 ok, 2 usage/config, 3 I/O), check-config printing a resolved
# config that loads back to the same text, and bad configs or overrides
# refused with exit 2 before anything is written.
#
# Usage: tests/e2e-cli.sh RANDES_BINARY SOURCE_ROOT
set -u
randes=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/randes-e2e-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect CODE DESCRIPTION -- COMMAND...: runs it, keeps stdout/stderr in
# out/err, and checks the exit code.
expect() {
	local want=$1 what=$2
	shift 3
	"$@" >out 2>err
	local got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$what: exit $got, want $want; stderr: $(head -c 400 err)"
	fi
}

has() { # has FILE TEXT: fixed-string search
	grep -qF -- "$2" "$1" || fail "expected '$2' in $1: $(head -c 400 "$1")"
}

# --- help and version ------------------------------------------------------
expect 0 "--help" -- "$randes" --help
has out "Usage: randes COMMAND"
has out "check-config"
[ -s err ] && fail "--help wrote to stderr"
expect 0 "-h" -- "$randes" -h
has out "Usage: randes COMMAND"
expect 0 "help" -- "$randes" help
has out "Commands:"
expect 0 "--version" -- "$randes" --version
grep -qE '^randes [0-9]+\.[0-9]+\.[0-9]+$' out || fail "--version: $(cat out)"
for cmd in train eval export sweep check-config help; do
	expect 0 "help $cmd" -- "$randes" help "$cmd"
	has out "Usage: randes $cmd"
	expect 0 "$cmd --help" -- "$randes" "$cmd" --help
	has out "Usage: randes $cmd"
	grep -qi "not implemented" out && fail "help $cmd: says 'not implemented'"
	# every option the help names is one the command knows (alone, each
	# is a usage error or the help: nothing runs)
	for opt in $(grep -oE -- '(^| )--[a-z-]+' out | sort -u); do
		"$randes" "$cmd" "$opt" >opt.out 2>opt.err </dev/null
		grep -q "unknown option" opt.err &&
			fail "help $cmd names $opt, which $cmd refuses"
	done
done

# --- usage errors: exit 2, a message naming the problem ----------------------
expect 2 "no arguments" -- "$randes"
has err "Usage: randes COMMAND"
expect 2 "unknown command" -- "$randes" frobnicate
has err "unknown command 'frobnicate'"
expect 2 "unknown global option" -- "$randes" --frob
has err "unknown option '--frob'"
expect 2 "help of an unknown command" -- "$randes" help frobnicate
expect 2 "check-config without CONFIG" -- "$randes" check-config
has err "missing the CONFIG argument"
expect 2 "check-config two configs" -- "$randes" check-config a.yaml b.yaml
has err "unexpected argument 'b.yaml'"
expect 2 "check-config unknown option" -- "$randes" check-config --frob x.yaml
has err "unknown option '--frob'"
expect 2 "--set without value" -- "$randes" check-config "$src/configs/default.yaml" --set
has err "option '--set' needs a value"
expect 2 "train --resume=1" -- "$randes" train "$src/configs/default.yaml" --resume=1
has err "takes no value"
expect 2 "eval --seeds 0" -- "$randes" eval somewhere --seeds 0
has err "--seeds expects an integer >= 1"
expect 2 "eval --seeds abc" -- "$randes" eval somewhere --seeds=abc
expect 2 "export without --out" -- "$randes" export somewhere
has err "missing the --out FILE option"
expect 2 "sweep without file" -- "$randes" sweep
has err "missing the SWEEP.yaml argument"

# --- commands whose inputs do not exist ---------------------------------
# Commands that need inputs which do not exist fail with exit 3 and name them.
expect 3 "eval of a missing run directory" -- "$randes" eval rd --seeds 7 --out e.json
has err "rd"
[ -e e.json ] && fail "eval of a missing run wrote its output"
expect 3 "export of a missing run directory" -- "$randes" export rd --out m.safetensors
has err "rd"
[ -e m.safetensors ] && fail "export of a missing run wrote its output"
expect 3 "sweep of a missing file" -- "$randes" sweep s.yaml --run-root runs
has err "s.yaml"
[ -e runs ] && fail "sweep of a missing file created its run root"

# --- check-config: resolved YAML that loads back to the same text ----------
for f in "$src"/configs/*.yaml; do
	name=$(basename "$f")
	expect 0 "check-config $name" -- "$randes" check-config "$f"
	cp out "first-$name"
	[ -s err ] && fail "check-config $name wrote to stderr: $(cat err)"
	expect 0 "check-config of its own output ($name)" -- \
		"$randes" check-config "first-$name"
	cmp -s out "first-$name" || fail "check-config $name: output differs when loaded back"
done
# every committed sweep expands into valid runs, and listing writes nothing
for f in "$src"/configs/sweeps/*.yaml; do
	name=$(basename "$f")
	expect 0 "sweep --list $name" -- "$randes" sweep "$f" --list --run-root lr
	[ -s out ] || fail "sweep --list $name listed no runs"
	[ -e lr ] && fail "sweep --list $name created its run root"
done
expect 0 "check-config default" -- "$randes" check-config "$src/configs/default.yaml"
has out 'name: "default"'
has out "kind: cycle_coloring"
has out "inputs: 256"

# overrides are applied, including YAML flow values and a task switch
expect 0 "check-config with --set" -- "$randes" check-config "$src/configs/default.yaml" \
	--set eval.majority=[1,3] \
	--set 'objective.q={interp: step, points: [[0, 1], [100, 16]]}' \
	--set=es.lr=0.5 --set objective.q=inf --set run.name=cli-test
has out "majority: [1, 3]"
has out "q: inf"
has out "lr: 0.5"
has out 'name: "cli-test"'
expect 0 "check-config --set task.kind" -- "$randes" check-config "$src/configs/sphere.yaml" \
	--set task.kind=gridworld --set es.sigma=0.05
# sphere.yaml sets es.strategy explicitly (kept); absent keys take the
# grid-world preset
has out "strategy: openai_es"
has out "width: 80"
has out "placement: first_token"
has out "sigma: 0.05"

# --- bad configs: exit 2, file:line:col on stderr, nothing written ---------
printf 'task: {kind: cycle_coloring}\nrun: {generations: 10}\nes: {population: 7}\n' >bad.yaml
before=$(ls -A | sort)
expect 2 "bad config" -- "$randes" check-config bad.yaml
has err "bad.yaml:3:18: es.population: expected an even integer >= 2, got '7'"
[ -s out ] && fail "bad config: something was printed on stdout"
expect 2 "bad config (train)" -- "$randes" train bad.yaml --run-dir rd-bad
has err "bad.yaml:3:18: es.population:"
[ -e rd-bad ] && fail "train with a bad config created its run directory"
after=$(ls -A | sort)
[ "$before" = "$after" ] || fail "a refused config wrote files: $after"

printf 'task: {kind: cycle_coloring}\nrun: {generations: 10}\nmodel:\n  widht: 3\n' >typo.yaml
expect 2 "unknown key" -- "$randes" check-config typo.yaml
has err "typo.yaml:4:3: model.widht: expected a key of model"

printf 'task: [kind\n' >syntax.yaml
expect 2 "YAML syntax error" -- "$randes" check-config syntax.yaml
has err "syntax.yaml:2:1: yaml: did not find expected ',' or ']'"

expect 2 "bad --set value" -- "$randes" check-config "$src/configs/default.yaml" --set es.sigma=abc
has err "--set es.sigma=abc: es.sigma: expected a number > 0, got 'abc'"
[ -s out ] && fail "bad --set: something was printed on stdout"
expect 2 "bad --set key" -- "$randes" check-config "$src/configs/default.yaml" --set es.sigmaa=1
has err "--set es.sigmaa=1: es.sigmaa:"
expect 2 "bad --set form" -- "$randes" check-config "$src/configs/default.yaml" --set es.sigma
has err "expected key.path=value"
expect 2 "bad --set on train" -- "$randes" train "$src/configs/default.yaml" --set es.population=3
has err "--set es.population=3: es.population:"

# --- I/O: an unreadable config is exit 3 -----------------------------------
expect 3 "missing config file" -- "$randes" check-config does-not-exist.yaml
has err "does-not-exist.yaml: cannot open"

if [ "$failures" -ne 0 ]; then
	echo "e2e-cli: $failures failure(s)" >&2
	exit 1
fi
echo "e2e-cli: all checks passed"
