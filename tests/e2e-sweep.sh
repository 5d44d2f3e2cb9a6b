#!/usr/bin/env bash
# e2e-sweep: `randes sweep` end to end on tiny colouring runs.
#   --list; a 2x2 grid on 2 ranks in two groups of 1 (both groups train);
#   at the tail the idle group's ranks regroup onto the run still training
#   (same theta hashes as one rank; --no-regroup does not);
#   summary.csv rows and columns against each run's eval.json and hand
#   counts; a rerun retrains nothing; --only INDEX (and its refusals); a bad
#   grid value refuses the sweep with exit 2 and writes nothing; SIGUSR1
#   mid-sweep stops every group with exit 0, starts no new run, and a rerun
#   ends with the same theta hashes as an uninterrupted sweep; two sweep
#   processes on one root share the runs (each trained once); --watch
#   accepts a good config, rejects a bad one with NAME.err, ignores temp
#   files, resumes an interrupted run on its next start and stops on
#   SIGUSR1 with exit 0; scripts/plot makes the figures and report.html.
. "$(dirname "$0")/e2e-lib.sh"

cat >base.yaml <<'YAML'
run: {seed: 5, generations: 30, checkpoint_every: 0, progress_seconds: 1000}
task: {kind: cycle_coloring, num_vertices: 6}
objective: {variant: q_R, q: 10, seeds: 2, inputs: 8}
es: {population: 8, sigma: 0.03, lr: 0.01}
eval: {seeds: 10, majority: [1, 5]}
YAML
cat >grid.yaml <<'YAML'
name: g
base: base.yaml
ranks_per_run: 1
overrides:
  run.generations: 30
grid:
  objective.variant: [q_r0, q_R]
  run.seed: [1, 2]
YAML

# --- --list: indices in expansion order (last key fastest), no MPI -------
expect_exit 0 run 0 sweep grid.yaml --list --run-root R
printf '0\tvariant=q_r0,seed=1\tpending\n1\tvariant=q_r0,seed=2\tpending\n2\tvariant=q_R,seed=1\tpending\n3\tvariant=q_R,seed=2\tpending\n' >list.want
cmp -s last.out list.want || { diff last.out list.want >&2; fail "--list output"; }
[ ! -e R ] || fail "--list created the run root"
pass "--list prints the 4 runs in index order and writes nothing"

# --- the grid on 2 ranks, 2 groups ----------------------------------------
expect_exit 0 run 2 sweep grid.yaml --run-root R
cp last.out grid.out
for n in 'variant=q_r0,seed=1' 'variant=q_r0,seed=2' 'variant=q_R,seed=1' 'variant=q_R,seed=2'; do
	for f in config.yaml metrics.jsonl checkpoint.bin eval.json; do
		[ -f "R/g/$n/$f" ] || fail "R/g/$n/$f missing"
	done
	[ "$(wc -l <"R/g/$n/metrics.jsonl")" = 30 ] || fail "$n: not 30 generations"
done
grep -q 'start on group 0' grid.out && grep -q 'start on group 1' grid.out ||
	fail "both groups should have trained runs"
# (a run given back to a regroup starts again, "resuming": not counted)
[ "$(grep ' start on group' grid.out | grep -vc resuming)" = 4 ] ||
	fail "4 runs should start exactly once each"
grep -q '4 done, 0 running elsewhere, 0 left' grid.out || fail "no final progress line"
pass "2 ranks in 2 groups trained the 4 runs (each started once) into R/g/<run>"

# summary.csv: 4 rows, the swept keys as columns, figures equal to eval.json.
csv=R/g/summary.csv
[ "$(wc -l <$csv)" = 5 ] || fail "summary.csv: expected a header and 4 rows"
python3 - "$csv" R/g <<'PY' || fail "summary.csv does not match the runs"
import csv, json, sys
path, root = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(path)))
need = ["index", "run", "status", "objective.variant", "run.seed", "task",
        "variant", "q", "m", "n", "generations", "wall_seconds",
        "train_forward_passes", "eval_forward_passes", "success.average",
        "success.p5", "success.worst", "majority.1.average", "majority.5.p5",
        "sampled.average", "predictive_variance.average",
        "predictive_variance.p95", "seed_disagreement.average",
        "seed_disagreement.p95", "loss.average", "loss.p95", "loss.worst",
        "histogram.00", "histogram.19"]
