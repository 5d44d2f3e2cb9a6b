#!/usr/bin/env bash
# e2e-export: `randes export` writes a safetensors file that a plain
# json + NumPy reader accepts (tensor layout, metadata) and that equals the
# run's model.safetensors; `randes eval FILE` on the exported model gives
# the same eval.json as on the run directory; malformed files exit 3;
# run.model_every's snapshots equal the model of a run stopped there.
. "$(dirname "$0")/e2e-lib.sh"

cat >c.yaml <<'YAML'
run: {name: exp, seed: 9, generations: 6, checkpoint_every: 3}
task: {kind: cycle_coloring}
objective: {variant: q_r0, q: 10, inputs: 8}
es: {population: 8, sigma: 0.03, lr: 0.01}
eval: {seeds: 4, majority: [1, 3], max_inputs: 200}
YAML
run 2 train c.yaml --run-dir r >/dev/null 2>&1 || fail "training"
[ -s r/model.safetensors ] || fail "no model.safetensors after training"
run 0 export r --out m.safetensors >/dev/null || fail "export"
cmp -s m.safetensors r/model.safetensors || fail "export differs from the run's model.safetensors"

if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
	/usr/bin/python3 "$SRC/tests/safetensors_check.py" m.safetensors --quiet \
		--meta task=cycle_coloring --meta variant=q_r0 --meta run_seed=9 \
		--meta generation=6 --meta format=randes || fail "NumPy reader"
	/usr/bin/python3 - m.safetensors <<'PYEOF' || fail "metadata content"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
m = h["__metadata__"]
assert len(json.loads(m["r0"])) == 10          # per_token seed: 10 vertices x 1
assert json.loads(m["model"])["width"] == 16
assert "head.w" in h and h["head.w"]["shape"] == [16, 3]
total = sum((t["data_offsets"][1] - t["data_offsets"][0]) // 4
            for k, t in h.items() if k != "__metadata__")
assert total == 2291, total                    # PAPER.md: C10 model
PYEOF
	pass "exported file read by json + NumPy: 2,291 parameters, metadata, layout"
else
	echo "SKIP: /usr/bin/python3 with numpy not available; NumPy reader not run"
fi

run 2 eval r --out from-dir.json >/dev/null 2>&1 || fail "eval of the run dir"
run 2 eval m.safetensors --out from-file.json >/dev/null 2>&1 || fail "eval of the file"
cmp -s from-dir.json from-file.json || fail "eval of the exported model differs"
run 0 eval m.safetensors >/dev/null 2>&1 || fail "eval with the default output"
[ -s m.safetensors.eval.json ] || fail "default output FILE.eval.json missing"
pass "eval of the exported file equals eval of the run directory"

# --dump: the exact inputs and logits, recomputed outside randes by the
# NumPy forward pass written from docs/model.md.
run 0 eval r --out dumped.json --dump dump.safetensors >/dev/null 2>&1 ||
	fail "eval --dump"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
	/usr/bin/python3 - "$SRC/tests" m.safetensors dump.safetensors <<'PYEOF' ||
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from safetensors_check import forward, load
P, meta = load(sys.argv[2])
D, dmeta = load(sys.argv[3])
spec = json.loads(meta["model"])
worst = 0.0
nI, nS = D["logits"].shape[:2]
for i in range(0, nI, 17):
    for j in range(nS):
        z = forward(P, spec, D["feat"][i, j], np.zeros((10, 0), int),
                    D["seed"][j], D["mask"][i])
        ref = D["logits"][i, j]
        worst = max(worst, float(np.max(np.abs(z - ref))))
scale = float(np.max(np.abs(D["logits"])))
print(f"NumPy forward vs randes logits: max |diff| {worst:.3g} (scale {scale:.3g})")
assert worst <= 1e-5 * max(scale, 1.0)
PYEOF
		fail "the NumPy forward disagrees with the dumped logits"
	pass "eval --dump: logits recomputed by an independent NumPy forward"
fi

