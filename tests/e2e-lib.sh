# e2e-lib.sh: shared helpers of the end-to-end tests (sourced).
# Each test is run by meson as: e2e-NAME.sh RANDES_BINARY SOURCE_ROOT
set -euo pipefail

RANDES=${1:?usage: $0 RANDES_BINARY SOURCE_ROOT}
SRC=${2:?usage: $0 RANDES_BINARY SOURCE_ROOT}
MPIRUN="$SRC/scripts/mpirun-local"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/randes-e2e-XXXXXX")
TMPFS_DIR= # set by mount_tmpfs

# cleanup: unmounts mount_tmpfs's file system, if any, and removes $WORK.
cleanup() {
	if [ -n "$TMPFS_DIR" ]; then
		umount "$TMPFS_DIR" 2>/dev/null || umount -l "$TMPFS_DIR" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
export OPENBLAS_NUM_THREADS=1

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	echo "ok: $*"
}

# run NP ARGS...: randes under mpirun with NP ranks (NP 0: no mpirun).
run() {
	local np=$1
	shift
	if [ "$np" = 0 ]; then
		"$RANDES" "$@"
	else
		"$MPIRUN" "$np" "$RANDES" "$@"
	fi
}

# expect_exit CODE COMMAND...: runs COMMAND, fails unless it exits CODE.
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$WORK/last.out" 2>"$WORK/last.err" || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "--- stdout" >&2; tail -20 "$WORK/last.out" >&2
		echo "--- stderr" >&2; tail -20 "$WORK/last.err" >&2
		fail "expected exit $want, got $rc: $*"
	fi
}

# hashes DIR: the theta_hash column of DIR/metrics.jsonl, one per line.
hashes() {
	grep -o '"theta_hash": "[0-9a-f]*"' "$1/metrics.jsonl" | cut -d'"' -f4
}

# last_hash DIR
last_hash() {
	hashes "$1" | tail -1
}

# wait_for_lines FILE N SECONDS: waits until FILE has at least N lines.
wait_for_lines() {
	local f=$1 n=$2 t=$3 i=0
	while [ "$i" -lt $((t * 10)) ]; do
		if [ -f "$f" ] && [ "$(wc -l <"$f")" -ge "$n" ]; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "$f did not reach $n lines in ${t}s"
}

# mount_tmpfs DIR SIZE: a tmpfs of SIZE (mount's size=) at DIR, created,
# unmounted by cleanup when the test exits or is interrupted.  Fails
# (status 1, the reason in $WORK/mount.err) when it cannot mount: not
# root, or no mount permission.
mount_tmpfs() {
	mkdir -p "$1"
	if [ "$(id -u)" != 0 ]; then
		echo "not root" >"$WORK/mount.err"
		return 1
	fi
	mount -t tmpfs -o "size=$2,mode=0755" randes-e2e "$1" 2>"$WORK/mount.err" || return 1
	TMPFS_DIR=$1
	trap 'cleanup; exit 1' INT TERM
}