missing = [c for c in need if c not in rows[0]]
assert not missing, f"missing columns {missing}"
want = [("q_r0", "1"), ("q_r0", "2"), ("q_R", "1"), ("q_R", "2")]
for i, r in enumerate(rows):
    v, s = want[i]
    assert r["index"] == str(i) and r["status"] == "done", r
    assert r["run"] == f"variant={v},seed={s}", r["run"]
    assert r["objective.variant"] == v and r["run.seed"] == s, r
    assert r["generations"] == "30" and r["variant"] == v, r
    m = 1 if v == "q_r0" else 2
    # P = 8 members + the centre, n = 8 inputs, m seeds, 30 generations.
    assert int(r["train_forward_passes"]) == 30 * 9 * 8 * m, r
    e = json.load(open(f"{root}/{r['run']}/eval.json"))
    # 60 cycles of C6 times K = 10 seeds (1 for r0).
    assert int(r["eval_forward_passes"]) == 60 * (1 if v == "q_r0" else 10)
    for g in ("success", "loss"):
        for k, val in e[g].items():
            assert float(r[f"{g}.{k}"]) == val, (g, k)
    for mj in e["majority"]:
        for k in ("average", "p5", "worst"):
            assert float(r[f"majority.{mj['k']}.{k}"]) == mj[k]
    for b, val in enumerate(e["histogram"]["fractions"]):
        assert float(r[f"histogram.{b:02d}"]) == val
    assert float(r["predictive_variance.p95"]) == e["predictive_variance"]["p95"]
    for k in ("average", "p95"):
        assert float(r[f"seed_disagreement.{k}"]) == e["seed_disagreement"][k]
    if v == "q_r0":
        assert r["majority.5.average"] == "", "K = 1: no vote of 5"
PY
pass "summary.csv: 4 rows, swept columns, eval.json figures, forward-pass counts"

