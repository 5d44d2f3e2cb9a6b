#!/usr/bin/env bash
# e2e-gd-reference: scripts/gd-reference, the gradient-descent control for
# recall (docs/results.md).  Its PyTorch forward pass gives the logits that
# randes' own evaluator dumped, for a fresh and for a trained model, and
# --check fails on a model that is not the dump's; a model it trains is read
# by `randes eval` as the configuration's model, and eval's success equals
# the training success the script printed (two independent evaluators of
# the same function); bad templates and arguments exit 2; SIGTERM writes
# the model of the last step and exits 4.
. "$(dirname "$0")/e2e-lib.sh"

if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
	echo "SKIP: /usr/bin/python3 with torch not available (scripts/setup --test installs python3-torch)"
	exit 77
fi
GD="$SRC/scripts/gd-reference"

cat >ar.yaml <<'YAML'
run: {name: gd, seed: 5, generations: 2, eval_at_end: false}
task: {kind: associative_recall, num_tokens: 4, value_bits: 5, eval_fillings: 4}
model:
  width: 40
  layers: 2
  heads: 1
  key_size: 5
  value_size: 5
  input_embedding: mlp
  attention: linear
  mlp: false
  layernorm: false
  positional: none
  seed_encoding: {kind: bits, dim: 10, placement: every_token}
objective: {variant: q_R, q: 4, seeds: 2, inputs: 8}
es: {population: 8, sigma: 0.05, lr: 0.05}
eval: {seeds: 8, majority: [1, 5], max_inputs: 0}
YAML
run 0 train ar.yaml --run-dir t >/dev/null 2>&1 || fail "template training"
run 0 eval t/model.safetensors --out t.json --dump t-dump.safetensors >/dev/null 2>&1 ||
	fail "eval --dump of the template"

# 1. The forward pass against randes' logits (both of the script's forms).
"$GD" t/model.safetensors --check t-dump.safetensors >check.out ||
	{ cat check.out >&2; fail "--check on the template's own dump"; }
pass "forward pass equals randes' logits: $(cut -d: -f2- check.out)"

# 2. A model that is not the dump's is caught.
sed 's/seed: 5,/seed: 6,/' ar.yaml >other.yaml
run 0 train other.yaml --run-dir o >/dev/null 2>&1 || fail "second template"
expect_exit 1 "$GD" o/model.safetensors --check t-dump.safetensors
pass "--check exits 1 on another model's dump"

# 3. Training: randes eval reads the model, and agrees with the script.
"$GD" t/model.safetensors --out m.safetensors --variant E_r0 --batch 64 \
	--steps 300 --warmup 20 --lr 0.01 --lr-end 0.001 --log-every 50 \
	--threads 1 >train.out 2>&1 || { cat train.out >&2; fail "training"; }
run 0 eval m.safetensors --out m.json --seeds 1 >/dev/null 2>&1 || fail "randes eval of the trained model"
run 0 eval m.safetensors --out m-dump.json --seeds 1 --dump m-dump.safetensors >/dev/null 2>&1 ||
	fail "eval --dump of the trained model"
"$GD" m.safetensors --check m-dump.safetensors >check2.out ||
	{ cat check2.out >&2; fail "--check on the trained model"; }
/usr/bin/python3 - m.json train.out <<'PYEOF' || fail "trained model's figures"
import json, re, sys
e = json.load(open(sys.argv[1]))
assert e["variant"] == "E_r0" and e["uses_r0"], (e["variant"], e["uses_r0"])
avg = 100.0 * e["success"]["average"]
line = [l for l in open(sys.argv[2]) if l.startswith("step ")][-1]
train = float(re.search(r"train success +([0-9.]+) %", line).group(1))
# chance is 1/32 = 3.1 %: the model learned recall
assert avg > 50.0, avg
# r0 is one fixed seed, so every input's success is 0 or 1 and the
# last 50 training batches (fresh inputs) estimate eval's average over all 512
assert abs(avg - train) < 12.0, (avg, train)
print("eval %.1f %%, last training steps %.1f %%" % (avg, train))
PYEOF
pass "a GD-trained E_r0 model is read by randes eval and learned recall"

