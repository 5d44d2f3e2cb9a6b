#!/usr/bin/env bash
# tests/slurm/lint.sh: static checks of the SLURM scripts; needs no SLURM and
# no root.  bash -n and shellcheck on every script; the three job scripts
# share one block of functions (users copy single files to clusters, so it
# is duplicated, not sourced) and it must stay identical; each job script
# carries the directives its signal/requeue handling relies on.
# Exit: 0 pass, 1 fail.
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap t_finish EXIT
cd "$REPO"

scripts=(scripts/slurm-local scripts/slurm/train.sbatch scripts/slurm/sweep.sbatch
	scripts/slurm/sweep-array.sbatch tests/slurm/fake-randes tests/slurm/lib.sh
	tests/slurm/lint.sh tests/slurm/smoke.sh tests/slurm/requeue-standin.sh
	tests/slurm/lifecycle.sh tests/slurm/timelimit-standin.sh tests/e2e-slurm.sh)

for f in "${scripts[@]}"; do
	check "$f: bash -n" bash -n "$f"
done
if command -v shellcheck >/dev/null; then
	check "shellcheck -x: no findings" shellcheck -x "${scripts[@]}"
else
	check "shellcheck is installed (apt-get install shellcheck)" false
fi

common() {   # the shared block of a job script
	sed -n '/^# ---- common: begin/,/^# ---- common: end ----$/p' "$1"
}
ref=$(common scripts/slurm/train.sbatch)
check "train.sbatch has the common block" test "$(printf '%s\n' "$ref" | wc -l)" -gt 50
for f in scripts/slurm/sweep.sbatch scripts/slurm/sweep-array.sbatch; do
	check "$f: common block identical to train.sbatch's" \
		test "$(common "$f")" = "$ref"
done

for f in scripts/slurm/train.sbatch scripts/slurm/sweep.sbatch scripts/slurm/sweep-array.sbatch; do
	for d in '--signal=B:USR1@' '--open-mode=append' '--requeue' '--ntasks=' '--output='; do
		check "$f: #SBATCH $d" grep -q -- "^#SBATCH $d" "$f"
	done
	check "$f: executable" test -x "$f"
	check "$f: traps USR1, USR2 and TERM" test \
		"$(grep -c -E "^[[:space:]]*trap 'forward (USR1|USR2|TERM)' (USR1|USR2|TERM)$" "$f")" = 3
done
check "sweep-array.sbatch: one output file per task" \
	grep -q -- '^#SBATCH --output=%x-%A_%a.out' scripts/slurm/sweep-array.sbatch