# --- a rerun retrains nothing ---------------------------------------------
md5sum R/g/*/metrics.jsonl R/g/*/eval.json R/g/*/checkpoint.bin >sums
expect_exit 0 run 2 sweep grid.yaml --run-root R
md5sum -c --quiet sums || fail "a rerun changed a finished run"
! grep -q ' start on group' last.out || fail "a rerun started a finished run"
pass "a rerun skips the 4 finished runs (files unchanged)"

# --- idle ranks: the regroup at the tail -------------------------------------
# Two runs in two groups of one rank: the short one ends at once, its group
# finds nothing left and calls the long one's group to a regroup; the long
# run gives its ranks back after a generation and resumes on both ranks.
cat >tail.yaml <<'YAML'
name: tail
base: base.yaml
ranks_per_run: 1
grid:
  run.generations: [600, 3]
YAML
long='generations=600'
expect_exit 0 run 2 sweep tail.yaml --run-root RG
cat last.out last.err >tail.out
grep -q "#0 $long gave its ranks back at generation [0-9]* for a regroup" tail.out ||
	{ cat tail.out >&2; fail "the long run did not give its ranks back"; }
# ... and is still counted as running (the regroup resumes it), not left
grep "#0 $long gave its ranks back" tail.out |
	grep -q ': 1 done, 1 running, 0 left (of 2)$' ||
	{ cat tail.out >&2; fail "the given-back run is not counted as running"; }
grep -q 'regrouped into 1 group of 2 ranks' tail.out ||
	fail "no regroup into one group of both ranks"
grep -q "#0 $long start on group 0 (2 ranks, resuming)" tail.out ||
	fail "the long run did not resume on both ranks"
[ "$(wc -l <"RG/tail/$long/metrics.jsonl")" = 600 ] ||
	fail "the long run's metrics.jsonl is not 600 generations"
expect_exit 0 run 0 train "RG/tail/$long/config.yaml" --run-dir solo
[ "$(hashes "RG/tail/$long")" = "$(hashes solo)" ] ||
	fail "the regrouped run's theta hashes differ from one rank's"
grep -q '2 runs: 2 done' tail.out || fail "the tail sweep did not finish"
expect_exit 0 run 2 sweep tail.yaml --run-root NR --no-regroup
! grep -q 'regroup' last.out last.err || fail "--no-regroup regrouped"
[ "$(hashes "NR/tail/$long")" = "$(hashes solo)" ] || fail "--no-regroup: hashes differ"
pass "an idle group calls a regroup: the long run resumes on both ranks, the same theta hashes as alone; --no-regroup waits"

# --- --only ------------------------------------------------------------------
expect_exit 0 run 1 sweep grid.yaml --run-root O --only 2
[ -f 'O/g/variant=q_R,seed=1/eval.json' ] || fail "--only 2 did not train run 2"
[ "$(ls O/g | tr '\n' ' ')" = 'sweep.yaml variant=q_R,seed=1 ' ] ||
	fail "--only 2 touched other runs (or wrote summary.csv): $(ls O/g)"
[ "$(last_hash 'O/g/variant=q_R,seed=1')" = "$(last_hash 'R/g/variant=q_R,seed=1')" ] ||
	fail "--only 2 differs from the same run in the full sweep"
expect_exit 0 run 1 sweep grid.yaml --run-root O --only 2
grep -q 'done already' last.out || fail "--only on a finished run should say so"
expect_exit 2 run 0 sweep grid.yaml --run-root O --only 4
grep -q 'runs 0..3' last.err || fail "--only 4: no range in the message"
expect_exit 2 run 0 sweep grid.yaml --only -1
expect_exit 2 run 0 sweep grid.yaml --only 1 --list
pass "--only 2 trains exactly run 2 (same theta as in the full sweep); out of range exits 2"

# --- a bad grid value refuses the whole sweep -------------------------------
cat >bad.yaml <<'YAML'
base: base.yaml
grid:
  objective.variant: [q_R]
  objective.q: [1, abc, 3]
YAML
expect_exit 2 run 0 sweep bad.yaml --run-root B
grep -q '^bad.yaml:4:20: run 1 (variant=q_R,q=abc): --set objective.q=abc: objective.q: expected' last.err ||
	{ cat last.err >&2; fail "the refusal should name the file position and the run"; }
[ ! -e B ] || fail "a refused sweep wrote something"
printf 'base: base.yaml\ngrid: {objective.q: [1]}\nruns_per_rank: 2\n' >bad2.yaml
expect_exit 2 run 0 sweep bad2.yaml --run-root B
grep -q '^bad2.yaml:3:1: runs_per_rank: expected a key of the sweep' last.err || fail "unknown key"
printf 'base: base.yaml\nruns:\n  - {run.seed: 1}\n  - {run.seed: 1}\n' >bad3.yaml
expect_exit 2 run 0 sweep bad3.yaml --run-root B
grep -q 'runs 0 and 1 have the same name' last.err || fail "duplicate run names"
[ ! -e B ] || fail "a refused sweep wrote something"
pass "bad value, unknown key and duplicate runs are refused with exit 2 before anything is written"

# --- SIGUSR1 mid-sweep, then the same command again -------------------------
cat >long.yaml <<'YAML'
name: long
base: base.yaml
overrides: {run.generations: 800}
grid:
  objective.variant: [q_r0, q_R]
  run.seed: [1, 2]
YAML
expect_exit 0 run 2 sweep long.yaml --run-root U
"$MPIRUN" 2 "$RANDES" sweep long.yaml --run-root I >stop.out 2>&1 &
pid=$!
wait_for_lines 'I/long/variant=q_r0,seed=1/metrics.jsonl' 5 120
kill -USR1 "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || { tail stop.out >&2; fail "SIGUSR1: exit $rc"; }
grep -q 'stopped at generation' stop.out || fail "no run reported a clean stop"
expect_exit 0 run 0 sweep long.yaml --run-root I --list
grep -q 'partial' last.out || fail "no run was left partial by the stop"
grep -q "^2	.*	pending" last.out && grep -q "^3	.*	pending" last.out ||
	{ cat last.out >&2; fail "a new run started after the signal"; }
expect_exit 0 run 2 sweep long.yaml --run-root I
for d in U/long/*/; do
	n=$(basename "$d")
	[ "$(hashes "$d")" = "$(hashes "I/long/$n")" ] ||
		fail "$n: theta hashes differ after the interrupted sweep"