# 4. Bad inputs exit 2 with a message.
cat >col.yaml <<'YAML'
run: {name: col, seed: 5, generations: 1, eval_at_end: false}
task: {kind: cycle_coloring}
objective: {variant: q_R, q: 4, seeds: 2, inputs: 8}
es: {population: 4}
YAML
run 0 train col.yaml --run-dir c >/dev/null 2>&1 || fail "colouring template"
expect_exit 2 "$GD" c/model.safetensors --out x.safetensors
grep -q 'only associative_recall' "$WORK/last.err" || fail "no reason for the colouring template"
expect_exit 2 "$GD" t/model.safetensors
expect_exit 2 "$GD" t/model.safetensors --out x.safetensors --steps 0
expect_exit 2 "$GD" t/model.safetensors --out no/such/dir/x.safetensors
grep -q 'cannot write there' "$WORK/last.err" || fail "no reason for an unwritable --out"
head -c 100 t/model.safetensors >cut.safetensors
expect_exit 2 "$GD" cut.safetensors --out x.safetensors
[ ! -e x.safetensors ] || fail "a refused run wrote a model"
pass "bad templates and arguments exit 2 and write nothing"

# 5. SIGTERM: the model of the last completed step is written, exit 4.
"$GD" t/model.safetensors --out s.safetensors --steps 100000 --batch 64 \
	--log-every 10 --threads 1 >sig.out 2>&1 &
pid=$!
wait_for_lines sig.out 3 60
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 4 ] || { cat sig.out >&2; fail "SIGTERM: exit $rc, expected 4"; }
grep -q 'stopped by signal 15' sig.out || fail "no stop message"
run 0 eval s.safetensors --out s.json --seeds 1 --set eval.max_inputs=16 >/dev/null 2>&1 ||
	fail "the model written on SIGTERM is not readable"
pass "SIGTERM writes a readable model and exits 4"

# 6. Resume: a run stopped by SIGTERM, or killed outright, continues from
# OUT.state to the very model of a run that was never stopped (byte for
# byte); other options, a damaged state and a fresh run over a state are
# refused with exit 2.
R=(--steps 200 --batch 64 --seeds 4 --log-every 10 --save-every 30 --threads 1)
"$GD" t/model.safetensors --out straight.safetensors "${R[@]}" --models straight/models >straight.out 2>&1 ||
	{ cat straight.out >&2; fail "uninterrupted run"; }
for how in TERM KILL; do
	"$GD" t/model.safetensors --out r$how.safetensors "${R[@]}" --models r$how/models >r$how.out 2>&1 &
	pid=$!
	wait_for_lines r$how.out 10 60
	kill -$how "$pid"
	wait "$pid" || true
	grep -q "^step *200 " r$how.out && fail "$how: the run ended before the signal"
	[ -f r$how.safetensors.state ] || fail "$how: no state written"
	# killed between the state's write and --models' copy: the copy of the
	# state's step is missing (the killed run saved at 30 or later; the
	# kill itself may have landed there, so the step is read from the
	# state, not taken from the newest copy)
	if [ $how = KILL ]; then
		sstep=$(/usr/bin/python3 -c 'import sys, torch; print(torch.load(sys.argv[1])["step"])' \
			r$how.safetensors.state) || fail "KILL: the state's step is unreadable"
		rm -f "r$how/models/model-g$sstep.safetensors"
	fi
	"$GD" t/model.safetensors --out r$how.safetensors "${R[@]}" --models r$how/models --resume \
		>r$how-2.out 2>&1 || { cat r$how-2.out >&2; fail "$how: --resume"; }
	grep -q 'resumed after step' r$how-2.out || fail "$how: no resume line"
	cmp -s straight.safetensors r$how.safetensors ||
		fail "$how: the resumed run's model differs from the uninterrupted run's"
	for g in 30 60 90 120 150 180 200; do
		cmp -s straight/models/model-g$g.safetensors r$how/models/model-g$g.safetensors ||
			fail "$how: --models: step $g's model differs from the uninterrupted run's"
	done
done
pass "a stopped or killed run resumes to the uninterrupted run's model, byte for byte"

