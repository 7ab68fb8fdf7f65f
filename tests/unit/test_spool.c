// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for exporter/spool.c: order, sequence, verification, bounds, quarantine. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "podmeter/spool.h"

#define ERRLEN	 512
#define NO_BOUND (1ull << 40)

/* One fresh spool directory per test: <tmpdir>/spool. */
static char tmpdir[64];
static char dir[128];

static int test_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/podmeter-test-spool-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* a level that does not exist yet: open makes it */
	snprintf(dir, sizeof(dir), "%s/a/spool", tmpdir);
	return 0;
}

static int test_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

static void path_of(char *buf, size_t len, const char *sub, uint64_t seq, const char *suffix)
{
	snprintf(buf, len, "%s/%s%s%020llu%s", dir, sub, sub[0] ? "/" : "", (unsigned long long)seq,
		 suffix);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

static struct pm_spool *open_spool(uint64_t max_bytes)
{
	struct pm_spool *s = NULL;
	char err[ERRLEN] = "";
	int ret;

	ret = spool__open(&s, dir, max_bytes, err, sizeof(err));
	if (ret)
		fail_msg("spool__open: %d: %s", ret, err);
	return s;
}

/* Put the next report, whose payload is "report <seq>" padded with 'x' to @len. */
static uint64_t put_next(struct pm_spool *s, size_t len)
{
	uint64_t seq = spool__next_seq(s);
	char err[ERRLEN] = "", buf[4096];
	int n;

	assert_true(len < sizeof(buf));
	n = snprintf(buf, sizeof(buf), "report %llu", (unsigned long long)seq);
	memset(buf + n, 'x', sizeof(buf) - n);
	/* 1: stored after dropping older ones, which the tests count themselves */
	if (spool__put(s, seq, buf, len, err, sizeof(err)) < 0)
		fail_msg("spool__put %llu: %s", (unsigned long long)seq, err);
	return seq;
}

/* The oldest must be @want, with the payload put_next() gave it. */
static void assert_oldest(struct pm_spool *s, uint64_t want)
{
	char expect[64];
	uint64_t seq = 0;
	void *p = NULL;
	size_t len = 0;
	int n;

	assert_int_equal(spool__oldest(s, &seq, &p, &len), 0);
	assert_int_equal(seq, want);
	n = snprintf(expect, sizeof(expect), "report %llu", (unsigned long long)want);
	assert_true(len >= (size_t)n);
	assert_memory_equal(p, expect, n);
	free(p);
}

static void assert_empty(struct pm_spool *s)
{
	uint64_t seq;
	void *p;
	size_t len;

	assert_int_equal(spool__oldest(s, &seq, &p, &len), -ENOENT);
}

static void assert_msg_has(const char *msg, const char *sub)
{
	if (!strstr(msg, sub))
		fail_msg("error \"%s\" lacks \"%s\"", msg, sub);
}

/* Rewrite @len bytes at @off of @path (or cut it to @off when @bytes is NULL). */
static void tamper(const char *path, off_t off, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	if (bytes)
		assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
	else
		assert_int_equal(ftruncate(fd, off), 0);
	close(fd);
}

static void flip_byte(const char *path, off_t off)
{
	unsigned char b;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void copy_file(const char *from, const char *to)
{
	char buf[8192];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	close(out);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_round_trip(void **state)
{
	struct pm_spool_stats st;
	struct pm_spool *s;
	char path[PATH_MAX];
	void *p;
	size_t len;
	char err[ERRLEN];

	(void)state;
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__next_seq(s), 1);
	assert_empty(s);
	assert_int_equal(put_next(s, 100), 1);
	assert_int_equal(spool__next_seq(s), 2);

	/* on disk in the documented format, readable on its own */
	path_of(path, sizeof(path), "", 1, PM_SPOOL_SUFFIX);
	assert_int_equal(spool__read_file(path, &p, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 100);
	assert_memory_equal(p, "report 1xxx", 11);
	free(p);

	spool__stats(s, &st);
	assert_int_equal(st.written, 1);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, PM_SPOOL_HEADER + 100);

	assert_oldest(s, 1);
	assert_oldest(s, 1); /* still there until removed */
	assert_int_equal(spool__remove(s, 1), 0);
	assert_false(exists(path));
	assert_int_equal(spool__remove(s, 1), -ENOENT);
	assert_empty(s);
	spool__stats(s, &st);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.bytes, 0);
	spool__close(s);
}

static void test_empty_payload(void **state)
{
	struct pm_spool *s;
	char err[ERRLEN];
	uint64_t seq;
	void *p;
	size_t len = 1;

	(void)state;
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__put(s, 1, "", 0, err, sizeof(err)), 0);
	assert_int_equal(spool__oldest(s, &seq, &p, &len), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(len, 0);
	free(p);
	spool__close(s);
}

static void test_oldest_first(void **state)
{
	struct pm_spool *s;
	uint64_t i;

	(void)state;
	s = open_spool(NO_BOUND);
	for (i = 1; i <= 12; i++)
		assert_int_equal(put_next(s, 20 + i), i);
	for (i = 1; i <= 12; i++) {
		assert_oldest(s, i);
		assert_int_equal(spool__remove(s, i), 0);
	}
	assert_empty(s);
	spool__close(s);

	/* and in the same order after a reopen: the scan sorts */
	s = open_spool(NO_BOUND);
	for (i = 13; i <= 20; i++)
		assert_int_equal(put_next(s, 30), i);
	spool__close(s);
	s = open_spool(NO_BOUND);
	for (i = 13; i <= 20; i++) {
		assert_oldest(s, i);
		assert_int_equal(spool__remove(s, i), 0);
	}
	spool__close(s);
}

static void test_out_of_sequence(void **state)
{
	struct pm_spool *s;
	char err[ERRLEN] = "";

	(void)state;
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__put(s, 2, "x", 1, err, sizeof(err)), -EINVAL);
	assert_msg_has(err, "expected 1");
	assert_int_equal(spool__next_seq(s), 1);
	spool__close(s);
}

