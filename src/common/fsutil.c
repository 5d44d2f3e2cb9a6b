/*
 * fsutil: atomic writes, mkdir -p, the run-directory lock, bounded reads,
 * durable appends and the fault-injection countdown (see fsutil.h).
 *
 * Every system call that changes the file system goes through one of the
 * fs_* wrappers below, which first pass a fault point: that is how tests
 * simulate a full disk at exactly the n-th write, fsync or rename.  Cleanup
 * calls (unlink of a temp file, close after an error, the truncation that
 * removes a torn line) deliberately bypass the hook, as they must work for
 * the error path to be testable.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "err.h"

/* Writes are issued in pieces of at most this many bytes, so a large file
 * has several "write" fault points and no single call is huge. */
#define FSUTIL_WRITE_CHUNK ((size_t)1 << 20)

/* --- fault injection --------------------------------------------------- */

static unsigned long fault_points_passed;
static unsigned long fault_remaining; /* 0: disarmed */
static int fault_errno_value;
static const char *fault_fired_op;

void fsutil_fault_countdown(unsigned long n, int errno_value)
{
	fault_remaining = n;
	fault_errno_value = errno_value;
	fault_fired_op = NULL;
}

unsigned long fsutil_fault_points(void)
{
	return fault_points_passed;
}

const char *fsutil_fault_fired(void)
{
	return fault_fired_op;
}

/* Passes one fault point; returns 1 (with errno set) if it must fail. */
static int fault_hit(const char *op)
{
	fault_points_passed++;
	if (fault_remaining == 0)
		return 0;
	if (--fault_remaining > 0)
		return 0;
	fault_fired_op = op;
	errno = fault_errno_value;
	return 1;
}

int fsutil_fault_from_env(char *err)
{
	static const struct {
		const char *name;
		int value;
	} names[] = {
		{"ENOSPC", ENOSPC}, {"EIO", EIO},       {"EROFS", EROFS},
		{"EDQUOT", EDQUOT}, {"EACCES", EACCES},
	};
	const char *v = getenv("RANDES_FAULT");
	char *end = NULL;
	unsigned long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != ':' || n == 0 || v[0] == '-')
		goto fail;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(end + 1, names[i].name) == 0) {
			fsutil_fault_countdown(n, names[i].value);
			return 0;
		}
	}
fail:
	fsutil_fault_countdown(0, 0);
	return randes_errf(err, RANDES_EUSAGE,
			   "RANDES_FAULT='%s': expected N:ERRNAME with N >= 1 "
			   "and ERRNAME one of ENOSPC, EIO, EROFS, EDQUOT, "
			   "EACCES (e.g. 3:ENOSPC)",
			   v);
}

/* --- wrappers with a fault point ------------------------------------------ */

static int fs_open(const char *path, int flags, mode_t mode)
{
	if (fault_hit("open"))
		return -1;
	return open(path, flags, mode);
}

