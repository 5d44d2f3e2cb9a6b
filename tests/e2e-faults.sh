#!/usr/bin/env bash
# e2e-faults: the faults a cluster throws at a run, each checked for the
# documented exit code, the message, and that nothing already written is
# lost: the newest intact checkpoint still loads, and resuming from it gives
# bitwise the same theta (and the same metrics, without gaps or duplicates)
# as a run that never failed.  docs/reliability.md has the table.
#
#   1. one rank SIGKILLed mid-run (a worker, then the master) under mpirun;
#   2. a corrupt checkpoint.bin (truncated, bit-flipped, another format
#      version): resume and eval fall back to checkpoint.prev.bin with a
#      warning; both corrupt, or no previous one: refused with exit 3;
#      a torn metrics line; checkpoints of another run; the run's stored
#      config.yaml missing or broken;
#   3. faults injected with RANDES_FAULT=N:ERRNAME into a checkpoint save,
#      a metrics append, a metrics fsync and the config write;
#   4. a full file system (a 1 MiB tmpfs) during a checkpoint save, and a
#      read-only one (the tmpfs remounted ro) for resume, eval and a new run;
#   5. the config file edited between stop and --resume: a model change is
#      refused (exit 2, nothing touched), a change that leaves the model
#      alone resumes to the same theta.
# Already covered elsewhere, not repeated here: SIGKILL of the whole job and
# --set refusals on resume (e2e-resume.sh), the run-directory lock and stop
# signals (e2e-signals.sh), every truncation/bit flip of the decoder
# (test-checkpoint.c), every fault point of a save (test-fsutil.c,
# test-checkpoint.c).
. "$(dirname "$0")/e2e-lib.sh"

# ckgen FILE: the generation recorded in a checkpoint header (u64 at 48).
ckgen() {
	od -An -t u8 -j 48 -N 8 "$1" | tr -d ' '
}

# same_run DIR REF WHAT: DIR's metrics hold exactly REF's theta hashes.
same_run() {
	[ "$(hashes "$1")" = "$(hashes "$2")" ] ||
		fail "$3: theta hashes differ from the uninterrupted run"
	[ -n "$(last_hash "$1")" ] || fail "$3: no metrics"
}

# expect_msg TEXT WHAT: the last command's stderr holds TEXT.
expect_msg() {
	grep -qF -- "$1" "$WORK/last.err" || {
		tail -20 "$WORK/last.err" >&2
		fail "$2: stderr lacks '$1'"
	}
}

# no_temp DIR: no temp file of an atomic write is left behind.
no_temp() {
	if ls "$1" | grep -q '\.tmp\.'; then
		ls -la "$1" >&2
		fail "temp file left in $1"
	fi
}

# The sphere run most cases use: 12 generations, a checkpoint every 4.
cat >s.yaml <<'YAML'
run: {name: faults, seed: 11, generations: 12, checkpoint_every: 4, eval_at_end: false, progress_seconds: 1000}
task: {kind: sphere, dim: 6}
es: {population: 8, sigma: 0.1, lr: 0.05}
YAML
run 0 train s.yaml --run-dir ref >/dev/null 2>&1 || fail "reference run"
[ "$(hashes ref | wc -l)" = 12 ] || fail "reference run: not 12 metrics lines"

# ---------------------------------------------------------------------------
# 1. One rank killed with SIGKILL mid-run.
cat >k.yaml <<'YAML'
run: {name: kill, seed: 21, generations: 100000, checkpoint_every: 5, eval_at_end: false, progress_seconds: 1000}
task: {kind: cycle_coloring}
objective: {variant: q_R, q: 10, seeds: 3, inputs: 8}
es: {population: 16, sigma: 0.05, lr: 0.01}
YAML