# scripts/recall-positions: per-query-position success read from a recall
# dump; over all positions it must equal eval's own success average (the
# same 256 inputs x 4 seeds, scored by randes' recall scorer).
cat >ar.yaml <<'YAML'
run: {name: ar, seed: 3, generations: 4, checkpoint_every: 0}
task: {kind: associative_recall, num_tokens: 6}
objective: {variant: q_R, q: 4, seeds: 2, adversary: exhaustive}
es: {population: 8}
eval: {seeds: 4, majority: [1], max_inputs: 256}
YAML
if [ -x /usr/bin/python3 ]; then
run 2 train ar.yaml --run-dir ar --set run.eval_at_end=false >/dev/null 2>&1 ||
	fail "recall training"
run 0 eval ar --out ar.json --dump ar-dump.safetensors \
	--per-input ar-inputs.csv >/dev/null 2>&1 || fail "recall eval --dump"
"$SRC/scripts/recall-positions" ar-dump.safetensors >pos.txt ||
	fail "recall-positions"
want=$(/usr/bin/python3 -c 'import json,sys; print("%.1f" % (100 * json.load(open(sys.argv[1]))["success"]["average"]))' ar.json)
got=$(awk '$1 == "all" { print $3 }' pos.txt)
[ "$got" = "$want" ] || fail "recall-positions all = $got, eval average = $want"
[ "$(awk '$1 == "all" { print $2 }' pos.txt)" = 1024 ] ||
	fail "recall-positions did not read 256 x 4 sequences"
[ "$(awk '$1 ~ /^[0-9]+$/ && $2 > 0' pos.txt | wc -l)" = 6 ] ||
	fail "recall-positions: not every query position of N = 6 present"
expect_exit 3 "$SRC/scripts/recall-positions" dump.safetensors
expect_exit 3 "$SRC/scripts/recall-positions" trunc-missing.safetensors
pass "recall-positions: per-position success adds up to eval's average ($got %)"

# --per-input: one row per evaluated input.  Its labels must name the
# input the dump holds (position and value from the dump's target, filling
# from the dumped tokens: the same filling, the same other values), its
# success column must average to eval.json's, and scripts/inputs-by must
# group it into recall-positions' per-position figures (the same 256 inputs
# x 4 seeds, read from the dumped logits).
/usr/bin/python3 - ar-inputs.csv ar-dump.safetensors ar.json <<'PYEOF' ||
import csv, json, struct, sys, array
rows = list(csv.DictReader(open(sys.argv[1])))
b = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def t(name):
    lo, hi = h[name]["data_offsets"]
    a = array.array("f"); a.frombytes(b[8 + n + lo:8 + n + hi])
    return a, h[name]["shape"]
feat, (nI, nS, L, F) = t("feat")
target, _ = t("target")
src, _ = t("input")
N, d = L - 1, F - (L - 1)
assert len(rows) == nI == 256, len(rows)
def others(i, skip):
    return [feat[(i * nS * L + k) * F + N + j] for k in range(N)
            if k not in skip for j in range(d)]
for i, r in enumerate(rows):
    assert int(r["input"]) == i and int(r["source"]) == int(src[i]), r
    assert int(r["position"]) == int(target[2 * i]), (i, r)
    assert int(r["value"]) == int(target[2 * i + 1]), (i, r)
    assert r["majority_1"] == r["success"], r
    # docs/formats.md: source = (position * 2^d + value) * fillings + filling
    k = int(r["source"])
    assert int(r["filling"]) == k % 16, r                 # task.eval_fillings
    assert int(r["position"]) * 32 + int(r["value"]) == k // 16, r
pairs = same = 0
for i in range(0, nI, 3):
    for j in range(i + 1, nI, 5):
        skip = {int(rows[i]["position"]), int(rows[j]["position"])}
        eq = others(i, skip) == others(j, skip)
        if rows[i]["filling"] == rows[j]["filling"]:
            assert eq, ("same filling, other values differ", i, j)
            same += 1
        else:
            assert not eq, ("different fillings, same values", i, j)
        pairs += 1
assert same > 0
avg = sum(float(r["success"]) for r in rows) / len(rows)
e = json.load(open(sys.argv[3]))
want = e["success"]["average"]
assert abs(avg - want) < 1e-9, (avg, want)
# seed disagreement: the mean of s(1 - s) over the inputs (docs/formats.md)
dis = [float(r["success"]) * (1 - float(r["success"])) for r in rows]
want = e["seed_disagreement"]["average"]
assert want > 0 and abs(sum(dis) / len(dis) - want) < 1e-9, (dis[:8], want)
PYEOF
	fail "--per-input rows do not match the dumped inputs"