# --models keeps every save (steps 30, 60, ..., 180 and the last, 200),
# the last one the model itself, and a resume writes the copy a kill left
# unwritten; eval-snapshots evaluates them as it does an ES run's
# snapshots, its last row being eval's figures of the model.
[ "$(cd straight/models && ls | sort -V | tr '\n' ' ')" = \
	"model-g30.safetensors model-g60.safetensors model-g90.safetensors model-g120.safetensors model-g150.safetensors model-g180.safetensors model-g200.safetensors " ] ||
	fail "--models: not one file per save: $(ls straight/models)"
cmp -s straight.safetensors straight/models/model-g200.safetensors ||
	fail "--models: the last save is not the model"
RANDES_BIN="$RANDES" "$SRC/scripts/eval-snapshots" straight >/dev/null 2>&1 ||
	fail "eval-snapshots of gd-reference's --models"
run 0 eval straight.safetensors --out straight.json >/dev/null 2>&1 || fail "eval of the model"
last=$(tail -n 1 straight/models/snapshots.csv | cut -d, -f1,2)
want=$(/usr/bin/python3 -c 'import json,sys; print("200,%s" % json.load(open(sys.argv[1]))["success"]["average"])' straight.json)
[ "$last" = "$want" ] || fail "--models: snapshots.csv's last row is '$last', eval says '$want'"
[ "$(wc -l <straight/models/snapshots.csv)" = 8 ] || fail "--models: snapshots.csv has not 7 rows"
expect_exit 2 "$GD" t/model.safetensors --out nodir.safetensors "${R[@]}" --models /proc/no/such
grep -q -- '--models /proc/no/such: cannot make it' "$WORK/last.err" || fail "no reason for a bad --models"
pass "--models keeps each save as model-g<step>.safetensors, the resumed run's (one lost to a kill rewritten) as the uninterrupted one's; eval-snapshots evaluates them; an unmakeable DIR exits 2"
expect_exit 2 "$GD" t/model.safetensors --out rTERM.safetensors "${R[@]}"
grep -q 'state exists: --resume' "$WORK/last.err" || fail "no reason for a fresh run over a state"
expect_exit 2 "$GD" t/model.safetensors --out rTERM.safetensors "${R[@]}" --resume --q 8
grep -q 'the run had --q' "$WORK/last.err" || fail "no reason for other options"
expect_exit 2 "$GD" t/model.safetensors --out nostate.safetensors "${R[@]}" --resume
cp rTERM.safetensors.state keep.state
head -c 500 keep.state >rTERM.safetensors.state
expect_exit 2 "$GD" t/model.safetensors --out rTERM.safetensors "${R[@]}" --resume
cmp -s straight.safetensors rTERM.safetensors || fail "a refused resume changed the model"
pass "a fresh run over a state, other options, no state and a damaged state exit 2"

# 7. A full file system (a tmpfs mounted by the test, as root): the save
# that does not fit exits 2 with the reason, the model and state of the
# last save stay whole (no temp files left), and after the operator makes
# room --resume ends at the uninterrupted run's model, byte for byte.
MNT="$WORK/mnt"
# The template's state is 70,586 bytes (18 pages) and its model 20,236 (5):
# in 20 pages the first state fits and its model does not; in 32 pages the
# first save (step 30) fits, the second's state.tmp does not beside them.
mounted=0
if mount_tmpfs "$MNT" 80k; then
	mounted=1
else
	echo "SKIP: full file system case: cannot mount a tmpfs ($(cat "$WORK/mount.err"))"