static void test_seq_persists(void **state)
{
	char path[PATH_MAX], from[PATH_MAX], text[64];
	struct pm_spool *s;

	(void)state;
	s = open_spool(NO_BOUND);
	put_next(s, 10);
	put_next(s, 10);
	spool__close(s);

	/* reports still there */
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__next_seq(s), 3);
	assert_int_equal(spool__remove(s, 1), 0);
	assert_int_equal(spool__remove(s, 2), 0);
	spool__close(s);

	/* all sent: the seq file alone remembers */
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__next_seq(s), 3);
	assert_int_equal(put_next(s, 10), 3);
	spool__close(s);
	snprintf(path, sizeof(path), "%s/seq", dir);
	read_text(path, text, sizeof(text));
	assert_string_equal(text, "3\n");

	/* a report above the seq file (a crash between the two): numbered on from it */
	path_of(from, sizeof(from), "", 3, PM_SPOOL_SUFFIX);
	path_of(path, sizeof(path), "", 41, PM_SPOOL_SUFFIX);
	copy_file(from, path);
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__next_seq(s), 42);
	assert_oldest(s, 3);
	assert_int_equal(spool__remove(s, 3), 0);
	spool__close(s);
	snprintf(path, sizeof(path), "%s/seq", dir);
	read_text(path, text, sizeof(text));
	assert_string_equal(text, "41\n");

	/* no seq file at all, but the report */
	unlink(path);
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__next_seq(s), 42);
	spool__close(s);
}

static void test_seq_file_garbage(void **state)
{
	char path[PATH_MAX], err[ERRLEN] = "";
	struct pm_spool *s = NULL;

	(void)state;
	s = open_spool(NO_BOUND);
	spool__close(s);
	snprintf(path, sizeof(path), "%s/seq", dir);
	write_text(path, "twelve\n");
	assert_int_equal(spool__open(&s, dir, NO_BOUND, err, sizeof(err)), -EINVAL);
	assert_msg_has(err, "/seq: not a sequence number");
}

static void test_read_file_checks(void **state)
{
	struct {
		const char *what;
		off_t off;	   /* where to tamper */
		const char *bytes; /* NULL: truncate at off */
		const char *msg;
	} cases[] = {
		{ "flipped payload byte", PM_SPOOL_HEADER + 5, "",
		  "CRC mismatch: torn or corrupt" },
		{ "truncated payload", PM_SPOOL_HEADER + 40, NULL,
		  "length says 100, file holds 40" },
		{ "truncated header", 7, NULL, "less than the 16-byte header" },
		{ "bad magic", 0, "PMR9", "bad magic" },
	};
	char path[PATH_MAX], err[ERRLEN];
	struct pm_spool *s;
	void *p = NULL;
	size_t i, len;

	(void)state;
	s = open_spool(NO_BOUND);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		put_next(s, 100);
	spool__close(s);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path_of(path, sizeof(path), "", i + 1, PM_SPOOL_SUFFIX);
		if (!cases[i].bytes)
			tamper(path, cases[i].off, NULL, 0);
		else if (cases[i].bytes[0])
			tamper(path, cases[i].off, cases[i].bytes, strlen(cases[i].bytes));
		else
			flip_byte(path, cases[i].off);
		err[0] = '\0';
		if (spool__read_file(path, &p, &len, err, sizeof(err)) != -EINVAL)
			fail_msg("%s: not detected", cases[i].what);
		assert_msg_has(err, cases[i].msg);
		assert_msg_has(err, path);
	}
	path_of(path, sizeof(path), "", 99, PM_SPOOL_SUFFIX);
	assert_int_equal(spool__read_file(path, &p, &len, err, sizeof(err)), -ENOENT);
	assert_msg_has(err, "No such file");
}