"$SRC/scripts/inputs-by" ar-inputs.csv position >by.txt || fail "inputs-by"
for q in 0 1 2 3 4 5 all; do
	a=$(awk -v q=$q '$1 == q { print $3 }' pos.txt)
	b=$(awk -v q=$q '$1 == q { print $3 }' by.txt)
	[ -n "$a" ] && [ -n "$b" ] &&
		awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 0.051 && d > -0.051) }' ||
		fail "position $q: recall-positions $a %, inputs-by $b %"
done
# its p5 is eval.json's (the lower order statistic); position/2 makes
# three groups of the six positions
want=$(/usr/bin/python3 -c 'import json,sys; print("%.4g" % (100 * json.load(open(sys.argv[1]))["success"]["p5"]))' ar.json)
got=$(awk '$1 == "all" { print $4 }' by.txt)
[ "$got" = "$want" ] || fail "inputs-by p5 $got, eval.json $want"
"$SRC/scripts/inputs-by" ar-inputs.csv position/2 --figure majority_1 >by2.txt ||
	fail "inputs-by position/2"
[ "$(awk '$1 ~ /^[0-9]+$/ { n++; s += $2 } END { print n, s }' by2.txt)" = "3 256" ] ||
	fail "inputs-by position/2: not 3 groups of 256 inputs in all"
expect_exit 2 "$SRC/scripts/inputs-by" ar-inputs.csv nope
expect_exit 3 "$SRC/scripts/inputs-by" ar.json position
expect_exit 3 run 0 eval ar --out ar-kept.json --per-input no-dir/x.csv
[ -s ar-kept.json ] || fail "an unwritable --per-input lost eval.json"
pass "eval --per-input: labels name the dumped inputs, inputs-by equals recall-positions"

# The grid world's labels: evaluation input k is the treasure at cell k + 1
# of the n x n grid; the dump's target holds the treasure's (x, y).
cat >grid.yaml <<'YAML'
run: {name: g, seed: 5, generations: 1, checkpoint_every: 0, eval_at_end: false}
task: {kind: gridworld, size: 4}
model: {width: 16, heads: 2, key_size: 4, value_size: 4, mlp: false, index_dim: 4}
objective: {variant: q_R, q: 4, seeds: 2}
es: {population: 4}
eval: {seeds: 2, majority: [1]}
YAML
run 0 train grid.yaml --run-dir grid >/dev/null 2>&1 || fail "grid training"
run 0 eval grid --out grid.json --dump grid-dump.safetensors \
	--per-input grid-inputs.csv >/dev/null 2>&1 || fail "grid eval --per-input"
/usr/bin/python3 - grid-inputs.csv grid-dump.safetensors <<'PYEOF' ||
import csv, json, struct, sys, array
rows = list(csv.DictReader(open(sys.argv[1])))
b = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
lo, hi = h["target"]["data_offsets"]
t = array.array("f"); t.frombytes(b[8 + n + lo:8 + n + hi])
assert len(rows) == 15, len(rows)             # every cell but the start
cells = set()
for i, r in enumerate(rows):
    x, y = int(r["treasure_x"]), int(r["treasure_y"])
    assert (x, y) == (int(t[2 * i]), int(t[2 * i + 1])), (i, r)
    cells.add((x, y))
assert len(cells) == 15 and (0, 0) not in cells, cells
assert rows[0]["sampled"] == "", rows[0]      # the grid has no sampled success
PYEOF
	fail "grid --per-input labels do not match the dumped treasures"
pass "eval --per-input on the grid world: one row per treasure cell, labelled as the dump"
else
	echo "SKIP: /usr/bin/python3 not available; recall-positions not run"
fi

# model.init_from: a run that starts from an exported model (a curriculum
# over N for recall).  The same config starts from exactly the exported
# theta (its hash is the last one of the run it came from); the start is
# the same on 1 and 2 ranks; a resumed run takes theta from its checkpoint
# and no longer needs the file; a file that is missing or does not fit is
# refused with exit 3.
cat >from.yaml <<'YAML'
run: {name: from, seed: 3, generations: 2, checkpoint_every: 1, eval_at_end: false}
task: {kind: associative_recall, num_tokens: 4}
objective: {variant: E_r0, adversary: exhaustive}
es: {population: 8}
YAML
run 0 train from.yaml --run-dir n4 >/dev/null 2>&1 || fail "N = 4 training"
run 0 export n4 --out n4.safetensors >/dev/null || fail "N = 4 export"
run 0 train from.yaml --run-dir n4-again --set model.init_from=n4.safetensors \
	>again.out 2>&1 || fail "N = 4 from itself"