/* One write(2) call (may be partial); EINTR is retried. */
static ssize_t fs_write(int fd, const void *buf, size_t n)
{
	ssize_t r;

	if (fault_hit("write"))
		return -1;
	do
		r = write(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int fs_fsync(int fd)
{
	if (fault_hit("fsync"))
		return -1;
	return fsync(fd);
}

/* Always closes fd (a descriptor must not leak because of a simulated
 * fault); reports the injected or real error. */
static int fs_close(int fd)
{
	int hit = fault_hit("close");
	int r = close(fd);

	if (hit) {
		errno = fault_errno_value;
		return -1;
	}
	return r;
}

static int fs_rename(const char *from, const char *to)
{
	if (fault_hit("rename"))
		return -1;
	return rename(from, to);
}

static int fs_mkdir(const char *path, mode_t mode)
{
	if (fault_hit("mkdir"))
		return -1;
	return mkdir(path, mode);
}

static int fs_ftruncate(int fd, off_t len)
{
	if (fault_hit("ftruncate"))
		return -1;
	return ftruncate(fd, len);
}

/* Writes all n bytes in chunks; -1 with errno on the first failure. */
static int fs_write_all(int fd, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n > 0) {
		size_t want = n < FSUTIL_WRITE_CHUNK ? n : FSUTIL_WRITE_CHUNK;
		ssize_t r = fs_write(fd, p, want);
		if (r < 0)
			return -1;
		if (r == 0) { /* should not happen for regular files */
			errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The directory part of path ("." when there is none) into dir. */
static int path_dirname(const char *path, char *dir, size_t dir_len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		if (dir_len < 2)
			return -1;
		strcpy(dir, ".");
		return 0;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1; /* "/file" lives in "/" */
	if (n + 1 > dir_len)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/* --- whole files --------------------------------------------------------- */

int fsutil_dir_sync(const char *dir, char *err)
{
	int fd = -1, saved, rc;

	if (fault_hit("fsync-dir")) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: fsync of directory: %s",
				 dir, strerror(saved));
		goto fail;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO,
				 "%s: open of directory for fsync: %s", dir,
				 strerror(saved));
		goto fail;
	}
	if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: fsync of directory: %s",
				 dir, strerror(saved));
		goto fail;
	}
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

int fsutil_write_temp(const char *path, const void *data, size_t len,
		      char *tmp, size_t tmp_len, char *err)
{
	/* Distinguishes temp files of one process; never reused within it. */
	static unsigned long tmp_counter;
	int fd = -1, created = 0, saved = 0, rc;

	RANDES_ASSERT(tmp && tmp_len > 0);
	tmp[0] = '\0';
	/* O_EXCL on a name with our pid: a leftover of a dead process that
	 * had the same pid is skipped, never truncated under a live one. */
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		int n = snprintf(tmp, tmp_len, "%s.tmp.%ld.%lu", path,
				 (long)getpid(), tmp_counter++);
		if (n < 0 || (size_t)n >= tmp_len) {
			saved = ENAMETOOLONG;
			rc = randes_errf(err, RANDES_EIO,
					 "%s: path too long for a temp file",
					 path);
			goto fail;
		}
		fd = fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			     0666);
		if (fd < 0 && errno != EEXIST) {
			saved = errno;
			rc = randes_errf(err, RANDES_EIO,
					 "%s: create temp file: %s", tmp,
					 strerror(saved));
			goto fail;
		}
	}
	if (fd < 0) {
		saved = EEXIST;
		rc = randes_errf(err, RANDES_EIO,
				 "%s: no free temp file name (100 tried)",
				 path);
		goto fail;
	}
	created = 1;
	if (fs_write_all(fd, data, len) != 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: write: %s", tmp,
				 strerror(saved));
		goto fail;
	}
	if (fs_fsync(fd) != 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: fsync: %s", tmp,
				 strerror(saved));
		goto fail;
	}
	{
		int r = fs_close(fd);
		fd = -1; /* closed whatever close() returned */
		if (r != 0) {
			saved = errno;
			rc = randes_errf(err, RANDES_EIO, "%s: close: %s", tmp,
					 strerror(saved));
			goto fail;
		}
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	tmp[0] = '\0';
	errno = saved;
	return rc;
}

int fsutil_rename_durable(const char *from, const char *to, char *err)
{
	char dir[FSUTIL_PATH_MAX];
	int saved, rc;

	if (path_dirname(to, dir, sizeof(dir)) != 0) {
		saved = ENAMETOOLONG;
		rc = randes_errf(err, RANDES_EIO, "%s: path too long", to);
		goto fail;
	}
	if (fs_rename(from, to) != 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "rename %s -> %s: %s", from,
				 to, strerror(saved));
		goto fail;
	}
	rc = fsutil_dir_sync(dir, err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	return 0;
fail:
	errno = saved;
	return rc;
}

int fsutil_write_atomic(const char *path, const void *data, size_t len,
			char *err)
{
	char tmp[FSUTIL_PATH_MAX];
	int saved, rc;

	rc = fsutil_write_temp(path, data, len, tmp, sizeof(tmp), err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	rc = fsutil_rename_durable(tmp, path, err);
	if (rc < 0) {
		saved = errno;
		unlink(tmp); /* ENOENT if the rename itself went through */
		goto fail;
	}
	return 0;
fail:
	errno = saved;
	return rc;
}

int fsutil_read_file(const char *path, size_t max_len, char **data,
		     size_t *len, char *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap;
	int fd = -1, saved = 0, rc;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: cannot open: %s", path,
				 strerror(saved));
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: fstat: %s", path,
				 strerror(saved));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		rc = randes_errf(err, RANDES_EDATA, "%s: not a regular file",
				 path);
		goto fail;
	}
	if (st.st_size < 0 || (unsigned long long)st.st_size > max_len) {
		saved = EFBIG;
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: %lld bytes, more than the limit of %zu",
				 path, (long long)st.st_size, max_len);
		goto fail;
	}
	/* One spare byte beyond the size shows growth; one more for NUL. */
	cap = (size_t)st.st_size + 2;
	buf = malloc(cap);
	if (!buf) {
		saved = ENOMEM;
		rc = randes_errf(err, RANDES_ENOMEM,
				 "%s: out of memory for %zu bytes", path, cap);
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			rc = randes_errf(err, RANDES_EIO, "%s: read: %s", path,
					 strerror(saved));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max_len) {
			saved = EFBIG;
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: grew beyond the limit of %zu "
					 "bytes while being read",
					 path, max_len);
			goto fail;
		}
		if (n == cap - 1) { /* the file grew: make room */
			size_t ncap = cap * 2 < max_len + 2 ? cap * 2
							    : max_len + 2;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				saved = ENOMEM;
				rc = randes_errf(err, RANDES_ENOMEM,
						 "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = saved;
	return rc;
}

int fsutil_path_exists(const char *path, char *err)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return randes_errf(err, RANDES_EIO, "%s: stat: %s", path,
			   strerror(errno));
}