static void test_open_quarantines(void **state)
{
	char path[PATH_MAX];
	struct pm_spool_stats st;
	struct pm_spool *s;

	(void)state;
	s = open_spool(NO_BOUND);
	put_next(s, 100);
	put_next(s, 100);
	put_next(s, 100);
	spool__close(s);
	path_of(path, sizeof(path), "", 1, PM_SPOOL_SUFFIX);
	flip_byte(path, PM_SPOOL_HEADER + 50);
	path_of(path, sizeof(path), "", 3, PM_SPOOL_SUFFIX);
	tamper(path, PM_SPOOL_HEADER + 60, NULL, 0);

	s = open_spool(NO_BOUND);
	spool__stats(s, &st);
	assert_int_equal(st.corrupt, 2);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, PM_SPOOL_HEADER + 100);
	path_of(path, sizeof(path), "corrupt", 1, PM_SPOOL_SUFFIX);
	assert_true(exists(path));
	path_of(path, sizeof(path), "corrupt", 3, PM_SPOOL_SUFFIX);
	assert_true(exists(path));
	path_of(path, sizeof(path), "", 1, PM_SPOOL_SUFFIX);
	assert_false(exists(path));
	/* the quarantined 3 still counts for numbering */
	assert_int_equal(spool__next_seq(s), 4);
	assert_oldest(s, 2);
	assert_int_equal(spool__remove(s, 2), 0);
	assert_empty(s);
	spool__close(s);
}

static void test_oldest_quarantines(void **state)
{
	char path[PATH_MAX];
	struct pm_spool_stats st;
	struct pm_spool *s;

	(void)state;
	s = open_spool(NO_BOUND);
	put_next(s, 100);
	put_next(s, 100);
	put_next(s, 100);
	path_of(path, sizeof(path), "", 1, PM_SPOOL_SUFFIX);
	flip_byte(path, PM_SPOOL_HEADER + 99);
	path_of(path, sizeof(path), "", 2, PM_SPOOL_SUFFIX);
	tamper(path, 20, NULL, 0);

	assert_oldest(s, 3);
	spool__stats(s, &st);
	assert_int_equal(st.corrupt, 2);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, PM_SPOOL_HEADER + 100);
	path_of(path, sizeof(path), "corrupt", 1, PM_SPOOL_SUFFIX);
	assert_true(exists(path));
	path_of(path, sizeof(path), "corrupt", 2, PM_SPOOL_SUFFIX);
	assert_true(exists(path));
	spool__close(s);
}

static void test_oldest_skips_vanished(void **state)
{
	char path[PATH_MAX];
	struct pm_spool_stats st;
	struct pm_spool *s;

	(void)state;
	s = open_spool(NO_BOUND);
	put_next(s, 100);
	put_next(s, 100);
	path_of(path, sizeof(path), "", 1, PM_SPOOL_SUFFIX);
	assert_int_equal(unlink(path), 0);
	assert_oldest(s, 2);
	spool__stats(s, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(st.bytes, PM_SPOOL_HEADER + 100);
	spool__close(s);
}

static void test_bound_drops_oldest(void **state)
{
	const uint64_t one = PM_SPOOL_HEADER + 100;
	char path[PATH_MAX], err[ERRLEN] = "", big[4 * 116];
	struct pm_spool_stats st;
	struct pm_spool *s;
	uint64_t i;

	(void)state;
	s = open_spool(3 * one);
	for (i = 1; i <= 3; i++)
		put_next(s, 100);
	/* over the bound: stored, the oldest dropped, and said so */
	memset(big, 'x', sizeof(big));
	assert_int_equal(spool__put(s, 4, big, 100, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "dropped the 1 oldest"));
	put_next(s, 100);
	spool__stats(s, &st);
	assert_int_equal(st.written, 5);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.bytes, 3 * one);
	path_of(path, sizeof(path), "", 1, PM_SPOOL_SUFFIX);
	assert_false(exists(path));
	path_of(path, sizeof(path), "", 2, PM_SPOOL_SUFFIX);
	assert_false(exists(path));
	assert_oldest(s, 3);

	/* a larger one makes room for itself: two go */
	put_next(s, 200);
	spool__stats(s, &st);
	assert_int_equal(st.dropped, 4);
	assert_int_equal(st.files, 2);
	assert_oldest(s, 5);

	/* larger than the whole bound: not stored, the number used anyway */
	memset(big, 'y', sizeof(big));
	assert_int_equal(spool__put(s, 7, big, sizeof(big), err, sizeof(err)), -EFBIG);
	assert_msg_has(err, "report 7");
	assert_msg_has(err, "not stored");
	assert_int_equal(spool__next_seq(s), 8);
	spool__stats(s, &st);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.files, 2);
	assert_oldest(s, 5);
	spool__close(s);

	s = open_spool(3 * one);
	assert_int_equal(spool__next_seq(s), 8);
	spool__close(s);
}

