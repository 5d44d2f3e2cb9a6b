#!/usr/bin/env bash
# tests/slurm/lifecycle.sh: scripts/slurm-local itself.  Runs a private
# cluster (its own state directory and ports, no /etc symlink), so a cluster
# already up under the default directory is not disturbed:
#
#   usage errors exit 2; a non-root caller gets exit 3 (cannot run here)
#   status is non-zero while down, 0 when up; env matches DIR/env.sh
#   a second up is a no-op (same daemon PIDs); a changed SLURM_LOCAL_CPUS
#   restarts the daemons and the node shows the new CPU count
#   down cancels a job that ignores SIGTERM and leaves none of its processes
#   after a crash (slurmctld and slurmd SIGKILLed) down still reaps the
#   orphaned slurmstepd and the job's tasks, and so does the next up
#   munged is stopped by down only if up started it
#   down --purge removes the directory, and refuses a directory it did not
#   create
#
# Run as root:  tests/slurm/lifecycle.sh
# Exit: 0 pass, 1 fail, 77 SLURM cannot start here (prints SKIP: reason).
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

t_tmpdir
export SLURM_LOCAL_DIR=$T_TMP/slurm
export SLURM_LOCAL_CTLD_PORT=${LIFECYCLE_CTLD_PORT:-16817}
export SLURM_LOCAL_SLURMD_PORT=${LIFECYCLE_SLURMD_PORT:-16818}
export SLURM_LOCAL_LINK_ETC=0
export SLURM_LOCAL_CPUS=3
export SLURM_CONF=$SLURM_LOCAL_DIR/etc/slurm.conf

lc_finish() {
	local rc=$?
	"$SLURM_LOCAL" down --purge >/dev/null 2>&1 || true
	t_finish "$rc"
}
trap lc_finish EXIT