grep -q "theta initialised from n4.safetensors (theta hash $(last_hash n4))" \
	again.out || fail "the start is not the exported theta"
for np in 1 2; do
	run $np train from.yaml --run-dir n6-$np --set task.num_tokens=6 \
		--set model.init_from=n4.safetensors >n6-$np.out 2>&1 ||
		fail "N = 6 from N = 4, -np $np"
done
start=$(grep -o "theta initialised from n4.safetensors (theta hash [0-9a-f]*)" n6-1.out) ||
	fail "no start line at -np 1"
grep -qF "$start" n6-2.out || fail "the start differs between -np 1 and -np 2"
[ "$(hashes n6-1)" = "$(hashes n6-2)" ] || fail "init_from: -np 1 and -np 2 differ"
run 0 train from.yaml --run-dir n6-fresh --set task.num_tokens=6 >/dev/null 2>&1 ||
	fail "N = 6 fresh"
[ "$(hashes n6-fresh | head -1)" != "$(hashes n6-1 | head -1)" ] ||
	fail "init_from changed nothing"
mv n4.safetensors n4-moved.safetensors
run 2 train from.yaml --run-dir n6-1 --set task.num_tokens=6 \
	--set model.init_from=n4.safetensors --set run.generations=3 --resume \
	>/dev/null 2>&1 || fail "the resumed run needed the start file"
[ "$(hashes n6-1 | wc -l)" = 3 ] || fail "the resumed run did not go on"
expect_exit 3 run 0 train from.yaml --run-dir n6-gone --set task.num_tokens=6 \
	--set model.init_from=n4.safetensors
grep -q "n4.safetensors" last.err || fail "missing start file: message does not name it"
expect_exit 3 run 0 train from.yaml --run-dir n6-col --set task.num_tokens=6 \
	--set model.init_from=m.safetensors
grep -q "a cycle_coloring model" last.err || fail "colouring start: no reason given"
expect_exit 2 run 0 check-config from.yaml --set "model.init_from=a b"
pass "model.init_from: exact start, same on 1 and 2 ranks, resume without the file, refusals"

# scripts/recall-curriculum, shrunk to 2 generations a stage: five stages
# chained through model.init_from (q_r0 starts exactly where the N = 12
# ERM stage ended), three evaluations, and a second call keeps them all.
cur=(1 --root cur --set run.generations=2 --set es.population=8
	--set eval.max_inputs=40 --set eval.seeds=2 --set "eval.majority=[1]")
RANDES_BIN=$RANDES "$SRC/scripts/recall-curriculum" "${cur[@]}" >cur.out 2>cur.err ||
	fail "recall-curriculum"
for st in ar-N8 ar-N10 ar-N12 ar-N12-q_R ar-N12-q_r0; do
	[ "$(hashes "cur/$st" | wc -l)" = 2 ] || fail "recall-curriculum: $st not trained"
done
for st in ar-N12 ar-N12-q_R ar-N12-q_r0; do
	[ -s "cur/$st/eval.json" ] || fail "recall-curriculum: no eval of $st"
done
grep -q "/cur/ar-N12/model.safetensors (theta hash $(last_hash cur/ar-N12))" \
	cur.err || fail "recall-curriculum: q_r0 does not start from the N = 12 model"
grep -q "folded into embed.b" cur.err || fail "recall-curriculum: q_R start not folded"
RANDES_BIN=$RANDES "$SRC/scripts/recall-curriculum" "${cur[@]}" >/dev/null 2>cur2.err ||
	fail "recall-curriculum, second call"
[ "$(grep -c "finished before; kept" cur2.err)" = 5 ] ||
	fail "recall-curriculum: a second call did not keep the five stages"
pass "recall-curriculum: five chained stages, three evaluations, kept on a second call"

