/*
 * test-fsutil: atomic replacement (including a failure injected at every
 * fault point of a write, and a real short write under RLIMIT_FSIZE), mkdir
 * -p, the run-directory lock across processes, bounded reads, durable
 * appends with torn-line repair, and the fault countdown itself.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "testutil.h"

/* Number of entries in dir whose name contains needle. */
static int count_entries(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, needle) != NULL;
	closedir(d);
	return n;
}

/* How many mkdir calls fsutil_mkdir_p makes for path: one per component
 * (runs of '/' count once; the root is not made). */
static unsigned long mkdir_calls(const char *path)
{
	unsigned long n = 1;

	for (size_t i = 1; path[i]; i++)
		n += path[i] == '/' && path[i - 1] != '/' && path[i + 1] != 0;
	return n;
}

static char *slurp(const char *path)
{
	char *s = tu_read_file(path, NULL);

	ck_assert_msg(s != NULL, "cannot read %s", path);
	return s;
}

/* --- atomic write ------------------------------------------------------- */

START_TEST(fsutil_atomic_basic)
{
	const char *dir = tu_mkdtemp();
	char path[4200], err[RANDES_ERR_LEN];
	char *s;

	snprintf(path, sizeof(path), "%s/f.txt", dir);
	ck_assert_int_eq(fsutil_write_atomic(path, "hello", 5, err), 0);
	s = slurp(path);
	ck_assert_str_eq(s, "hello");
	free(s);
	ck_assert_int_eq(fsutil_write_atomic(path, "bye", 3, err), 0);
	s = slurp(path);
	ck_assert_str_eq(s, "bye");
	free(s);
	ck_assert_int_eq(fsutil_write_atomic(path, "", 0, err), 0);
	s = slurp(path);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_int_eq(count_entries(dir, ".tmp."), 0);
	/* a directory that does not exist: EIO naming the temp file */
	snprintf(path, sizeof(path), "%s/no/such/f.txt", dir);
	ck_assert_int_eq(fsutil_write_atomic(path, "x", 1, err), RANDES_EIO);
	ck_assert_msg(strstr(err, "create temp file") != NULL, "%s", err);
	tu_rm_rf(dir);
}
END_TEST

/*
 * A failure at every fault point of an overwrite: the call fails with the
 * injected errno and a message, leaves no temp file, and the old content
 * stays — except after the rename, where only the directory fsync failed
 * and the new content is in place.
 */
START_TEST(fsutil_atomic_fault_every_point)
{
	const char *dir = tu_mkdtemp();
	static const int errs[2] = {ENOSPC, EIO};
	char path[4200], err[RANDES_ERR_LEN];
	unsigned long before, points;
	char *s;

	snprintf(path, sizeof(path), "%s/state", dir);
	ck_assert_int_eq(fsutil_write_atomic(path, "old", 3, err), 0);
	before = fsutil_fault_points();
	ck_assert_int_eq(fsutil_write_atomic(path, "old", 3, err), 0);
	points = fsutil_fault_points() - before;
	/* open, write, fsync, close, rename, fsync-dir */
	ck_assert_uint_eq(points, 6);
	for (int e = 0; e < 2; e++) {
		for (unsigned long n = 1; n <= points; n++) {
			const char *op;
			int rc;
			fsutil_fault_countdown(n, errs[e]);
			errno = 0;
			rc = fsutil_write_atomic(path, "new!", 4, err);
			op = fsutil_fault_fired();
			ck_assert_msg(op != NULL, "point %lu did not fire", n);
			ck_assert_msg(rc == RANDES_EIO, "point %lu (%s): rc %d",
				      n, op, rc);
			ck_assert_int_eq(errno, errs[e]);
			ck_assert_msg(strstr(err, strerror(errs[e])) != NULL,
				      "%s", err);
			ck_assert_int_eq(count_entries(dir, ".tmp."), 0);
			s = slurp(path);
			if (strcmp(op, "fsync-dir") == 0)
				ck_assert_str_eq(s, "new!");
			else
				ck_assert_msg(strcmp(s, "old") == 0,
					      "point %lu (%s): '%s'", n, op, s);
			free(s);
			ck_assert_int_eq(
				fsutil_write_atomic(path, "old", 3, err), 0);
		}
	}
	/* past the last point: nothing fires, the write succeeds */
	fsutil_fault_countdown(points + 1, EIO);
	ck_assert_int_eq(fsutil_write_atomic(path, "new!", 4, err), 0);
	ck_assert(fsutil_fault_fired() == NULL);
	fsutil_fault_countdown(0, 0);
	tu_rm_rf(dir);
}
END_TEST

/* A real short write: RLIMIT_FSIZE lets the first bytes through, then
 * write() fails with EFBIG.  In a child, so the limit dies with it. */