rc_of() { local rc=0; "$@" >/dev/null 2>&1 || rc=$?; echo "$rc"; }
pids() { cat "$SLURM_LOCAL_DIR/run/slurmctld.pid" "$SLURM_LOCAL_DIR/run/slurmd.pid" 2>/dev/null | tr '\n' ' '; }
alive() {   # alive PID: a live, non-zombie process
	[ -r "/proc/$1/stat" ] && [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}
dead() { ! alive "$1" || { echo "     pid $1 ($(cat "/proc/$1/comm" 2>/dev/null)) still alive"; return 1; }; }
wait_pidfile() {   # a guard against a hung job, not a timing check
	local i
	for ((i = 0; i < JOB_TIMEOUT * 4; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.25
	done
}
node_cpus() { sinfo -h -N -o %c 2>/dev/null | head -n1; }
# procs_in_dir: processes whose cwd is inside the cluster's directory.
procs_in_dir() {
	local f p
	for f in /proc/[0-9]*/cwd; do
		p=${f#/proc/}
		p=${p%/cwd}
		case $(readlink "$f" 2>/dev/null)/ in
		"$SLURM_LOCAL_DIR"/*) alive "$p" && echo "$p" ;;
		esac
	done
	return 0
}

check "usage: unknown command exits 2" equals "$(rc_of "$SLURM_LOCAL" bogus)" 2
check "usage: down with a stray argument exits 2" equals "$(rc_of "$SLURM_LOCAL" down --bogus)" 2
check "usage: relative SLURM_LOCAL_DIR exits 2" equals \
	"$(SLURM_LOCAL_DIR=relative/dir rc_of "$SLURM_LOCAL" status)" 2
if command -v runuser >/dev/null && [ "$(id -u)" = 0 ]; then
	check "a non-root up exits 3 (cannot run here)" equals \
		"$(rc_of runuser -u nobody -- "$SLURM_LOCAL" up)" 3
fi
check "status while down exits 1" equals "$(rc_of "$SLURM_LOCAL" status)" 1

munged_before=0
munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && munged_before=1

rc=0
"$SLURM_LOCAL" up || rc=$?
if [ "$rc" = 3 ]; then
	echo "SKIP: SLURM cannot start on this machine (scripts/slurm-local up said why, above)"
	exit 77
fi
[ "$rc" = 0 ] || abort "up failed (exit $rc); logs in $SLURM_LOCAL_DIR/log"
check "status when up exits 0" equals "$(rc_of "$SLURM_LOCAL" status)" 0
check "env prints what env.sh holds" equals "$("$SLURM_LOCAL" env)" "$(cat "$SLURM_LOCAL_DIR/env.sh")"
check "the node has SLURM_LOCAL_CPUS=3 CPUs" equals "$(node_cpus)" 3
if [ "$munged_before" = 0 ]; then
	check "up recorded the munged it started" test -s "$SLURM_LOCAL_DIR/run/munged.pid"
else
	check "up did not claim a munged it did not start" test ! -e "$SLURM_LOCAL_DIR/run/munged.pid"
fi

first=$(pids)
out=$("$SLURM_LOCAL" up 2>&1)
check "second up says already up" equals "$(echo "$out" | grep -c 'already up')" 1
check "second up kept the daemons (PIDs $first)" equals "$(pids)" "$first"

out=$(SLURM_LOCAL_CPUS=5 "$SLURM_LOCAL" up 2>&1)
check "changed config: up restarts" equals "$(echo "$out" | grep -c 'restarting')" 1
check "changed config: new daemon PIDs" test "$(pids)" != "$first"
for p in $first; do
	check "changed config: old daemon $p stopped" dead "$p"
done
check "changed config: the node has 5 CPUs" equals "$(node_cpus)" 5
export SLURM_LOCAL_CPUS=5

# A job that ignores SIGTERM: down must cancel it and wait for it.
sbatch --parsable -n 1 -o "$T_TMP/stubborn.out" -D "$T_TMP" \
	--wrap "trap '' TERM; echo \$\$ > $T_TMP/stubborn.pid; while :; do sleep 1; done" >/dev/null
wait_pidfile "$T_TMP/stubborn.pid"
check "stubborn job started" test -s "$T_TMP/stubborn.pid"
stubborn=$(cat "$T_TMP/stubborn.pid" 2>/dev/null || echo 0)
daemons=$(pids)
[ "$munged_before" = 1 ] || daemons="$daemons $(cat "$SLURM_LOCAL_DIR/run/munged.pid")"
"$SLURM_LOCAL" down
check "down: status exits 1" equals "$(rc_of "$SLURM_LOCAL" status)" 1
check "down: the stubborn job's shell is gone" dead "$stubborn"
for p in $daemons; do
	check "down: daemon $p stopped" dead "$p"
done
check "down: no process left in the cluster directory" equals "$(procs_in_dir)" ""
if [ "$munged_before" = 1 ]; then
	check "down: the machine's munged still works" eval 'munge -n | unmunge >/dev/null 2>&1'
fi
check "down: directory kept without --purge" test -s "$SLURM_CONF"

# Crash: daemons SIGKILLed under a running job; down reaps what is left.
"$SLURM_LOCAL" up >/dev/null 2>&1 || abort "second up failed"
rm -f "$T_TMP/orphan.pid"
sbatch --parsable -n 1 -o "$T_TMP/orphan.out" -D "$T_TMP" \
	--wrap "echo \$\$ > $T_TMP/orphan.pid; while :; do sleep 1; done" >/dev/null
wait_pidfile "$T_TMP/orphan.pid"
check "orphan job started" test -s "$T_TMP/orphan.pid"
orphan=$(cat "$T_TMP/orphan.pid" 2>/dev/null || echo 0)
for p in $(pids); do
	kill -KILL "$p"
done
sleep 0.5
check "crash: the job outlived its daemons" alive "$orphan"
"$SLURM_LOCAL" down
check "crash: down reaped the job's shell" dead "$orphan"
check "crash: no process left in the cluster directory" equals "$(procs_in_dir)" ""

# Crash again; this time the next up cleans up before it starts.
"$SLURM_LOCAL" up >/dev/null 2>&1 || abort "third up failed"
rm -f "$T_TMP/orphan.pid"
sbatch --parsable -n 1 -o "$T_TMP/orphan2.out" -D "$T_TMP" \
	--wrap "echo \$\$ > $T_TMP/orphan.pid; while :; do sleep 1; done" >/dev/null
wait_pidfile "$T_TMP/orphan.pid"
orphan=$(cat "$T_TMP/orphan.pid" 2>/dev/null || echo 0)
for p in $(pids); do
	kill -KILL "$p"
done
"$SLURM_LOCAL" up >/dev/null 2>&1 || abort "up after a crash failed"
check "crash, then up: the orphaned job was reaped" dead "$orphan"
check "crash, then up: the cluster is up" equals "$(rc_of "$SLURM_LOCAL" status)" 0
"$SLURM_LOCAL" down >/dev/null 2>&1

mkdir -p "$T_TMP/notours/etc"
echo "ClusterName=someone-else" >"$T_TMP/notours/etc/slurm.conf"
check "purge refuses a directory it did not create" equals \
	"$(SLURM_LOCAL_DIR=$T_TMP/notours rc_of "$SLURM_LOCAL" down --purge)" 1
check "purge left that directory alone" test -s "$T_TMP/notours/etc/slurm.conf"
"$SLURM_LOCAL" down --purge
check "down --purge removed the directory" test ! -e "$SLURM_LOCAL_DIR"