head -c 200 m.safetensors >trunc.safetensors
expect_exit 3 run 0 eval trunc.safetensors
grep -q "trunc.safetensors" last.err || fail "message does not name the file"
cp m.safetensors flip.safetensors
printf '\x7b' | dd of=flip.safetensors bs=1 seek=20 conv=notrunc 2>/dev/null
expect_exit 3 run 0 eval flip.safetensors
expect_exit 3 run 0 export no-such-run --out x.safetensors
expect_exit 3 run 0 export r --out no-such-dir/x.safetensors
expect_exit 2 run 0 export r
pass "malformed models and unwritable outputs: exit 3; missing --out: exit 2"

# scripts/average-models: the mean of two models of one run (generations 3
# and 6), checked tensor by tensor against NumPy; other shapes exit 3.
run 0 train c.yaml --run-dir r3 --set run.generations=3 --set run.eval_at_end=false \
	>/dev/null 2>&1 || fail "training to generation 3"
"$SRC/scripts/average-models" avg.safetensors m.safetensors r3/model.safetensors \
	>/dev/null || fail "average-models"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
	/usr/bin/python3 - "$SRC/tests" m.safetensors r3/model.safetensors avg.safetensors <<'PYEOF' ||
import json, struct, sys
import numpy as np
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, t in h.items():
        if k == "__metadata__":
            continue
        a, e = t["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + a:8 + n + e], "<f4").reshape(t["shape"])
    return h.get("__metadata__"), out
ma, a = load(sys.argv[2])
_, b = load(sys.argv[3])
mm, m = load(sys.argv[4])
assert mm == ma, "metadata not the first model's"
assert set(m) == set(a)
differ = 0
for k in a:
    want = ((a[k].astype(np.float64) + b[k].astype(np.float64)) / 2).astype(np.float32)
    assert np.array_equal(m[k], want), k
    differ += int(not np.array_equal(a[k], b[k]))
assert differ > 0, "the two models are equal: the test shows nothing"
PYEOF
		fail "average-models: not the mean of the two models"
fi
expect_exit 3 "$SRC/scripts/average-models" bad.safetensors m.safetensors n4.safetensors
expect_exit 2 "$SRC/scripts/average-models" bad.safetensors m.safetensors
pass "average-models: the tensor-wise mean, the first model's metadata; other shapes exit 3"

# run.model_every: models/model-g<G>.safetensors every K generations hold
# the model a run stopped there would have written (the tensor bytes; the
# header's config differs in run.generations and run.model_every).
data_of() {
	python3 - "$1" <<'PYEOF'
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n])["__metadata__"]["generation"],
      hashlib.sha256(b[8 + n:]).hexdigest())
PYEOF
}
run 0 train c.yaml --run-dir rs --set run.model_every=2 \
	>/dev/null 2>&1 || fail "training with run.model_every"
[ "$(cd rs/models && ls | tr '\n' ' ')" = "model-g2.safetensors model-g4.safetensors model-g6.safetensors " ] ||
	fail "run.model_every=2 over 6 generations: $(ls rs/models)"
run 0 train c.yaml --run-dir r2 --set run.generations=2 --set run.eval_at_end=false \
	>/dev/null 2>&1 || fail "training to generation 2"
[ "$(data_of rs/models/model-g2.safetensors)" = "$(data_of r2/model.safetensors)" ] ||
	fail "models/model-g2 is not the model of a run of 2 generations"
[ "$(data_of rs/models/model-g6.safetensors)" = "$(data_of r/model.safetensors)" ] ||
	fail "models/model-g6 is not the final model"
# scripts/eval-snapshots: one row per snapshot; the last one's figures are
# those of the run's own evaluation of the same model (r/eval.json)
RANDES_BIN="$RANDES" "$SRC/scripts/eval-snapshots" rs --np 2 >/dev/null 2>&1 || fail "eval-snapshots"
python3 - rs/models/snapshots.csv r/eval.json <<'PYEOF' || { cat rs/models/snapshots.csv r/eval.json >&2; fail "snapshots.csv does not match the evaluations"; }
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["generation"] for r in rows] == ["2", "4", "6"], rows
e = json.load(open(sys.argv[2]))
last = rows[-1]
assert float(last["success_average"]) == e["success"]["average"], last
assert float(last["success_p5"]) == e["success"]["p5"], last
assert float(last["majority1_average"]) == e["majority"][0]["average"], last
assert float(last["success_worst"]) == e["success"]["worst"], last
assert float(last["predictive_variance_p95"]) == e["predictive_variance"]["p95"], last
assert float(last["seed_disagreement_average"]) == e["seed_disagreement"]["average"], last
PYEOF
stamp=$(stat -c %Y rs/models/model-g2.safetensors.eval.json)
sleep 1.1
RANDES_BIN="$RANDES" "$SRC/scripts/eval-snapshots" rs >/dev/null 2>&1 || fail "eval-snapshots again"
[ "$(stat -c %Y rs/models/model-g2.safetensors.eval.json)" = "$stamp" ] ||
	fail "eval-snapshots evaluated a snapshot twice"