done
pass "SIGUSR1 stops every group (exit 0, no new run); the rerun ends with the same theta hashes"

# --- two sweep processes share one root --------------------------------------
run 0 sweep long.yaml --run-root T >twoA.out 2>&1 &
a=$!
run 0 sweep long.yaml --run-root T >twoB.out 2>&1 &
b=$!
ra=0 rb=0
wait "$a" || ra=$?
wait "$b" || rb=$?
[ "$ra" = 0 ] && [ "$rb" = 0 ] || fail "two sweeps on one root: exits $ra, $rb"
for d in U/long/*/; do
	n=$(basename "$d")
	[ "$(grep -c " #[0-9] $n start" twoA.out twoB.out | awk -F: '{s += $2} END {print s}')" = 1 ] ||
		fail "$n was started more than once (or never) by the two sweeps"
	[ "$(hashes "$d")" = "$(hashes "T/long/$n")" ] || fail "$n: hashes differ"
done
pass "two sweep processes on one root claim disjoint runs; results as a single sweep"

# --- --watch -------------------------------------------------------------------
mkdir inbox
# A config already waiting when the daemon starts, and a long one.
cp base.yaml inbox/.good.yaml.part && mv inbox/.good.yaml.part inbox/good.yaml
sed 's/generations: 30/generations: 100000/' base.yaml >inbox/.long.tmp
"$MPIRUN" 2 "$RANDES" sweep --watch inbox --run-root W >watch.out 2>&1 &
pid=$!
printf 'task: {kind: cycle_coloring}\nrun: {generations: 0}\n' >inbox/.bad.tmp
mv inbox/.bad.tmp inbox/bad.yaml
mv inbox/.long.tmp inbox/long.yaml
wait_for_lines inbox/done/good.yaml 1 120
wait_for_lines inbox/rejected/bad.yaml.err 1 120
wait_for_lines W/long/metrics.jsonl 3 120
kill -USR1 "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || { tail watch.out >&2; fail "--watch: exit $rc after SIGUSR1"; }
[ -f W/good/eval.json ] || fail "--watch: the good config was not trained and evaluated"
grep -q '^inbox/bad.yaml:2:20: run.generations: expected an integer >= 1' inbox/rejected/bad.yaml.err ||
	fail "--watch: bad.yaml.err does not hold the config error"
[ -f inbox/queue/long.yaml ] || fail "--watch: an interrupted run should stay queued"
[ -f W/long/checkpoint.bin ] || fail "--watch: the interrupted run has no checkpoint"
n=$(wc -l <W/long/metrics.jsonl)
# The next start resumes it (shortened to 10 generations past the stop).
stop_g=$n
sed -i "s/generations: 100000/generations: $((stop_g + 10))/" inbox/queue/long.yaml
"$MPIRUN" 1 "$RANDES" sweep --watch inbox --run-root W >watch2.out 2>&1 &
pid=$!
wait_for_lines inbox/done/long.yaml 1 120
kill -USR1 "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "--watch (second start): exit $rc"
grep -q 'resuming' watch2.out || fail "--watch: the queued run was not resumed"
[ "$(wc -l <W/long/metrics.jsonl)" = $((stop_g + 10)) ] || fail "--watch: resumed run has the wrong length"
pass "--watch: accepted good.yaml, rejected bad.yaml with its .err, resumed an interrupted run; SIGUSR1 exits 0"

# --- plots -----------------------------------------------------------------------
is_png() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '211PNG' ]; }
# Evaluated snapshots (as scripts/eval-snapshots writes them) for two runs,
# one with a figure absent (-1), one with a grid world's reward columns.
mkdir -p 'R/g/variant=q_R,seed=1/models' 'R/g/variant=q_R,seed=2/models'
cat >'R/g/variant=q_R,seed=1/models/snapshots.csv' <<'CSV'
generation,success_average,success_p5,success_worst,majority1_average,majority1_p5,majority5_average,majority5_p5,predictive_variance_average,predictive_variance_p95,seed_disagreement_average,seed_disagreement_p95
20,0.6,0.2,0.0,0.6,0.2,0.7,0.3,0.02,0.04,-1,-1
10,0.5,0.1,0.0,0.5,0.1,0.6,0.2,0.01,0.03,-1,-1
CSV
cat >'R/g/variant=q_R,seed=2/models/snapshots.csv' <<'CSV'
generation,success_average,success_p5,success_worst,majority1_average,majority1_p5,predictive_variance_average,predictive_variance_p95,seed_disagreement_average,seed_disagreement_p95,reward_average,reward_p5,reward_worst
10,0.5,0.0,0.0,0.5,0.0,0.01,0.02,0.1,0.2,-12.5,-20,-24
CSV
rc=0
RANDES_PLOT_NO_INSTALL=1 "$SRC/scripts/plot" R/g >plot.out 2>plot.err || rc=$?
if [ "$rc" = 77 ]; then
	echo "SKIP plots: $(cat plot.err)"
else
	[ "$rc" = 0 ] || { cat plot.err >&2; fail "scripts/plot R/g: exit $rc"; }
	[ -s R/g/report.html ] || fail "no report.html"
	ls R/g/plots/curves/*.png >/dev/null 2>&1 || fail "no training curves in the report"
	grep -q 'variant=q_R,seed=2' R/g/report.html || fail "report.html lacks the runs"
	is_png R/g/plots/snapshots.png && grep -q "src='plots/snapshots.png'" R/g/report.html ||
		fail "no snapshots figure in the sweep report"
	# A sweep over q and N makes the paper's figures.
	cat >qn.yaml <<'YAML'
name: qn
base: base.yaml
overrides: {run.generations: 3}
grid:
  objective.variant: [q_r0, q_R]
  task.num_vertices: [5, 6]
  objective.q: [1, inf]
YAML
	expect_exit 0 run 2 sweep qn.yaml --run-root P
	RANDES_PLOT_NO_INSTALL=1 "$SRC/scripts/plot" P/qn --no-curves >plot.out 2>plot.err ||
		{ cat plot.err >&2; fail "scripts/plot P/qn"; }
	for f in success_vs_N success_vs_q loss_vs_q variance_vs_q histograms_vs_q; do
		is_png "P/qn/plots/$f.png" || fail "P/qn/plots/$f.png is not a PNG"
	done
	[ ! -e P/qn/plots/loss_vs_m.png ] || fail "loss_vs_m.png without an m sweep"
	[ ! -e P/qn/plots/snapshots.png ] || fail "snapshots.png without snapshots"
	"$SRC/scripts/plot" 'R/g/variant=q_R,seed=1' >/dev/null 2>&1 || fail "curves of one run"
	is_png 'R/g/variant=q_R,seed=1/curves.png' || fail "no curves.png"
	is_png 'R/g/variant=q_R,seed=1/snapshots.png' || fail "no snapshots.png for one run"
	"$SRC/scripts/plot" 'R/g/variant=q_r0,seed=1' >/dev/null 2>&1 || fail "curves of one run"
	[ ! -e 'R/g/variant=q_r0,seed=1/snapshots.png' ] || fail "snapshots.png without snapshots"
	# --snapshots: runs of any sweeps in one figure; a run without the
	# table is a usage error, a table without generations a data error.
	expect_exit 0 "$SRC/scripts/plot" --snapshots 'R/g/variant=q_R,seed=1' \
		'R/g/variant=q_R,seed=2' --out cmp.png
	is_png cmp.png || fail "--snapshots wrote no PNG"
	expect_exit 2 "$SRC/scripts/plot" --snapshots 'R/g/variant=q_R,seed=1' 'R/g/variant=q_r0,seed=1'
	grep -q 'eval-snapshots' last.err || fail "--snapshots: the error does not say what to run"
	expect_exit 2 "$SRC/scripts/plot" --snapshots
	mkdir -p torn/models && printf 'generation,success_average\n,0.5\n' >torn/models/snapshots.csv
	expect_exit 3 "$SRC/scripts/plot" --snapshots torn --out torn.png
	[ ! -e torn.png ] || fail "--snapshots wrote a figure from a bad table"
	expect_exit 2 "$SRC/scripts/plot" inbox
	pass "scripts/plot: figures for the keys the sweep varies, snapshots over generations, report.html, run curves"
fi