START_TEST(fsutil_atomic_short_write)
{
	const char *dir = tu_mkdtemp();
	char path[4200], err[RANDES_ERR_LEN], big[4096];
	pid_t pid;
	int status;
	char *s;

	snprintf(path, sizeof(path), "%s/state", dir);
	ck_assert_int_eq(fsutil_write_atomic(path, "old", 3, err), 0);
	memset(big, 'x', sizeof(big));
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {1000, 1000};
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		if (fsutil_write_atomic(path, big, sizeof(big), err) !=
		    RANDES_EIO)
			_exit(11);
		if (errno != EFBIG)
			_exit(12);
		_exit(0);
	}
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
	s = slurp(path);
	ck_assert_str_eq(s, "old");
	free(s);
	ck_assert_int_eq(count_entries(dir, ".tmp."), 0);
	tu_rm_rf(dir);
}
END_TEST

/* --- mkdir -p / exists ---------------------------------------------------- */

START_TEST(fsutil_mkdir_p_cases)
{
	const char *dir = tu_mkdtemp();
	char path[4200], err[RANDES_ERR_LEN];
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b//c/", dir);
	ck_assert_int_eq(fsutil_mkdir_p(path, 0777, err), 0);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	ck_assert(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	ck_assert_int_eq(fsutil_mkdir_p(path, 0777, err), 0); /* exists */
	ck_assert_int_eq(fsutil_path_exists(path, err), 1);
	/* a file in the way */
	tu_write_file(dir, "file", "x", 1);
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	ck_assert_int_eq(fsutil_mkdir_p(path, 0777, err), RANDES_EIO);
	ck_assert_msg(strstr(err, "/file") != NULL, "%s", err);
	ck_assert_int_eq(fsutil_path_exists(path, err), 0); /* ENOTDIR */
	snprintf(path, sizeof(path), "%s/file", dir);
	ck_assert_int_eq(fsutil_mkdir_p(path, 0777, err), RANDES_EIO);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
	/* an injected failure names the component */
	snprintf(path, sizeof(path), "%s/x/y", dir);
	/* every component ok but the last, "x/y" */
	fsutil_fault_countdown(mkdir_calls(path), EROFS);
	ck_assert_int_eq(fsutil_mkdir_p(path, 0777, err), RANDES_EIO);
	ck_assert_msg(strstr(err, "/x/y: mkdir") != NULL, "%s", err);
	ck_assert_int_eq(errno, EROFS);
	fsutil_fault_countdown(0, 0);
	ck_assert_int_eq(fsutil_path_exists(path, err), 0);
	snprintf(path, sizeof(path), "%s/nothing", dir);
	ck_assert_int_eq(fsutil_path_exists(path, err), 0);
	ck_assert_int_eq(fsutil_mkdir_p("", 0777, err), RANDES_EIO);
	tu_rm_rf(dir);
}
END_TEST

/* --- lock --------------------------------------------------------------- */

START_TEST(fsutil_lock_exclusive)
{
	const char *dir = tu_mkdtemp();
	char err[RANDES_ERR_LEN], want[64], d[4096];
	struct fsutil_lock a, b;
	int go[2], ready[2], status;
	pid_t child;
	char c;

	snprintf(d, sizeof(d), "%s", dir);
	fsutil_lock_init(&a);
	fsutil_lock_init(&b);
	ck_assert(pipe(go) == 0 && pipe(ready) == 0);
	child = fork();
	ck_assert(child >= 0);
	if (child == 0) {
		struct fsutil_lock l;
		fsutil_lock_init(&l);
		if (fsutil_lock_acquire(&l, d, NULL) != 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		/* hold the lock until told to go (or killed) */
		if (read(go[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	ck_assert(read(ready[0], &c, 1) == 1);

	/* the parent is refused, with the holder's pid in the message */
	ck_assert_int_eq(fsutil_lock_acquire(&a, d, err), RANDES_EBUSY);
	snprintf(want, sizeof(want), "pid %ld", (long)child);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_msg(strstr(err, d) != NULL, "%s", err);
	ck_assert_int_eq(a.fd, -1);

	/* the holder dies without releasing: the lock is free */
	kill(child, SIGKILL);
	ck_assert(waitpid(child, &status, 0) == child);
	ck_assert(WIFSIGNALED(status));
	ck_assert_msg(fsutil_lock_acquire(&a, d, err) == 0, "%s", err);
	{
		char path[4200];
		char *s;
		snprintf(path, sizeof(path), "%s/%s", d, FSUTIL_LOCK_NAME);
		s = slurp(path);
		ck_assert_int_eq(strtol(s, NULL, 10), (long)getpid());
		free(s);
	}
	/* a second open in the same process conflicts too */
	ck_assert_int_eq(fsutil_lock_acquire(&b, d, err), RANDES_EBUSY);
	snprintf(want, sizeof(want), "pid %ld", (long)getpid());
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	fsutil_lock_release(&a);
	fsutil_lock_release(&a); /* no-op */
	ck_assert_msg(fsutil_lock_acquire(&b, d, err) == 0, "%s", err);
	fsutil_lock_release(&b);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	/* a run directory that does not exist */
	{
		char path[4200];
		snprintf(path, sizeof(path), "%s/missing", d);
		ck_assert_int_eq(fsutil_lock_acquire(&a, path, err),
				 RANDES_EIO);
	}
	tu_rm_rf(d);
}
END_TEST

/* --- read_file ------------------------------------------------------------ */

START_TEST(fsutil_read_file_cases)
{
	const char *dir = tu_mkdtemp();
	char err[RANDES_ERR_LEN], path[4200], d[4096];
	char *data;
	size_t len;

	snprintf(d, sizeof(d), "%s", dir);
	snprintf(path, sizeof(path), "%s", tu_write_file(d, "f", "0123456789",
							 10));
	ck_assert_int_eq(fsutil_read_file(path, 10, &data, &len, err), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(data, "0123456789"); /* NUL-terminated */
	free(data);
	/* over the limit: refused before reading */
	ck_assert_int_eq(fsutil_read_file(path, 9, &data, &len, err),
			 RANDES_EDATA);
	ck_assert(data == NULL && len == 0);
	ck_assert_msg(strstr(err, "10 bytes") != NULL, "%s", err);
	/* empty */
	snprintf(path, sizeof(path), "%s", tu_write_file(d, "e", "", 0));
	ck_assert_int_eq(fsutil_read_file(path, 0, &data, &len, err), 0);
	ck_assert_uint_eq(len, 0);
	free(data);
	/* missing: EIO with errno ENOENT */
	snprintf(path, sizeof(path), "%s/missing", d);
	ck_assert_int_eq(fsutil_read_file(path, 100, &data, &len, err),
			 RANDES_EIO);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	/* a directory */
	ck_assert_int_eq(fsutil_read_file(d, 100, &data, &len, err),
			 RANDES_EDATA);
	tu_rm_rf(d);
}
END_TEST

/* --- appends ------------------------------------------------------------- */

START_TEST(fsutil_append_lines)
{
	const char *dir = tu_mkdtemp();
	char err[RANDES_ERR_LEN], path[4200];
	struct fsutil_appender a;
	size_t dropped = 99;
	char *s;

	snprintf(path, sizeof(path), "%s/metrics.jsonl", dir);
	fsutil_append_init(&a);
	ck_assert_int_eq(fsutil_append_open(&a, path, &dropped, err), 0);
	ck_assert_uint_eq(dropped, 0);
	ck_assert_int_eq(fsutil_append_line(&a, "{\"g\":0}", 7, 1, err), 0);
	ck_assert_int_eq(fsutil_append_line(&a, "{\"g\":1}\n", 8, 0, err), 0);
	/* embedded newline refused, nothing written */
	ck_assert_int_eq(fsutil_append_line(&a, "a\nb", 3, 0, err),
			 RANDES_ESTATE);
	/* an injected write failure leaves the file at a line boundary */
	fsutil_fault_countdown(1, ENOSPC);
	ck_assert_int_eq(fsutil_append_line(&a, "{\"g\":2}", 7, 1, err),
			 RANDES_EIO);
	ck_assert_msg(strstr(err, strerror(ENOSPC)) != NULL, "%s", err);
	/* an fsync failure: the line is there, the call says so */
	fsutil_fault_countdown(2, EIO);
	ck_assert_int_eq(fsutil_append_line(&a, "{\"g\":2}", 7, 1, err),
			 RANDES_EIO);
	ck_assert_str_eq(fsutil_fault_fired(), "fsync");
	fsutil_fault_countdown(0, 0);
	fsutil_append_close(&a);
	s = slurp(path);
	ck_assert_str_eq(s, "{\"g\":0}\n{\"g\":1}\n{\"g\":2}\n");
	free(s);

	/* a torn last line (crash mid-write) is cut at the next open */
	{
		FILE *f = fopen(path, "ab");
		ck_assert(f && fputs("{\"g\":3, \"tor", f) >= 0 &&
			  fclose(f) == 0);
	}
	ck_assert_int_eq(fsutil_append_open(&a, path, &dropped, err), 0);
	ck_assert_uint_eq(dropped, 12);
	ck_assert_int_eq(fsutil_append_line(&a, "{\"g\":3}", 7, 1, err), 0);
	fsutil_append_close(&a);
	s = slurp(path);
	ck_assert_str_eq(s, "{\"g\":0}\n{\"g\":1}\n{\"g\":2}\n{\"g\":3}\n");
	free(s);

	/* a file that is one torn line: emptied */
	tu_write_file(dir, "torn", "no newline at all", (size_t)-1);
	snprintf(path, sizeof(path), "%s/torn", dir);
	ck_assert_int_eq(fsutil_append_file(path, "x", 1, 0, err), 0);
	s = slurp(path);
	ck_assert_str_eq(s, "x\n");
	free(s);
	tu_rm_rf(dir);
}
END_TEST

/* A real short append under RLIMIT_FSIZE: the partial line is removed. */
START_TEST(fsutil_append_short_write)
{
	const char *dir = tu_mkdtemp();
	char err[RANDES_ERR_LEN], path[4200], line[300];
	pid_t pid;
	int status;
	char *s;

	snprintf(path, sizeof(path), "%s/m.jsonl", dir);
	ck_assert_int_eq(fsutil_append_file(path, "first", 5, 1, err), 0);
	memset(line, 'y', sizeof(line));
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {100, 100};
		struct fsutil_appender a;
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		fsutil_append_init(&a);
		if (fsutil_append_open(&a, path, NULL, err) != 0)
			_exit(11);
		if (fsutil_append_line(&a, line, sizeof(line), 1, err) !=
		    RANDES_EIO)
			_exit(12);
		_exit(errno == EFBIG ? 0 : 13);
	}
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
	s = slurp(path);
	ck_assert_str_eq(s, "first\n");
	free(s);
	tu_rm_rf(dir);
}
END_TEST

/* --- the hook itself -------------------------------------------------------- */

START_TEST(fsutil_fault_hook)
{
	const char *dir = tu_mkdtemp();
	char err[RANDES_ERR_LEN], path[4200];
	unsigned long p0;

	snprintf(path, sizeof(path), "%s/f", dir);
	/* each write-path system call passes exactly one point */
	p0 = fsutil_fault_points();
	ck_assert_int_eq(fsutil_mkdir_p(dir, 0777, err), 0);
	ck_assert_uint_eq(fsutil_fault_points() - p0, mkdir_calls(dir));
	/* fires once, at the n-th point, then stays quiet */
	fsutil_fault_countdown(3, EIO); /* open, write, fsync <- */
	ck_assert_int_eq(fsutil_write_atomic(path, "a", 1, err), RANDES_EIO);
	ck_assert_str_eq(fsutil_fault_fired(), "fsync");
	ck_assert_int_eq(fsutil_write_atomic(path, "a", 1, err), 0);
	ck_assert_str_eq(fsutil_fault_fired(), "fsync"); /* sticky */
	fsutil_fault_countdown(0, 0);
	ck_assert(fsutil_fault_fired() == NULL);

	/* from the environment */
	setenv("RANDES_FAULT", "5:ENOSPC", 1);
	ck_assert_int_eq(fsutil_fault_from_env(err), 0);
	ck_assert_int_eq(fsutil_write_atomic(path, "b", 1, err), RANDES_EIO);
	ck_assert_str_eq(fsutil_fault_fired(), "rename");
	ck_assert_int_eq(errno, ENOSPC);
	static const char *bad[] = {"0:EIO", "x:EIO", "3", "3:EWHAT", "-1:EIO",
				    "3:EIO "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("RANDES_FAULT", bad[i], 1);
		ck_assert_msg(fsutil_fault_from_env(err) == RANDES_EUSAGE,
			      "'%s' accepted", bad[i]);
		ck_assert(strstr(err, "RANDES_FAULT") != NULL);
		/* refused values leave the hook disarmed */
		ck_assert_int_eq(fsutil_write_atomic(path, "c", 1, err), 0);
	}
	unsetenv("RANDES_FAULT");
	ck_assert_int_eq(fsutil_fault_from_env(err), 0);
	tu_rm_rf(dir);
}
END_TEST

static Suite *fsutil_suite(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc;

	tc = tcase_create("fsutil:atomic");
	tcase_add_test(tc, fsutil_atomic_basic);
	tcase_add_test(tc, fsutil_atomic_fault_every_point);
	tcase_add_test(tc, fsutil_atomic_short_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("fsutil:dirs");
	tcase_add_test(tc, fsutil_mkdir_p_cases);
	suite_add_tcase(s, tc);

	tc = tcase_create("fsutil:lock");
	tcase_add_test(tc, fsutil_lock_exclusive);
	suite_add_tcase(s, tc);

	tc = tcase_create("fsutil:read");
	tcase_add_test(tc, fsutil_read_file_cases);
	suite_add_tcase(s, tc);

	tc = tcase_create("fsutil:append");
	tcase_add_test(tc, fsutil_append_lines);
	tcase_add_test(tc, fsutil_append_short_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("fsutil:fault");
	tcase_add_test(tc, fsutil_fault_hook);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fsutil_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