echo '{"success": ' >rs/models/model-g4.safetensors.eval.json
expect_exit 3 env RANDES_BIN="$RANDES" "$SRC/scripts/eval-snapshots" rs
expect_exit 3 env RANDES_BIN="$RANDES" "$SRC/scripts/eval-snapshots" r
expect_exit 2 env RANDES_BIN="$RANDES" "$SRC/scripts/eval-snapshots" rs --np 0
# the columns from given evaluations (distinct numbers; the older one
# without seed_disagreement gives -1 there)
mkdir -p hs/models
: >hs/models/model-g1.safetensors
: >hs/models/model-g2.safetensors
echo '{"success": {"average": 0.5, "p5": 0.25, "worst": 0}, "majority": [{"k": 5, "average": 0.625, "p5": 0.375}], "predictive_variance": {"average": 0.0625, "p95": 0.125}, "reward": null}' \
	>hs/models/model-g1.safetensors.eval.json
echo '{"success": {"average": 0.75, "p5": 0.5, "worst": 0.125}, "majority": [{"k": 5, "average": 0.875, "p5": 0.625}], "predictive_variance": {"average": 0.03125, "p95": 0.09375}, "seed_disagreement": {"average": 0.1875, "p95": 0.25}, "reward": null}' \
	>hs/models/model-g2.safetensors.eval.json
RANDES_BIN="$RANDES" "$SRC/scripts/eval-snapshots" hs >/dev/null 2>&1 || fail "eval-snapshots on given evaluations"
[ "$(cat hs/models/snapshots.csv)" = "generation,success_average,success_p5,success_worst,majority5_average,majority5_p5,predictive_variance_average,predictive_variance_p95,seed_disagreement_average,seed_disagreement_p95
1,0.5,0.25,0.0,0.625,0.375,0.0625,0.125,-1,-1
2,0.75,0.5,0.125,0.875,0.625,0.03125,0.09375,0.1875,0.25" ] ||
	{ cat hs/models/snapshots.csv >&2; fail "snapshots.csv columns do not hold the given figures"; }
pass "eval-snapshots: one row per snapshot, the last equal to the run's eval.json; columns from given evaluations; evaluated once; bad input exits 2/3"

# with es.theta_ema the snapshots are the average, as model.safetensors
run 0 train c.yaml --run-dir re --set run.model_every=3 --set es.theta_ema=0.5 \
	>/dev/null 2>&1 || fail "training with run.model_every and es.theta_ema"
run 0 train c.yaml --run-dir re3 --set run.generations=3 --set es.theta_ema=0.5 \
	--set run.eval_at_end=false >/dev/null 2>&1 || fail "training the average to 3"
[ "$(data_of re/models/model-g3.safetensors)" = "$(data_of re3/model.safetensors)" ] &&
	[ "$(data_of re/models/model-g6.safetensors)" = "$(data_of re/model.safetensors)" ] ||
	fail "with es.theta_ema the snapshots are not the average"
[ "$(data_of re/models/model-g6.safetensors | cut -d' ' -f2)" != \
  "$(data_of rs/models/model-g6.safetensors | cut -d' ' -f2)" ] ||
	fail "the average equals theta: the test shows nothing"
# models/ that cannot be made: exit 3, the checkpoint of the generation kept
mkdir rb && touch rb/models
expect_exit 3 run 0 train c.yaml --run-dir rb --set run.model_every=2 --set run.checkpoint_every=1
grep -q 'models' last.err || fail "the error does not name models/"
[ "$(wc -l <rb/metrics.jsonl)" = 2 ] || fail "the failed run should have 2 generations on record"
pass "run.model_every: snapshots equal the model of a run stopped there (the average with es.theta_ema); an unwritable models/ exits 3"