/* mkdir of one component; an existing directory is success. */
static int mkdir_one(const char *path, mode_t mode, char *err)
{
	struct stat st;
	int saved;

	if (fs_mkdir(path, mode) == 0)
		return 0;
	saved = errno;
	if (saved == EEXIST) {
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
		return randes_errf(err, RANDES_EIO,
				   "%s: exists and is not a directory", path);
	}
	errno = saved;
	return randes_errf(err, RANDES_EIO, "%s: mkdir: %s", path,
			   strerror(saved));
}

int fsutil_mkdir_p(const char *path, mode_t mode, char *err)
{
	char buf[FSUTIL_PATH_MAX];
	size_t n = strlen(path);
	int rc;

	if (n == 0 || n >= sizeof(buf)) {
		errno = n ? ENAMETOOLONG : ENOENT;
		rc = randes_errf(err, RANDES_EIO, "mkdir -p '%s': %s", path,
				 n ? "path too long" : "empty path");
		goto fail;
	}
	memcpy(buf, path, n + 1);
	/* Each prefix ending before a '/' (skipping the root) in turn. */
	for (size_t i = 1; i < n; i++) {
		if (buf[i] != '/' || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		rc = mkdir_one(buf, mode, err);
		buf[i] = '/';
		if (rc < 0)
			goto fail;
	}
	rc = mkdir_one(buf, mode, err);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	return rc;
}

/* --- run-directory lock ------------------------------------------------ */

void fsutil_lock_init(struct fsutil_lock *lock)
{
	lock->fd = -1;
	lock->path[0] = '\0';
}

int fsutil_lock_acquire(struct fsutil_lock *lock, const char *dir, char *err)
{
	char pid[32];
	int fd = -1, saved = 0, rc, n;

	RANDES_ASSERT(lock->fd < 0);
	n = snprintf(lock->path, sizeof(lock->path), "%s/%s", dir,
		     FSUTIL_LOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(lock->path)) {
		saved = ENAMETOOLONG;
		rc = randes_errf(err, RANDES_EIO, "%s: path too long", dir);
		goto fail;
	}
	fd = fs_open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO,
				 "%s: cannot create the run-directory lock: "
				 "%s",
				 lock->path, strerror(saved));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		saved = errno;
		if (saved == EWOULDBLOCK) {
			char holder[32] = "";
			ssize_t r = pread(fd, holder, sizeof(holder) - 1, 0);
			long hpid = 0;
			if (r > 0) {
				holder[r] = '\0';
				hpid = strtol(holder, NULL, 10);
			}
			if (hpid > 0)
				rc = randes_errf(
					err, RANDES_EBUSY,
					"run directory %s is in use by another "
					"randes process (pid %ld holds %s); "
					"wait for it to finish, stop it, or "
					"use another --run-dir",
					dir, hpid, lock->path);
			else
				rc = randes_errf(
					err, RANDES_EBUSY,
					"run directory %s is in use by another "
					"randes process (pid not yet written "
					"to %s); wait for it to finish, stop "
					"it, or use another --run-dir",
					dir, lock->path);
		} else {
			rc = randes_errf(err, RANDES_EIO, "%s: flock: %s",
					 lock->path, strerror(saved));
		}
		goto fail;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (fs_ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 ||
	    fs_write_all(fd, pid, (size_t)n) != 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO,
				 "%s: cannot write the pid into the lock "
				 "file: %s",
				 lock->path, strerror(saved));
		goto fail;
	}
	lock->fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd); /* releases the flock if we had it */
	lock->fd = -1;
	errno = saved;
	return rc;
}

void fsutil_lock_release(struct fsutil_lock *lock)
{
	int saved = errno;

	if (lock->fd < 0)
		return;
	/* Best effort: an empty lock file reads as "no holder". */
	if (ftruncate(lock->fd, 0) != 0) {
		/* nothing to do: the flock still goes with the close */
	}
	close(lock->fd);
	lock->fd = -1;
	errno = saved;
}

/* --- durable line appends -------------------------------------------------- */

void fsutil_append_init(struct fsutil_appender *a)
{
	a->fd = -1;
	a->size = 0;
	a->path[0] = '\0';
}