# rank_pid MPIRUN_PID RANK: the pid of that rank (a child of mpirun).
rank_pid() {
	local p
	for p in $(pgrep -P "$1"); do
		if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
			grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# kill_rank RANK: start a 2-rank run, SIGKILL RANK after 7 generations (so
# at least one checkpoint is complete), check the job fails and reports it,
# then resume to a few generations past the checkpoint and compare with an
# uninterrupted run of the same length.
kill_rank() {
	local rank=$1 dir=kill$1 pid victim rc=0 other i g
	"$MPIRUN" 2 "$RANDES" train k.yaml --run-dir "$dir" >"$dir.out" 2>&1 &
	pid=$!
	wait_for_lines "$dir/metrics.jsonl" 7 120
	victim=$(rank_pid "$pid" "$rank") || fail "kill rank $rank: no such rank"
	other=$(rank_pid "$pid" $((1 - rank))) || true
	kill -KILL "$victim"
	wait "$pid" || rc=$?
	[ "$rc" != 0 ] || fail "kill rank $rank: mpirun exited 0"
	grep -q "rank $rank .*signal 9" "$dir.out" || {
		tail -20 "$dir.out" >&2
		fail "kill rank $rank: mpirun did not report the killed rank"
	}
	# The surviving rank must not outlive the job (bounded wait: a
	# liveness check, not a timing one).
	for i in $(seq 1 100); do
		[ -n "$other" ] && kill -0 "$other" 2>/dev/null || break
		sleep 0.1
	done
	[ -z "$other" ] || ! kill -0 "$other" 2>/dev/null ||
		fail "kill rank $rank: rank $((1 - rank)) still running"
	[ -f "$dir/checkpoint.bin" ] || fail "kill rank $rank: no checkpoint"
	# A save cut short may leave its temp file (never read); the next
	# save removes it, checked after the resume.
	g=$(ckgen "$dir/checkpoint.bin")
	[ "$g" -ge 5 ] || fail "kill rank $rank: checkpoint at generation $g"
	expect_exit 0 run 2 train k.yaml --run-dir "$dir" --resume \
		--set run.generations=$((g + 3))
	expect_exit 0 run 2 train k.yaml --run-dir "ref$dir" \
		--set run.generations=$((g + 3))
	same_run "$dir" "ref$dir" "kill rank $rank"
	no_temp "$dir"
	pass "rank $rank SIGKILLed: mpirun exits $rc naming it; the checkpoint at generation $g resumes to the same theta"
}
kill_rank 1
kill_rank 0

# ---------------------------------------------------------------------------
# 2. Corrupt checkpoints.  part: stopped after 8 generations, so it holds
# checkpoint.bin (generation 8) and checkpoint.prev.bin (generation 4).
run 0 train s.yaml --run-dir part --set run.generations=8 >/dev/null 2>&1 ||
	fail "part run"
[ "$(ckgen part/checkpoint.bin)" = 8 ] || fail "part: newest not at 8"
[ "$(ckgen part/checkpoint.prev.bin)" = 4 ] || fail "part: previous not at 4"
# The figure eval prints for the model at generation 4 (run stopped there).
run 0 train s.yaml --run-dir at4 --set run.generations=4 >/dev/null 2>&1 ||
	fail "run to 4"
expect_exit 0 run 0 eval at4 --out at4.json
at4_loss=$(grep -o '"loss":{"average":[^,]*' at4.json)
[ -n "$at4_loss" ] || fail "eval.json has no loss average"

# corrupt_case NAME HOW EXPECTED-MESSAGE: corrupt part's checkpoint.bin by
# HOW, then eval and resume fall back to the previous checkpoint.
corrupt_case() {
	local name=$1 how=$2 msg=$3 dir=c-$1
	cp -a part "$dir"
	case "$how" in
	truncate) truncate -s 100 "$dir/checkpoint.bin" ;;
	flip) # one bit in the middle of theta
		printf '\x10' | dd of="$dir/checkpoint.bin" bs=1 seek=220 \
			conv=notrunc status=none
		cmp -s "$dir/checkpoint.bin" part/checkpoint.bin &&
			fail "$name: the flip did not change the file" ;;
	version) # format version 2 (u32 at offset 8)
		printf '\x02\x00\x00\x00' | dd of="$dir/checkpoint.bin" bs=1 \
			seek=8 conv=notrunc status=none ;;
	esac
	expect_exit 0 run 0 eval "$dir" --out "$dir.json"
	expect_msg "$dir/checkpoint.bin" "$name: eval warning"
	expect_msg "$msg" "$name: eval warning"
	expect_msg "checkpoint.prev.bin" "$name: eval warning"
	[ "$(grep -o '"loss":{"average":[^,]*' "$dir.json")" = "$at4_loss" ] ||
		fail "$name: eval did not evaluate the previous checkpoint"
	expect_exit 0 run 0 train s.yaml --run-dir "$dir" --resume
	expect_msg "$msg" "$name: resume warning"
	grep -q "resuming $dir at generation 4" "$WORK/last.err" ||
		fail "$name: did not resume from generation 4"
	same_run "$dir" ref "$name"
	pass "checkpoint.bin $name: eval and resume warn ('$msg') and use checkpoint.prev.bin; same theta"
}
corrupt_case truncated truncate "truncated"
corrupt_case bitflip flip "CRC-64 mismatch"
corrupt_case version version "unsupported checkpoint format version 2"