static void test_reject(void **state)
{
	char path[PATH_MAX], text[256];
	struct pm_spool_stats st;
	struct pm_spool *s;

	(void)state;
	s = open_spool(NO_BOUND);
	put_next(s, 100);
	put_next(s, 100);
	assert_int_equal(spool__reject(s, 1, "HTTP 400: bad report"), 0);
	path_of(path, sizeof(path), "", 1, PM_SPOOL_SUFFIX);
	assert_false(exists(path));
	path_of(path, sizeof(path), "rejected", 1, PM_SPOOL_SUFFIX);
	assert_true(exists(path));
	path_of(path, sizeof(path), "rejected", 1, ".reason");
	read_text(path, text, sizeof(text));
	assert_string_equal(text, "HTTP 400: bad report\n");
	spool__stats(s, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, PM_SPOOL_HEADER + 100);
	assert_oldest(s, 2);
	assert_int_equal(spool__reject(s, 1, "again"), -ENOENT);

	/* a rejected report's number is not given again, even without the seq file */
	assert_int_equal(spool__reject(s, 2, "HTTP 413: too large"), 0);
	spool__close(s);
	snprintf(path, sizeof(path), "%s/seq", dir);
	unlink(path);
	s = open_spool(NO_BOUND);
	assert_int_equal(spool__next_seq(s), 3);
	assert_empty(s);
	spool__close(s);
}

static void test_stale_tmp_removed(void **state)
{
	char tmp[PATH_MAX], tmpseq[PATH_MAX], other[PATH_MAX];
	struct pm_spool_stats st;
	struct pm_spool *s;

	(void)state;
	s = open_spool(NO_BOUND);
	put_next(s, 100);
	spool__close(s);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-2", dir);
	snprintf(tmpseq, sizeof(tmpseq), "%s/.tmp-seq", dir);
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	write_text(tmp, "PMR1 half a report");
	write_text(tmpseq, "2");
	write_text(other, "left alone");

	s = open_spool(NO_BOUND);
	assert_false(exists(tmp));
	assert_false(exists(tmpseq));
	assert_true(exists(other));
	spool__stats(s, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(spool__next_seq(s), 2);
	assert_oldest(s, 1);
	spool__close(s);
}

/* The collection thread puts while the shipper's takes: nothing twice, in order. */
#define RACE_REPORTS 300

struct race {
	struct pm_spool *s;
	bool done;
	pthread_mutex_t lock;
};

static void *race_producer(void *arg)
{
	struct race *r = arg;
	int i;

	for (i = 0; i < RACE_REPORTS; i++)
		put_next(r->s, 50 + i % 200);
	pthread_mutex_lock(&r->lock);
	r->done = true;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void test_concurrent_put_and_take(void **state)
{
	struct race r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	uint64_t seq, last = 0, taken = 0;
	struct pm_spool_stats st;
	pthread_t t;
	bool done;
	size_t len;
	void *p;
	int ret;

	(void)state;
	/* a tight bound, so drops race with takes too */
	r.s = open_spool(8 * (PM_SPOOL_HEADER + 250));
	assert_int_equal(pthread_create(&t, NULL, race_producer, &r), 0);
	for (;;) {
		pthread_mutex_lock(&r.lock);
		done = r.done;
		pthread_mutex_unlock(&r.lock);
		ret = spool__oldest(r.s, &seq, &p, &len);
		if (ret == -ENOENT && done)
			break;
		if (ret == -ENOENT)
			continue;
		assert_int_equal(ret, 0);
		assert_true(seq > last);
		last = seq;
		free(p);
		ret = spool__remove(r.s, seq);
		assert_true(ret == 0 || ret == -ENOENT); /* -ENOENT: dropped meanwhile */
		if (!ret)
			taken++;
	}
	pthread_join(t, NULL);
	spool__stats(r.s, &st);
	assert_int_equal(st.written, RACE_REPORTS);
	assert_int_equal(taken + st.dropped, RACE_REPORTS);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.corrupt, 0);
	spool__close(r.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_empty_payload, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_oldest_first, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_sequence, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_seq_persists, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_seq_file_garbage, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_read_file_checks, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_open_quarantines, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_oldest_quarantines, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_oldest_skips_vanished, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_bound_drops_oldest, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_reject, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp_removed, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_put_and_take, test_setup,
						test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