/* Offset just past the last '\n' in fd's first `size` bytes (0 if none). */
static int last_line_end(int fd, off_t size, off_t *end)
{
	char buf[4096];
	off_t pos = size;

	while (pos > 0) {
		size_t want = pos < (off_t)sizeof(buf) ? (size_t)pos
						       : sizeof(buf);
		ssize_t r = pread(fd, buf, want, pos - (off_t)want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)want) {
			if (r >= 0)
				errno = EIO;
			return -1;
		}
		for (size_t i = want; i > 0; i--) {
			if (buf[i - 1] == '\n') {
				*end = pos - (off_t)want + (off_t)i;
				return 0;
			}
		}
		pos -= (off_t)want;
	}
	*end = 0;
	return 0;
}

int fsutil_append_open(struct fsutil_appender *a, const char *path,
		       size_t *dropped, char *err)
{
	struct stat st;
	off_t end;
	int fd = -1, saved = 0, rc, n;

	RANDES_ASSERT(a->fd < 0);
	if (dropped)
		*dropped = 0;
	n = snprintf(a->path, sizeof(a->path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(a->path)) {
		saved = ENAMETOOLONG;
		rc = randes_errf(err, RANDES_EIO, "%s: path too long", path);
		goto fail;
	}
	fd = fs_open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: cannot open: %s", path,
				 strerror(saved));
		goto fail;
	}
	if (fstat(fd, &st) != 0 || last_line_end(fd, st.st_size, &end) != 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO, "%s: cannot read: %s", path,
				 strerror(saved));
		goto fail;
	}
	if (end != st.st_size) {
		if (fs_ftruncate(fd, end) != 0) {
			saved = errno;
			rc = randes_errf(err, RANDES_EIO,
					 "%s: cannot cut the torn last line: "
					 "%s",
					 path, strerror(saved));
			goto fail;
		}
		if (dropped)
			*dropped = (size_t)(st.st_size - end);
	}
	a->fd = fd;
	a->size = end;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	a->fd = -1;
	errno = saved;
	return rc;
}

int fsutil_append_line(struct fsutil_appender *a, const char *line,
		       size_t len, int sync, char *err)
{
	static const char newline = '\n';
	int add_nl = len == 0 || line[len - 1] != '\n';
	size_t body = add_nl ? len : len - 1;
	size_t total = len + (size_t)add_nl, done = 0;
	int saved = 0, rc;

	RANDES_ASSERT(a->fd >= 0);
	if (memchr(line, '\n', body) != NULL) {
		saved = EINVAL;
		rc = randes_errf(err, RANDES_ESTATE,
				 "%s: refusing to append a line that "
				 "contains a newline",
				 a->path);
		goto fail;
	}
	/* One writev for line + '\n' in the normal case; the loop only
	 * matters after a short write. */
	while (done < total) {
		struct iovec iov[2];
		int cnt = 0;
		ssize_t r;
		if (done < len) {
			iov[cnt].iov_base = (void *)(line + done);
			iov[cnt].iov_len = len - done;
			cnt++;
		}
		if (add_nl) {
			iov[cnt].iov_base = (void *)&newline;
			iov[cnt].iov_len = 1;
			cnt++;
		}
		if (fault_hit("write")) {
			r = -1;
		} else {
			do
				r = writev(a->fd, iov, cnt);
			while (r < 0 && errno == EINTR);
		}
		if (r <= 0) {
			saved = r < 0 ? errno : EIO;
			rc = randes_errf(err, RANDES_EIO, "%s: write: %s",
					 a->path, strerror(saved));
			/* Cut the partial line so the file ends at a line
			 * boundary; bypasses the fault hook on purpose. */
			if (ftruncate(a->fd, a->size) != 0) {
				/* the torn line is repaired at next open */
			}
			goto fail;
		}
		done += (size_t)r;
	}
	a->size += (off_t)total;
	if (sync && fs_fsync(a->fd) != 0) {
		saved = errno;
		rc = randes_errf(err, RANDES_EIO,
				 "%s: fsync: %s (the line is written but may "
				 "not be durable)",
				 a->path, strerror(saved));
		goto fail;
	}
	return 0;
fail:
	errno = saved;
	return rc;
}

void fsutil_append_close(struct fsutil_appender *a)
{
	int saved = errno;

	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	errno = saved;
}

int fsutil_append_file(const char *path, const char *line, size_t len,
		       int sync, char *err)
{
	struct fsutil_appender a;
	int saved, rc;

	fsutil_append_init(&a);
	rc = fsutil_append_open(&a, path, NULL, err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	rc = fsutil_append_line(&a, line, len, sync, err);
	if (rc < 0) {
		saved = errno;
		goto fail;
	}
	fsutil_append_close(&a);
	return 0;
fail:
	fsutil_append_close(&a);
	errno = saved;
	return rc;
}