fi
if [ "$mounted" = 1 ]; then
	F="$MNT/full.safetensors"
	# the model that does not fit after its state: the state is of step 30
	expect_exit 2 "$GD" t/model.safetensors --out "$F" "${R[@]}"
	grep -q "step 30: cannot write $F (No space left on device); the state of this step is written" \
		"$WORK/last.err" || { cat "$WORK/last.err" >&2; fail "full disk (model): no reason"; }
	[ -z "$(find "$MNT" -name '*.tmp')" ] || fail "full disk (model): a temp file was left"
	[ -f "$F.state" ] && [ ! -e "$F" ] || fail "full disk (model): not the state alone"
	mv "$F.state" first.state
	mount -o remount,size=128k "$MNT" || fail "cannot grow the tmpfs"
	# the state that does not fit: model and state of step 30 are kept
	expect_exit 2 "$GD" t/model.safetensors --out "$F" "${R[@]}"
	grep -q "step 60: cannot write $F.state (No space left on device); the last save is kept" \
		"$WORK/last.err" || { cat "$WORK/last.err" >&2; fail "full disk: no reason"; }
	[ -z "$(find "$MNT" -name '*.tmp')" ] || fail "full disk: a temp file was left"
	# what is left is the save of step 30: the model is read by randes,
	# and the state carries on from step 30
	run 0 eval "$F" --out full.json --seeds 1 --set eval.max_inputs=16 >/dev/null 2>&1 ||
		fail "full disk: the model of the last save is not readable"
	/usr/bin/python3 - "$F" <<'PYEOF' || fail "full disk: the kept model is not step 30's"
import json, struct, sys
f = open(sys.argv[1], "rb")
n = struct.unpack("<Q", f.read(8))[0]
meta = json.loads(f.read(n))["__metadata__"]
assert meta.get("generation") == "30", meta
PYEOF
	mount -o remount,size=1m "$MNT" || fail "cannot grow the tmpfs"
	"$GD" t/model.safetensors --out "$F" "${R[@]}" --resume >full-2.out 2>&1 ||
		{ cat full-2.out >&2; fail "full disk: --resume after making room"; }
	grep -q 'resumed after step 30' full-2.out || fail "full disk: not resumed after step 30"
	cmp -s straight.safetensors "$F" ||
		fail "full disk: the resumed run's model differs from the uninterrupted run's"
	rm -f "$F" "$F.state"
	mv first.state "$F.state"
	"$GD" t/model.safetensors --out "$F" "${R[@]}" --resume >full-3.out 2>&1 ||
		{ cat full-3.out >&2; fail "full disk (model): --resume from the state alone"; }
	grep -q 'resumed after step 30' full-3.out || fail "full disk (model): not resumed after step 30"
	cmp -s straight.safetensors "$F" ||
		fail "full disk (model): the resumed run's model differs from the uninterrupted run's"
	pass "a full disk exits 2 ('No space left on device') and keeps what was saved: the state that does not fit leaves step 30's model and state, the model that does not fit leaves its state; both resume to the uninterrupted model"
	# --models' copy that does not fit (6 pages: step 30's copy fits, step
	# 60's temp file does not beside it): the model and state of step 60
	# are written, and --resume writes the missing copy
	rm -rf "$MNT"/*
	mount -o remount,size=24k "$MNT" || fail "cannot shrink the tmpfs"
	expect_exit 2 "$GD" t/model.safetensors --out cp.safetensors "${R[@]}" --models "$MNT/m"
	grep -q "step 60: cannot write $MNT/m/model-g60.safetensors (No space left on device); cp.safetensors and its state of this step are written" \
		"$WORK/last.err" || { cat "$WORK/last.err" >&2; fail "full disk (--models): no reason"; }
	[ -z "$(find "$MNT" -name '*.tmp')" ] || fail "full disk (--models): a temp file was left"
	mount -o remount,size=1m "$MNT" || fail "cannot grow the tmpfs"
	"$GD" t/model.safetensors --out cp.safetensors "${R[@]}" --models "$MNT/m" --resume >cp-2.out 2>&1 ||
		{ cat cp-2.out >&2; fail "full disk (--models): --resume after making room"; }
	grep -q 'resumed after step 60' cp-2.out || fail "full disk (--models): not resumed after step 60"
	for g in 30 60 90 120 150 180 200; do
		cmp -s straight/models/model-g$g.safetensors "$MNT/m/model-g$g.safetensors" ||
			fail "full disk (--models): step $g's copy differs from the uninterrupted run's"
	done
	pass "--models' copy that does not fit exits 2 saying the model and state of its step are written; --resume writes the missing copy, every copy the uninterrupted run's"
fi
