/*
 * fsutil: the small file-system operations randes' persistence is built on,
 * each written so that a crash or a full disk at any moment leaves either
 * the old file or the new one, never a mix:
 *
 *   - fsutil_write_atomic: temp file in the same directory, write, fsync,
 *     close, rename, fsync of the directory;
 *   - fsutil_mkdir_p: mkdir -p;
 *   - fsutil_lock_*: the exclusive run-directory lock (flock on
 *     RUN_DIR/randes.lock, which holds the holder's pid);
 *   - fsutil_read_file: a whole file, with a size limit checked first;
 *   - fsutil_append_*: durable line appends for metrics.jsonl, repairing a
 *     line torn by a crash;
 *   - fsutil_fault_*: a countdown fault-injection hook, always compiled in,
 *     so that tests (and `RANDES_FAULT=...` in end-to-end runs) can make the
 *     n-th write, fsync, close, rename, ... fail with ENOSPC or EIO.
 *
 * It does not know what the files contain (checkpoint.c does) and it never
 * prints.  Every function returns 0 or a negative enum randes_err with a
 * message naming the path and the failing system call in err (NULL allowed),
 * and preserves errno of the failing call across its own cleanup.
 *
 * Not thread-safe: the fault hook is process-global test state, and randes
 * does its file I/O from one thread of rank 0.
 */
#ifndef RANDES_FSUTIL_H
#define RANDES_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Longest path fsutil builds (temp names, lock file); longer is an error. */
#define FSUTIL_PATH_MAX 4096

/* The lock file fsutil_lock_acquire creates inside a run directory. */
#define FSUTIL_LOCK_NAME "randes.lock"

/* --- fault injection --------------------------------------------------- */

/*
 * Arms the fault hook: counting from the next one, the n-th fault point
 * (n >= 1) fails as if the system call had returned -1 with errno_value
 * (e.g. ENOSPC, EIO, EROFS); only that one fails, later calls succeed.
 * n == 0 disarms.  Fault points are the system calls that change the file
 * system: open-for-writing ("open"), "write", "fsync", "close", "rename",
 * "fsync-dir" (opening and syncing a directory), "mkdir", "ftruncate".
 * Reads, stat and unlink (cleanup) are never faulted.
 */
void fsutil_fault_countdown(unsigned long n, int errno_value);

/* Fault points passed since the process started (whether armed or not):
 * the difference around an operation is how many points it has. */
unsigned long fsutil_fault_points(void);

/* The name of the point at which the armed fault fired ("write", ...), or
 * NULL if it has not fired since the last fsutil_fault_countdown(). */
const char *fsutil_fault_fired(void);

/*
 * Arms the hook from the environment variable RANDES_FAULT if it is set:
 * "N:ERRNAME" with N >= 1 and ERRNAME one of ENOSPC, EIO, EROFS, EDQUOT,
 * EACCES (e.g. RANDES_FAULT=3:ENOSPC).  For end-to-end fault tests of the
 * real binary.  Returns 0 (also when unset), or RANDES_EUSAGE with a
 * message if the value is malformed (the hook is then left disarmed).
 */
int fsutil_fault_from_env(char *err);

/* --- whole files --------------------------------------------------------- */

/*
 * Replaces the file at path with len bytes from data, atomically: a reader
 * (or a crash) sees either the complete old file or the complete new one.
 * Steps: create "path.tmp.PID.N" in the same directory (mode 0666 & ~umask),
 * write all bytes, fsync, close, rename over path, fsync the directory.
 * Returns 0, or RANDES_EIO with "path: step: strerror" in err; on failure
 * the temp file has been unlinked and the old file at path is untouched
 * (except that a failure of the final directory fsync happens after the
 * rename: the new file is then in place but may not survive a power cut).
 */
int fsutil_write_atomic(const char *path, const void *data, size_t len,
			char *err);

/*
 * The first half of fsutil_write_atomic, for callers that must do more
 * between the write and the rename (checkpoint.c keeps the previous
 * checkpoint): creates a temp file next to path, writes len bytes, fsyncs
 * and closes it, and returns its name in tmp (tmp_len bytes, at least
 * FSUTIL_PATH_MAX recommended).  On failure the temp file is unlinked and
 * tmp is set to "".  Returns 0 or RANDES_EIO.
 */
int fsutil_write_temp(const char *path, const void *data, size_t len,
		      char *tmp, size_t tmp_len, char *err);

/*
 * rename(from, to) followed by an fsync of the directory holding `to`, so
 * the new name survives a crash.  Both must be in the same directory.
 * Returns 0 or RANDES_EIO (if the rename failed nothing changed; if only
 * the directory fsync failed the rename has happened).
 */