# Both corrupt: refused with exit 3, nothing touched.
cp -a part both
truncate -s 100 both/checkpoint.bin
printf '\xff' | dd of=both/checkpoint.prev.bin bs=1 seek=150 conv=notrunc status=none
sums=$(md5sum both/*)
expect_exit 3 run 0 train s.yaml --run-dir both --resume
expect_msg "both/checkpoint.bin" "both corrupt: resume"
expect_msg "both/checkpoint.prev.bin" "both corrupt: resume"
expect_exit 3 run 0 eval both --out both.json
expect_msg "both/checkpoint.bin" "both corrupt: eval"
[ ! -e both.json ] || fail "both corrupt: eval wrote its output"
[ "$(md5sum both/*)" = "$sums" ] || fail "both corrupt: files were changed"
pass "both checkpoints corrupt: resume and eval refuse with exit 3 naming both files; nothing touched"

# Only checkpoint.bin, corrupt: refused with exit 3.
cp -a part only
rm only/checkpoint.prev.bin
printf '\x02\x00\x00\x00' | dd of=only/checkpoint.bin bs=1 seek=8 conv=notrunc status=none
expect_exit 3 run 0 train s.yaml --run-dir only --resume
expect_msg "only/checkpoint.bin: unsupported checkpoint format version 2" "only: resume"
expect_exit 3 run 0 eval only --out only.json
expect_msg "only/checkpoint.bin: unsupported checkpoint format version 2" "only: eval"
pass "a lone corrupt checkpoint.bin: resume and eval refuse with exit 3 naming it"

# A torn last metrics line (a crash or a full disk mid-write) is dropped
# on resume; every line stays complete JSON.
cp -a part torn
printf '{"g": 8, "fitness_min": -0.5, "theta_ha' >>torn/metrics.jsonl
expect_exit 0 run 0 train s.yaml --run-dir torn --resume
same_run torn ref "torn metrics line"
[ "$(grep -c '^{.*}$' torn/metrics.jsonl)" = "$(wc -l <torn/metrics.jsonl)" ] ||
	fail "torn metrics line: an incomplete line is left"
[ "$(wc -l <torn/metrics.jsonl)" = 12 ] || fail "torn metrics line: not 12 lines"
pass "a torn last line of metrics.jsonl is dropped on resume; same theta and metrics"

# Checkpoints of another run (run.seed is a locked key): the newest alone
# falls back to the previous one; both are refused with exit 3.
run 0 train s.yaml --run-dir other --set run.generations=8 --set run.seed=12 \
	>/dev/null 2>&1 || fail "other run"
cp -a part foreign1
cp other/checkpoint.bin foreign1/checkpoint.bin
expect_exit 0 run 0 train s.yaml --run-dir foreign1 --resume
expect_msg "foreign1/checkpoint.bin: written under a different config" "foreign newest"
same_run foreign1 ref "foreign newest"
cp -a part foreign2
cp other/checkpoint.bin other/checkpoint.prev.bin foreign2/
sums=$(md5sum foreign2/*)
expect_exit 3 run 0 train s.yaml --run-dir foreign2 --resume
expect_msg "no valid checkpoint in foreign2" "foreign both"
expect_msg "foreign2/checkpoint.prev.bin: written under a different config" "foreign both"
[ "$(md5sum foreign2/*)" = "$sums" ] || fail "foreign both: files were changed"
pass "checkpoints of another run: the newest alone is passed over with a warning; both refused with exit 3"

# The run's stored config.yaml missing (exit 3) or not valid YAML (exit 2,
# file:line:col): resume and eval refuse, nothing touched.
cp -a part noconf
rm noconf/config.yaml
expect_exit 3 run 0 train s.yaml --run-dir noconf --resume
expect_msg "noconf/config.yaml: cannot open: No such file or directory" "no config.yaml"
expect_exit 3 run 0 eval noconf
expect_msg "noconf is not a run directory" "no config.yaml: eval"
cp -a part badconf
printf 'garbage: [\n' >>badconf/config.yaml
sums=$(md5sum badconf/*)
expect_exit 2 run 0 train s.yaml --run-dir badconf --resume
expect_msg "cannot read the run's config: badconf/config.yaml:" "bad config.yaml"
expect_exit 2 run 0 eval badconf
expect_msg "badconf/config.yaml:" "bad config.yaml: eval"
[ "$(md5sum badconf/*)" = "$sums" ] || fail "bad config.yaml: files were changed"
pass "stored config.yaml missing: exit 3; not valid YAML: exit 2 naming file:line:col; nothing touched"

# ---------------------------------------------------------------------------
# 3. Injected faults.  The fault points of s.yaml in a fresh run directory,
# in order (fsutil.h; each check below also asserts the message, so a
# change of this order fails loudly instead of testing something else):
#   1 mkdir, 2-4 lock (open, ftruncate, write), 5-10 config.yaml (open,
#   write, fsync, close, rename, fsync-dir), 11 metrics open, then one
#   write per generation g0..g3 (12-15), the fsync of g3's line (16), the
#   first save (17-22: open, write, fsync, close, rename, fsync-dir), g4..g7
#   (23-26), fsync (27), the second save (28 open, 29 write, 30 fsync,
#   31 close, 32 rename of the hard link checkpoint.bin.tmp.prev -> prev,
#   33 fsync-dir, 34 rename
#   temp -> checkpoint.bin, 35 fsync-dir).

# fault_case NAME N:ERR EXIT MESSAGE LINES CKGEN [MESSAGE2]: a fresh run
# with the fault; then a resume without it must give the reference run.
fault_case() {
	local name=$1 fault=$2 code=$3 msg=$4 lines=$5 g=$6 msg2=${7:-} dir=f-$1
	expect_exit "$code" env RANDES_FAULT="$fault" "$RANDES" train s.yaml \
		--run-dir "$dir"
	expect_msg "$msg" "$name"
	[ -z "$msg2" ] || expect_msg "$msg2" "$name"
	no_temp "$dir"
	[ "$(wc -l <"$dir/metrics.jsonl")" = "$lines" ] ||
		fail "$name: metrics has $(wc -l <"$dir/metrics.jsonl") lines, expected $lines"
	[ -z "$(tail -c 1 "$dir/metrics.jsonl")" ] ||
		fail "$name: metrics.jsonl does not end with a newline"
	[ "$(ckgen "$dir/checkpoint.bin")" = "$g" ] ||
		fail "$name: checkpoint.bin is not at generation $g"
	# Every case fails at or before the second save: the first save is
	# the only checkpoint.  A save that failed after keeping it as
	# checkpoint.prev.bin (the hard link of checkpoint_save) leaves that
	# name as a second copy of the same checkpoint, nothing else.
	[ ! -e "$dir/checkpoint.prev.bin" ] ||
		cmp -s "$dir/checkpoint.prev.bin" "$dir/checkpoint.bin" ||
		fail "$name: checkpoint.prev.bin differs from checkpoint.bin"
	expect_exit 0 run 0 train s.yaml --run-dir "$dir" --resume
	same_run "$dir" ref "$name"
	pass "RANDES_FAULT=$fault ($name): exit $code, '$msg'; checkpoint at $g kept; resume gives the same theta"
}
fault_case ckpt-write 29:ENOSPC 3 \
	"checkpoint not saved: f-ckpt-write/checkpoint.bin.tmp." 8 4 \
	"write: No space left on device"
fault_case ckpt-rename-prev 32:EIO 3 \
	"checkpoint not saved: rename f-ckpt-rename-prev/checkpoint.bin.tmp.prev -> f-ckpt-rename-prev/checkpoint.prev.bin: Input/output error" 8 4
fault_case ckpt-rename-new 34:EIO 3 \
	"-> f-ckpt-rename-new/checkpoint.bin: Input/output error" 8 4
fault_case metrics-write 24:ENOSPC 3 \
	"f-metrics-write/metrics.jsonl: write: No space left on device" 5 4
fault_case metrics-fsync 27:EIO 3 \
	"f-metrics-fsync/metrics.jsonl: fsync: Input/output error" 8 4

# A fault before any checkpoint: the config write.  Nothing is left that
# blocks a new run in the same directory.
expect_exit 3 env RANDES_FAULT=7:EROFS "$RANDES" train s.yaml --run-dir f-config
expect_msg "f-config/config.yaml.tmp." "config write"
expect_msg "fsync: Read-only file system" "config write"
no_temp f-config
[ ! -e f-config/config.yaml ] || fail "config write: a config.yaml appeared"
expect_exit 0 run 0 train s.yaml --run-dir f-config
same_run f-config ref "config write"
pass "RANDES_FAULT=7:EROFS (config.yaml fsync): exit 3, no config.yaml; a new run there works"

# The same checkpoint fault under mpirun: every rank leaves, exit 3.
expect_exit 3 env RANDES_FAULT=29:ENOSPC "$MPIRUN" 2 "$RANDES" train s.yaml \
	--run-dir f-mpi
expect_msg "checkpoint not saved" "mpi checkpoint fault"
expect_msg "the master stopped the run with an error" "mpi checkpoint fault"
[ "$(ckgen f-mpi/checkpoint.bin)" = 4 ] || fail "mpi fault: checkpoint not at 4"
expect_exit 0 run 2 train s.yaml --run-dir f-mpi --resume
same_run f-mpi ref "mpi checkpoint fault"
pass "RANDES_FAULT=29:ENOSPC under mpirun -np 2: exit 3 on every rank; resume gives the same theta"

# A malformed RANDES_FAULT is a usage error.
expect_exit 2 env RANDES_FAULT=0:ENOSPC "$RANDES" train s.yaml --run-dir f-bad
expect_msg "RANDES_FAULT='0:ENOSPC': expected N:ERRNAME" "malformed RANDES_FAULT"
[ ! -e f-bad ] || fail "malformed RANDES_FAULT: the run directory was created"
pass "a malformed RANDES_FAULT: exit 2 before anything is written"

# ---------------------------------------------------------------------------
# 4. A full and a read-only file system (a tmpfs mounted by the test).
MNT="$WORK/mnt"
mounted=0
if mount_tmpfs "$MNT" 1m; then
	mounted=1
else
	echo "SKIP: full/read-only file system cases: cannot mount a tmpfs ($(cat "$WORK/mount.err"))"
fi

if [ "$mounted" = 1 ]; then
	# sphere in 20000 dimensions: each checkpoint is 400392 bytes (98
	# pages).  In 1 MiB (256 pages) the first two saves fit; the third
	# temp file does not, next to checkpoint.bin and checkpoint.prev.bin.
	cat >big.yaml <<'YAML'
run: {name: big, seed: 5, generations: 10, checkpoint_every: 2, eval_at_end: false, progress_seconds: 1000}
task: {kind: sphere, dim: 20000}
es: {population: 8, sigma: 0.1, lr: 0.05}
YAML
	expect_exit 0 run 2 train big.yaml --run-dir bigref
	expect_exit 3 run 2 train big.yaml --run-dir "$MNT/run"
	expect_msg "checkpoint not saved: $MNT/run/checkpoint.bin.tmp." "full disk"
	expect_msg "write: No space left on device" "full disk"
	no_temp "$MNT/run"
	[ "$(ckgen "$MNT/run/checkpoint.bin")" = 4 ] ||
		fail "full disk: checkpoint.bin is not the one of generation 4"
	[ "$(ckgen "$MNT/run/checkpoint.prev.bin")" = 2 ] ||
		fail "full disk: checkpoint.prev.bin is not the one of generation 2"
	# The operator makes room; the run resumes where it was.
	mount -o remount,size=8m "$MNT" || fail "cannot grow the tmpfs"
	expect_exit 0 run 2 train big.yaml --run-dir "$MNT/run" --resume
	same_run "$MNT/run" bigref "full disk"
	pass "full file system during a checkpoint save: exit 3, 'No space left on device'; checkpoints of 4 and 2 intact; resume after making room gives the same theta"

	# Read-only: a stopped run on a file system remounted read-only.
	rm -rf "${MNT:?}/run"
	expect_exit 0 run 0 train s.yaml --run-dir "$MNT/ro" --set run.generations=8
	sums=$(md5sum "$MNT"/ro/*)
	mount -o remount,ro "$MNT" || fail "cannot remount the tmpfs read-only"
	expect_exit 3 run 0 train s.yaml --run-dir "$MNT/ro" --resume
	expect_msg "$MNT/ro/randes.lock" "read-only resume"
	expect_msg "Read-only file system" "read-only resume"
	expect_exit 3 run 0 eval "$MNT/ro"
	expect_msg "Read-only file system" "read-only eval"
	expect_exit 0 run 0 eval "$MNT/ro" --out ro-eval.json
	expect_exit 3 run 0 train s.yaml --run-dir "$MNT/new"
	expect_msg "$MNT/new: mkdir: Read-only file system" "read-only new run"
	[ "$(md5sum "$MNT"/ro/*)" = "$sums" ] || fail "read-only: files changed"
	mount -o remount,rw "$MNT" || fail "cannot remount the tmpfs read-write"
	expect_exit 0 run 0 train s.yaml --run-dir "$MNT/ro" --resume
	same_run "$MNT/ro" ref "read-only, then writable"
	pass "read-only file system: resume, eval into the run dir and a new run exit 3 ('Read-only file system'); eval --out elsewhere works; after remounting rw the run resumes to the same theta"
fi

# ---------------------------------------------------------------------------
# 5. The config file edited between stop and --resume.
sed 's/dim: 6/dim: 7/' s.yaml >s-model.yaml
cp -a part edit
sums=$(md5sum edit/*)
expect_exit 2 run 0 train s-model.yaml --run-dir edit --resume
expect_msg "task.dim" "model change"
[ "$(md5sum edit/*)" = "$sums" ] || fail "model change: files changed"
sed -e 's/checkpoint_every: 4/checkpoint_every: 3/' \
	-e 's/progress_seconds: 1000/progress_seconds: 0/' s.yaml >s-run.yaml
printf 'eval: {seeds: 3, majority: [1, 3]}\n' >>s-run.yaml
expect_exit 0 run 0 train s-run.yaml --run-dir edit --resume
same_run edit ref "unlocked change"
grep -q "checkpoint_every: 3" edit/config.yaml ||
	fail "unlocked change: config.yaml not updated"
pass "config edited between stop and resume: task.dim refused (exit 2, nothing touched); run/eval keys accepted, same theta"