int fsutil_rename_durable(const char *from, const char *to, char *err);

/*
 * fsync of a directory, so renames and creations in it are durable.
 * File systems that cannot sync directories (EINVAL, ENOTSUP) count as
 * success.  Returns 0 or RANDES_EIO.
 */
int fsutil_dir_sync(const char *dir, char *err);

/*
 * Reads the whole file at path into a malloc'd buffer (caller frees) with
 * a NUL byte after the data (not counted in *len).  The size is checked
 * against max_len with fstat before anything is allocated, and again while
 * reading (the file may grow).  Returns 0; RANDES_EIO if the file cannot
 * be opened or read (errno is kept, so ENOENT can be told apart);
 * RANDES_EDATA if it is larger than max_len or not a regular file;
 * RANDES_ENOMEM.  On failure *data is NULL and *len is 0.
 */
int fsutil_read_file(const char *path, size_t max_len, char **data,
		     size_t *len, char *err);

/*
 * 1 if something exists at path, 0 if it does not (ENOENT or ENOTDIR),
 * RANDES_EIO with a message if that cannot be determined (EACCES, ...).
 */
int fsutil_path_exists(const char *path, char *err);

/*
 * mkdir -p: creates path and any missing parents with mode (before umask).
 * Existing directories are fine; an existing non-directory is an error.
 * Returns 0 or RANDES_EIO naming the component that failed.  Directories
 * created before a failure are left in place.
 */
int fsutil_mkdir_p(const char *path, mode_t mode, char *err);

/* --- run-directory lock ------------------------------------------------ */

struct fsutil_lock {
	int fd;                        /* -1 when not held               */
	char path[FSUTIL_PATH_MAX];    /* DIR/randes.lock                */
};

/* Sets *lock to "not held" (fd = -1).  Safe to release afterwards. */
void fsutil_lock_init(struct fsutil_lock *lock);

/*
 * Takes the exclusive lock of run directory dir (lock must be initialised
 * and not held: RANDES_ASSERT): opens (creating)
 * dir/randes.lock, takes flock(LOCK_EX | LOCK_NB) on it and writes this
 * process's pid into it.  The lock belongs to the open file: it is released
 * by fsutil_lock_release, by exit, or by the death of the process (so a
 * stale lock file from a killed run never blocks; no pid guessing), and
 * the descriptor is close-on-exec.  Note: on NFS, Linux maps flock to POSIX
 * byte-range locks; that works across nodes with a working lock manager.
 * Returns 0; RANDES_EBUSY if another process holds it, with a message
 * naming the directory and the holder's pid (as written in the file);
 * RANDES_EIO if the lock file cannot be created or locked.  On failure
 * lock->fd stays -1.
 */
int fsutil_lock_acquire(struct fsutil_lock *lock, const char *dir, char *err);

/*
 * Releases a held lock (empties the pid in the file first, so a reader
 * sees no stale holder; the file itself stays, as unlinking it would race
 * with a process that has just opened it).  No-op when not held.
 */
void fsutil_lock_release(struct fsutil_lock *lock);

/* --- durable line appends (metrics.jsonl) -------------------------------- */

struct fsutil_appender {
	int fd;                        /* -1 when closed                 */
	off_t size;                    /* bytes known to be complete     */
	char path[FSUTIL_PATH_MAX];
};

/* Sets *a to closed (fd = -1). */
void fsutil_append_init(struct fsutil_appender *a);

/*
 * Opens path for appending (creating it, mode 0666 & ~umask); *a must be
 * initialised and closed (RANDES_ASSERT).  If the file
 * does not end with '\n' — a line torn by a crash or a full disk — the
 * incomplete last line is cut off with ftruncate, and its length is stored
 * in *dropped (may be NULL), so every line in the file stays complete.
 * Returns 0, or RANDES_EIO (a->fd stays -1).
 */
int fsutil_append_open(struct fsutil_appender *a, const char *path,
		       size_t *dropped, char *err);

/*
 * Appends line[0..len) and a '\n' unless the line already ends with one,
 * then fsyncs the file if sync is non-zero.  The line must not contain
 * other newlines (RANDES_ESTATE).  If the write fails part-way the partial
 * line is truncated away, so the file still ends at a line boundary.
 * Returns 0 or RANDES_EIO.
 */
int fsutil_append_line(struct fsutil_appender *a, const char *line,
		       size_t len, int sync, char *err);

/* Closes the file (no-op when closed). */
void fsutil_append_close(struct fsutil_appender *a);

/* One-shot open + append + close, for rare lines. */
int fsutil_append_file(const char *path, const char *line, size_t len,
		       int sync, char *err);

#endif
