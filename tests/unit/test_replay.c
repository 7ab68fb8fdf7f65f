// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter replay over CSV series held in memory (fmemopen): timestamps in
 * both forms against dates converted by hand, repeated, late and missing
 * timestamps scored as documented (against the same series with the times
 * the documentation says they stand for) and refused with --strict, level
 * shifts in fixed-seed Gaussian noise (splitmix64 and Box-Muller) alarmed
 * within a bounded delay, once, and no alarm before them, the online
 * property (a row's output is the same whatever follows it), and each
 * malformed input's message and line number. Tests print the figures they
 * check.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>
#include <podmeter/replay.h>

/* ---- samples ---- */

struct rng {
	uint64_t s;
	double spare;
	int has_spare;
};

/* splitmix64 (Steele, Lea, Flood 2014) */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform on (0, 1] */
static double rng_u01(struct rng *r)
{
	return ((rng_next(r) >> 11) + 1) * 0x1p-53;
}

/* Box-Muller: two independent N(0, 1) per pair of uniforms */
static double rng_gauss(struct rng *r)
{
	double rad, th;

	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	rad = sqrt(-2 * log(rng_u01(r)));
	th = 2 * M_PI * rng_u01(r);
	r->spare = rad * sin(th);
	r->has_spare = 1;
	return rad * cos(th);
}

#define HEADER "timestamp,value,anomaly_score,state,kind\n"

/* ---- running replay on strings ---- */

struct result {
	int ret;
	char err[512];
	char *out;
	size_t outlen;
};

static void result_free(struct result *res)
{
	free(res->out);
	res->out = NULL;
}

static struct result run_opts(const char *csv, size_t len, const struct pm_replay_opts *o)
{
	struct result res = { 0 };
	FILE *in, *out;

	/* fmemopen() refuses nothing of size 0 since glibc 2.22; a tmpfile() is the same thing */
	in = len ? fmemopen((void *)csv, len, "r") : tmpfile();
	assert_non_null(in);
	out = open_memstream(&res.out, &res.outlen);
	assert_non_null(out);
	res.ret = replay__run(in, out, o, res.err, sizeof(res.err));
	assert_int_equal(fclose(out), 0);
	fclose(in);
	return res;
}

static struct result run_signal(const char *csv, enum pm_replay_signal sig)
{
	struct pm_replay_opts o;

	assert_int_equal(replay__defaults(&o, sig), 0);
	return run_opts(csv, strlen(csv), &o);
}

static struct result run_strict(const char *csv)
{
	struct pm_replay_opts o;

	assert_int_equal(replay__defaults(&o, PM_REPLAY_GENERIC), 0);
	o.strict = true;
	return run_opts(csv, strlen(csv), &o);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The offset just past the first @n lines of @s. */
static size_t lines_len(const char *s, size_t n)
{
	const char *p = s;

	for (; n && (p = strchr(p, '\n')); n--)
		p++;
	assert_non_null(p);
	return p - s;
}

struct row {
	char ts[64], val[64], state[16], kind[16];
	double score;
};

/* Output row @i (0 = the first after the header): ts may hold commas, the rest do not. */
static void get_row(const char *out, size_t i, struct row *r)
{
	const char *p = out + lines_len(out, i + 1), *end = strchr(p, '\n');
	const char *c[4];
	char line[256];
	int k;

	assert_non_null(end);
	assert_true((size_t)(end - p) < sizeof(line));
	memcpy(line, p, end - p);
	line[end - p] = '\0';
	c[3] = strrchr(line, ',');
	assert_non_null(c[3]);
	for (k = 2; k >= 0; k--) {
		for (c[k] = c[k + 1] - 1; c[k] > line && *c[k] != ','; c[k]--)
			;
		assert_true(c[k] > line && *c[k] == ',');
	}
	snprintf(r->ts, sizeof(r->ts), "%.*s", (int)(c[0] - line), line);
	snprintf(r->val, sizeof(r->val), "%.*s", (int)(c[1] - c[0] - 1), c[0] + 1);
	r->score = strtod(c[1] + 1, NULL);
	snprintf(r->state, sizeof(r->state), "%.*s", (int)(c[3] - c[2] - 1), c[2] + 1);
	snprintf(r->kind, sizeof(r->kind), "%s", c[3] + 1);
}

/* A generated series as CSV: value i at 1700000000 + i * @step unix seconds. */
static char *series_csv(const double *x, size_t n, double step)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	size_t i;

	assert_non_null(f);
	fprintf(f, "timestamp,value\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%.0f,%.17g\n", 1700000000 + i * step, x[i]);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* ---- timestamps ---- */

/* Dates against unix seconds worked out by hand (and checked with date -u -d). */
static const struct {
	const char *date;
	long long unix_s;
} dates[] = {
	{ "1970-01-01 00:00:00", 0 },
	{ "1999-12-31 23:59:59", 946684799 },
	{ "2000-02-29 00:00:00", 951782400 }, /* 2000 is a leap year */
	{ "2000-03-01 00:00:00", 951868800 },
	{ "2024-02-29 12:34:56", 1709210096 },
	{ "2038-01-19 03:14:08", 2147483648LL },
	{ "2100-03-01 00:00:00", 4107542400LL }, /* 2100 is not */
	{ "2024-05-01T10:00:00Z", 1714557600 },
};

static void test_timestamp_forms(void **state)
{
	char csv[256], msg[256];
	struct result res;
	struct row r;
	size_t i;

	(void)state;
	/*
	 * With --strict, a date followed by its own unix seconds repeats it and
	 * one second earlier goes back; one half second later is fine.
	 */
	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		snprintf(csv, sizeof(csv), "t,v\n%s,1\n%lld,2\n", dates[i].date, dates[i].unix_s);
		res = run_strict(csv);
		snprintf(msg, sizeof(msg),
			 "line 3: timestamp \"%lld\" repeats line 2's; "
			 "keep one row per timestamp, or drop --strict",
			 dates[i].unix_s);
		assert_int_equal(res.ret, -EINVAL);
		assert_string_equal(res.err, msg);
		result_free(&res);
		snprintf(csv, sizeof(csv), "t,v\n%s,1\n%lld.5,2\n", dates[i].date, dates[i].unix_s);
		res = run_strict(csv);
		assert_int_equal(res.ret, 0);
		result_free(&res);
		if (!dates[i].unix_s)
			continue; /* no unix seconds before 0 */
		snprintf(csv, sizeof(csv), "t,v\n%s,1\n%lld,2\n", dates[i].date,
			 dates[i].unix_s - 1);
		res = run_strict(csv);
		assert_int_equal(res.ret, -EINVAL);
		assert_non_null(strstr(res.err, "goes back in time from line 2's"));
		result_free(&res);
	}
	printf("%zu dates equal to their unix seconds, to the second\n", i);

	/* echoed as given, blanks and all; CRLF and a last row without a newline */
	res = run_signal("timestamp,value\r\n"
			 "2024-05-01 10:00:00,0.25\r\n"
			 "2024-05-01T10:00:01Z, 0.5\r\n"
			 "2024-05-01 10:00:01.250,1e-3\r\n"
			 "1714557602,7\r\n"
			 " 1714557602.75 ,-3",
			 PM_REPLAY_CPU);
	assert_int_equal(res.ret, 0);
	assert_int_equal(count_lines(res.out), 1 + 5);
	assert_string_equal(res.out, HEADER "2024-05-01 10:00:00,0.25,0.0000,warmup,none\n"
					    "2024-05-01T10:00:01Z, 0.5,0.0000,warmup,none\n"
					    "2024-05-01 10:00:01.250,1e-3,0.0000,warmup,none\n"
					    "1714557602,7,0.0000,warmup,none\n"
					    " 1714557602.75 ,-3,0.0000,warmup,none\n");
	get_row(res.out, 4, &r);
	assert_string_equal(r.ts, " 1714557602.75 ");
	result_free(&res);
}

/* The same series with dated and unix timestamps: the same scores. */
static void test_timestamp_forms_agree(void **state)
{
	char *a = NULL, *b = NULL;
	size_t alen, blen, i;
	FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
	struct result ra, rb;
	struct row x, y;
	struct rng g = { .s = 7 };
	long long t0 = 1714604400; /* 2024-05-01 23:00:00 */

	(void)state;
	fprintf(fa, "time,v\n");
	fprintf(fb, "time,v\n");
	for (i = 0; i < 400; i++) {
		long long s = 82800 + i * 30; /* every 30 s from 23:00, across midnight */
		double v = 3 + rng_gauss(&g) + (i >= 300 ? 6 : 0);

		fprintf(fa, "2024-05-%02lld %02lld:%02lld:%02lld,%.6f\n", 1 + s / 86400,
			s / 3600 % 24, s / 60 % 60, s % 60, v);
		fprintf(fb, "%lld,%.6f\n", t0 - 82800 + s, v);
	}
	assert_int_equal(fclose(fa), 0);
	assert_int_equal(fclose(fb), 0);
	ra = run_signal(a, PM_REPLAY_GENERIC);
	rb = run_signal(b, PM_REPLAY_GENERIC);
	assert_int_equal(ra.ret, 0);
	assert_int_equal(rb.ret, 0);
	for (i = 0; i < 400; i++) {
		get_row(ra.out, i, &x);
		get_row(rb.out, i, &y);
		assert_string_equal(x.val, y.val);
		assert_true(x.score == y.score);
		assert_string_equal(x.state, y.state);
	}
	get_row(ra.out, 399, &x);
	printf("400 rows, dated and unix: identical scores (last row %s)\n", x.ts);
	result_free(&ra);
	result_free(&rb);
	free(a);
	free(b);
}

/* ---- timestamps as exports have them ---- */

#define REAL_ROWS   600
#define REAL_REPEAT 200 /* this row repeats the one before's time */
#define REAL_LATE   300 /* from here, 11 rows an hour late (a clock set back) */
#define REAL_LATE_N 11
#define REAL_GAP    450 /* three days missing before this row */

/* Times of the rows, with the repeat, the late rows and the gap; @latest: as documented. */
static void real_times(double *t, bool latest)
{
	double now = 1700000000, max = 0;
	size_t i;

	for (i = 0; i < REAL_ROWS; i++) {
		now += i == REAL_REPEAT ? 0 : i == REAL_GAP ? 3 * 86400 : 300;
		t[i] = now - (i >= REAL_LATE && i < REAL_LATE + REAL_LATE_N ? 3600 : 0);
		if (t[i] > max)
			max = t[i];
		if (latest)
			t[i] = max; /* a late row stands for a sample at the latest time */
	}
}

static char *real_csv(const double *t, const double *x)
{
	char *buf = NULL;
	size_t len, i;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fprintf(f, "timestamp,value\n");
	for (i = 0; i < REAL_ROWS; i++)
		fprintf(f, "%.0f,%.17g\n", t[i], x[i]);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * Every row is scored; a late row scores as a row at the latest time would
 * (the documented handling, built independently here), a repeated one as
 * one more sample; none of it, nor a three-day gap, alarms on a steady
 * series. --strict refuses the first repeat with its line.
 */
static void test_real_timestamps(void **state)
{
	static double t[REAL_ROWS], tl[REAL_ROWS], x[REAL_ROWS];
	struct rng g = { .s = 21 };
	struct result a, b;
	size_t i, alarms = 0;
	char *ca, *cb;
	struct row ra, rb;

	(void)state;
	for (i = 0; i < REAL_ROWS; i++)
		x[i] = 50 + 2 * rng_gauss(&g);
	real_times(t, false);
	real_times(tl, true);
	ca = real_csv(t, x);
	cb = real_csv(tl, x);
	a = run_signal(ca, PM_REPLAY_GENERIC);
	b = run_signal(cb, PM_REPLAY_GENERIC);
	assert_int_equal(a.ret, 0);
	assert_int_equal(b.ret, 0);
	assert_int_equal(count_lines(a.out), 1 + REAL_ROWS);
	for (i = 0; i < REAL_ROWS; i++) {
		get_row(a.out, i, &ra);
		get_row(b.out, i, &rb);
		assert_true(ra.score >= 0 && ra.score <= 1);
		assert_true(ra.score == rb.score);
		assert_string_equal(ra.state, rb.state);
		assert_string_equal(ra.kind, rb.kind);
		alarms += !strcmp(ra.state, "anomaly");
	}
	assert_int_equal(alarms, 0);
	printf("%d rows with a repeat, %d late rows and a 3-day gap: all scored, as the "
	       "documented times score them, %zu alarms\n",
	       REAL_ROWS, REAL_LATE_N, alarms);
	result_free(&a);
	result_free(&b);
	a = run_strict(ca);
	assert_int_equal(a.ret, -EINVAL);
	assert_non_null(strstr(a.err, "line 202: timestamp"));
	assert_non_null(strstr(a.err, "repeats line 201's"));
	assert_int_equal(count_lines(a.out), 1 + REAL_REPEAT);
	result_free(&a);
	free(ca);
	free(cb);
}

/* ---- level shifts ---- */

#define SHIFT_ROWS	1000
#define SHIFT_AT	500
#define SHIFT_MAX_DELAY 10  /* rows from the shift to its top score */
#define SHIFT_SETTLE	200 /* rows after which the shift is the new normal */

static const struct {
	enum pm_replay_signal sig;
	const char *name;
	double mean, sigma, step_s, shift; /* shift in sigma */
	uint64_t seed;
} shifts[] = {
	{ PM_REPLAY_GENERIC, "generic", 0, 1, 1, 5, 1 },
	{ PM_REPLAY_GENERIC, "generic", 100, 3, 15, -5, 2 },
	{ PM_REPLAY_CPU, "cpu", 0.5, 0.05, 1, 5, 3 },
	{ PM_REPLAY_MEMORY, "memory", 2e9, 5e6, 10, 5, 4 },
	{ PM_REPLAY_COST, "cost", 0.10, 0.002, 60, 5, 5 },
	{ PM_REPLAY_NETWORK, "network", 1e6, 1e5, 1, 5, 6 },
};

/* The state and the score tell the same story. */
static void check_row(const struct row *r, size_t i)
{
	assert_true(r->score >= 0 && r->score <= 1);
	if (i < PM_ANOMALY_WARMUP) {
		assert_string_equal(r->state, "warmup");
		assert_true(r->score == 0);
	} else if (!strcmp(r->state, "anomaly")) {
		assert_true(r->score >= PM_ANOMALY_ALARM);
	} else if (!strcmp(r->state, "normal")) {
		assert_true(r->score < PM_ANOMALY_ALARM);
	} else {
		assert_string_equal(r->state, "held");
	}
}

static void test_level_shift(void **state)
{
	static double x[SHIFT_ROWS];
	size_t c, i;

	(void)state;
	for (c = 0; c < sizeof(shifts) / sizeof(shifts[0]); c++) {
		struct rng g = { .s = shifts[c].seed };
		size_t first = 0, anomalies = 0, before = 0, high_after = 0, top_at = 0;
		double max_before = 0, max_onset = 0;
		struct result res;
		char *csv;
		struct row r;

		for (i = 0; i < SHIFT_ROWS; i++)
			x[i] = shifts[c].mean +
			       shifts[c].sigma *
				       (rng_gauss(&g) + (i >= SHIFT_AT ? shifts[c].shift : 0));
		csv = series_csv(x, SHIFT_ROWS, shifts[c].step_s);
		res = run_signal(csv, shifts[c].sig);
		assert_int_equal(res.ret, 0);
		assert_int_equal(count_lines(res.out), 1 + SHIFT_ROWS);
		for (i = 0; i < SHIFT_ROWS; i++) {
			bool anomaly;

			get_row(res.out, i, &r);
			check_row(&r, i);
			anomaly = !strcmp(r.state, "anomaly");
			if (i < SHIFT_AT) {
				before += anomaly;
				max_before = fmax(max_before, r.score);
				continue;
			}
			if (i <= SHIFT_AT + SHIFT_MAX_DELAY && r.score > max_onset) {
				max_onset = r.score;
				top_at = i;
			}
			if (anomaly && !anomalies++)
				first = i;
			/* the models adapt: the score falls back */
			high_after += i >= SHIFT_AT + SHIFT_SETTLE &&
				      r.score >= PM_ANOMALY_HOLD_FLOOR;
		}
		printf("%-8s shift %+g sigma at row %d (every %gs): top score %.4f at row %zu, "
		       "%zu alarm(s)%s; rows %d..%d: top score %.4f, %zu alarms; from row %d: %zu "
		       "rows at the hold floor\n",
		       shifts[c].name, shifts[c].shift, SHIFT_AT, shifts[c].step_s, max_onset,
		       top_at, anomalies, anomalies ? " at the top" : "", PM_ANOMALY_WARMUP,
		       SHIFT_AT - 1, max_before, before, SHIFT_AT + SHIFT_SETTLE, high_after);
		/* the shift is what scores highest in the series, right away */
		assert_true(max_onset > max_before);
		assert_int_equal(before, 0);
		assert_true(anomalies <= 1);
		assert_true(!anomalies || first <= SHIFT_AT + SHIFT_MAX_DELAY);
		assert_true(high_after <= 2);
		result_free(&res);
		free(csv);
	}
}

/* ---- the online property ---- */

static const size_t prefixes[] = { 1, 16, 17, 99, 100, 101, 250, 499, 500, 501, 503, 777, 999 };

static void test_online(void **state)
{
	static double x[SHIFT_ROWS], y[SHIFT_ROWS];
	struct rng g = { .s = 11 };
	struct result full, res;
	size_t p, i, k, len;
	char *a;

	(void)state;
	for (i = 0; i < SHIFT_ROWS; i++)
		x[i] = 10 + rng_gauss(&g) + (i >= SHIFT_AT ? 5 : 0);
	a = series_csv(x, SHIFT_ROWS, 1);
	full = run_signal(a, PM_REPLAY_GENERIC);
	assert_int_equal(full.ret, 0);
	for (p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
		struct pm_replay_opts o;
		char *b;

		k = prefixes[p];
		/* the first k rows alone */
		replay__defaults(&o, PM_REPLAY_GENERIC);
		res = run_opts(a, lines_len(a, 1 + k), &o);
		assert_int_equal(res.ret, 0);
		len = lines_len(full.out, 1 + k);
		assert_int_equal(res.outlen, len);
		assert_memory_equal(res.out, full.out, len);
		result_free(&res);
		/* the first k rows, then a different future: spikes, another level */
		for (i = 0; i < SHIFT_ROWS; i++)
			y[i] = i < k ? x[i] : (i % 7 ? -1e6 : 1e9);
		b = series_csv(y, SHIFT_ROWS, 1);
		res = run_opts(b, strlen(b), &o);
		assert_int_equal(res.ret, 0);
		assert_int_equal(count_lines(res.out), 1 + SHIFT_ROWS);
		assert_memory_equal(res.out, full.out, len);
		result_free(&res);
		free(b);
	}
	printf("%zu prefixes (1..999 rows): each row's output byte-identical alone, in the "
	       "full series and before a different future\n",
	       p);
	result_free(&full);
	free(a);
}

/* ---- malformed input ---- */

static const struct {
	const char *csv;
	const char *err;
	size_t rows; /* rows written before the error */
} bad[] = {
	{ "t,v\n1,1\n2,2\n3,3\n4,4\n5,5\n6,abc\n", "line 7: \"abc\" is not a number", 5 },
	{ "t,v\n1,nan\n", "line 2: \"nan\" is not a number", 0 },
	{ "t,v\n1,inf\n", "line 2: \"inf\" is not a number", 0 },
	{ "t,v\n1,0x10\n", "line 2: \"0x10\" is not a number", 0 },
	{ "t,v\n1,1.2.3\n", "line 2: \"1.2.3\" is not a number", 0 },
	{ "t,v\n1,1e\n", "line 2: \"1e\" is not a number", 0 },
	{ "t,v\n1,\"5\"\n", "line 2: \"\"5\"\" is not a number", 0 },
	{ "t,v\n1,1\n2,1e31\n", "line 3: \"1e31\" is out of range; values are within +-1e+30", 1 },
	{ "t,v\n1,1\n2,-1e400\n", "line 3: \"-1e400\" is out of range; values are within +-1e+30",
	  1 },
	{ "t,v\n1,\n", "line 2: no value after the comma; expected TIMESTAMP,VALUE", 0 },
	{ "t,v\n1, \t\n", "line 2: no value after the comma; expected TIMESTAMP,VALUE", 0 },
	{ "t,v\n,1\n",
	  "line 2: no timestamp before the comma; use YYYY-MM-DD HH:MM:SS (UTC) or unix seconds",
	  0 },
	{ "t,v\n1,1\n2 3\n", "line 3: no comma; expected TIMESTAMP,VALUE", 1 },
	{ "t,v\n1,1\n2,3,4\n", "line 3: 3 fields; expected 2, TIMESTAMP,VALUE", 1 },
	{ "t,v\n1,1;2\n", "line 2: \"1;2\" is not a number", 0 },
	{ "t,v\nabc,1\n",
	  "line 2: \"abc\" is not a timestamp; use YYYY-MM-DD HH:MM:SS (UTC) or unix seconds", 0 },
	{ "t,v\n-5,1\n",
	  "line 2: \"-5\" is not a timestamp; use YYYY-MM-DD HH:MM:SS (UTC) or unix seconds", 0 },
	{ "t,v\n1e9,1\n",
	  "line 2: \"1e9\" is not a timestamp; use YYYY-MM-DD HH:MM:SS (UTC) or unix seconds", 0 },
	{ "t,v\n2024-05-01,1\n",
	  "line 2: \"2024-05-01\" is not a timestamp; use YYYY-MM-DD HH:MM:SS (UTC) or unix "
	  "seconds",
	  0 },
	{ "t,v\n2024-05-01 10:00,1\n",
	  "line 2: \"2024-05-01 10:00\" is not a timestamp; use YYYY-MM-DD HH:MM:SS (UTC) or "
	  "unix seconds",
	  0 },
	{ "t,v\n2024/05/01 10:00:00,1\n",
	  "line 2: \"2024/05/01 10:00:00\" is not a timestamp; use YYYY-MM-DD HH:MM:SS (UTC) or "
	  "unix seconds",
	  0 },
	{ "t,v\n2024-05-01 10:00:00+02:00,1\n",
	  "line 2: \"2024-05-01 10:00:00+02:00\" is not a timestamp; use YYYY-MM-DD HH:MM:SS "
	  "(UTC) or unix seconds",
	  0 },
	{ "t,v\n2023-02-29 00:00:00,1\n",
	  "line 2: \"2023-02-29 00:00:00\" is not a valid date and time (UTC)", 0 },
	{ "t,v\n2024-13-01 00:00:00,1\n",
	  "line 2: \"2024-13-01 00:00:00\" is not a valid date and time (UTC)", 0 },
	{ "t,v\n2024-05-01 24:00:00,1\n",
	  "line 2: \"2024-05-01 24:00:00\" is not a valid date and time (UTC)", 0 },
	{ "t,v\n2024-05-01 10:60:00,1\n",
	  "line 2: \"2024-05-01 10:60:00\" is not a valid date and time (UTC)", 0 },
	{ "t,v\n1234567890123456,1\n",
	  "line 2: \"1234567890123456\" is out of range; unix seconds are below 1e+15", 0 },
	{ "t,v\n1,1\n1000000000000000,1\n",
	  "line 3: \"1000000000000000\" is out of range; unix seconds are below 1e+15", 1 },
	/* below the limit as written, 1e15 once a double: the limit's own message */
	{ "t,v\n999999999999999.99,1\n",
	  "line 2: \"999999999999999.99\" is out of range; unix seconds are below 1e+15", 0 },
	{ "t,v\n1,1\n\n2,2\n",
	  "line 3: blank line inside the series; remove it (blank lines may only end the file)",
	  1 },
	{ "t,v\n\n \n1,1\n",
	  "line 2: blank line inside the series; remove it (blank lines may only end the file)",
	  0 },
	{ "", "empty; expected a header line (e.g. timestamp,value), then TIMESTAMP,VALUE rows",
	  0 },
};

/* Refused with --strict only; scored without it (test_real_timestamps). */
static const struct {
	const char *csv;
	const char *err;
	size_t rows;
} unordered[] = {
	{ "t,v\n10,1\n20,2\n15,3\n",
	  "line 4: timestamp \"15\" goes back in time from line 3's \"20\"; sort the rows by "
	  "time, or drop --strict",
	  2 },
	{ "t,v\n2024-05-01 10:00:00,1\n2024-05-01 09:59:59,2\n",
	  "line 3: timestamp \"2024-05-01 09:59:59\" goes back in time from line 2's "
	  "\"2024-05-01 10:00:00\"; sort the rows by time, or drop --strict",
	  1 },
	{ "t,v\n10,1\n10.0,2\n",
	  "line 3: timestamp \"10.0\" repeats line 2's; keep one row per timestamp, or drop "
	  "--strict",
	  1 },
};

static void test_malformed(void **state)
{
	struct pm_replay_opts o;
	struct result res;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(unordered) / sizeof(unordered[0]); i++) {
		res = run_strict(unordered[i].csv);
		assert_int_equal(res.ret, -EINVAL);
		assert_string_equal(res.err, unordered[i].err);
		assert_int_equal(count_lines(res.out), 1 + unordered[i].rows);
		result_free(&res);
		n = count_lines(unordered[i].csv) - 1;
		res = run_signal(unordered[i].csv, PM_REPLAY_GENERIC);
		assert_int_equal(res.ret, 0);
		assert_int_equal(count_lines(res.out), 1 + n);
		result_free(&res);
	}
	replay__defaults(&o, PM_REPLAY_GENERIC);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		res = run_opts(bad[i].csv, strlen(bad[i].csv), &o);
		if (res.ret != -EINVAL || strcmp(res.err, bad[i].err))
			print_error("case %zu: got %d \"%s\"\n", i, res.ret, res.err);
		assert_int_equal(res.ret, -EINVAL);
		assert_string_equal(res.err, bad[i].err);
		/* the rows before the bad line are out, nothing after; no header without one */
		assert_int_equal(count_lines(res.out ? res.out : ""),
				 bad[i].csv[0] ? 1 + bad[i].rows : 0);
		result_free(&res);
	}
	/* a NUL byte, which strlen() cannot carry: the length is given */
	res = run_opts("t,v\n1,1\n2\0,2\n", 13, &o);
	assert_int_equal(res.ret, -EINVAL);
	assert_string_equal(res.err, "line 3: contains a NUL byte; is this a CSV file?");
	result_free(&res);
	printf("%zu malformed inputs: each refused with its line and reason; %zu out of order, "
	       "refused with --strict only\n",
	       i + 1, sizeof(unordered) / sizeof(unordered[0]));
	/* leading zeros: the value, not the digits, is what is limited */
	res = run_signal("t,v\n0000000000000001,1\n", PM_REPLAY_GENERIC);
	assert_int_equal(res.ret, 0);
	result_free(&res);
}

/* ---- edges ---- */

static void test_empty_and_counts(void **state)
{
	static const struct {
		const char *csv;
		size_t rows;
	} ok[] = {
		{ "timestamp,value\n", 0 },
		{ "timestamp,value", 0 },
		{ "timestamp,value\n\n\n", 0 },
		{ "\n", 0 }, /* an empty header is still a header */
		{ "t,v\n1,1", 1 },
		{ "t,v\n1,1\n2,2\n\n \n\t\n", 2 },
		{ "t,v\r\n1,1\r\n2,2\r\n\r\n", 2 },
	};
	struct result res;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		res = run_signal(ok[i].csv, PM_REPLAY_GENERIC);
		assert_int_equal(res.ret, 0);
		assert_int_equal(count_lines(res.out), 1 + ok[i].rows);
		assert_memory_equal(res.out, HEADER, strlen(HEADER));
		result_free(&res);
	}
	printf("header only, trailing blank lines, CRLF: %zu cases, one output row per row\n", i);
}

/* Constant series, then a jump to the largest value: finite scores, no NaN. */
static void test_extremes(void **state)
{
	static double x[300];
	struct result res;
	struct row r;
	char *csv;
	size_t i;

	(void)state;
	for (i = 0; i < 300; i++)
		x[i] = i == 250 ? PM_MODEL_VALUE_MAX : 42;
	csv = series_csv(x, 300, 1);
	res = run_signal(csv, PM_REPLAY_GENERIC);
	assert_int_equal(res.ret, 0);
	for (i = 100; i < 250; i++) {
		get_row(res.out, i, &r);
		assert_string_equal(r.state, "normal");
		assert_true(r.score == 0);
	}
	get_row(res.out, 250, &r);
	assert_string_equal(r.state, "anomaly");
	assert_true(r.score >= PM_ANOMALY_ALARM && r.score <= 1);
	printf("constant 42: score 0 normal; then 1e30: score %.4f %s\n", r.score, r.state);
	result_free(&res);
	free(csv);
}

static void test_api(void **state)
{
	static const char *names[] = { "generic", "cpu", "memory", "cost", "network" };
	struct pm_anomaly_result res;
	enum pm_replay_signal sig;
	enum pm_replay_state st;
	struct pm_replay_opts o;
	struct pm_replay r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(replay__signal(names[i], &sig), 0);
		assert_int_equal(sig, (enum pm_replay_signal)i);
		assert_int_equal(replay__defaults(&o, sig), 0);
		assert_int_equal(replay__init(&r, &o), 0);
	}
	assert_int_equal(replay__signal("disk", &sig), -EINVAL);
	assert_int_equal(replay__signal("CPU", &sig), -EINVAL);
	assert_int_equal(replay__defaults(&o, PM_REPLAY_SIGNALS), -EINVAL);
	replay__defaults(&o, PM_REPLAY_GENERIC);
	o.model.alarm = 0.1; /* under the hold floor */
	assert_int_equal(replay__init(&r, &o), -EINVAL);
	replay__defaults(&o, PM_REPLAY_GENERIC);
	o.model.hold_s = -2;
	assert_int_equal(replay__init(&r, &o), -EINVAL);
	replay__defaults(&o, PM_REPLAY_GENERIC);
	o.model.resolution = NAN;
	assert_int_equal(replay__init(&r, &o), -EINVAL);

	replay__defaults(&o, PM_REPLAY_GENERIC);
	assert_int_equal(replay__init(&r, &o), 0);
	assert_int_equal(replay__step(&r, 10, 1, &res, &st), 0);
	assert_int_equal(st, PM_REPLAY_STATE_WARMUP);
	assert_int_equal(replay__step(&r, 10, 1, &res, &st), 0); /* repeated */
	assert_int_equal(replay__step(&r, 9, 1, &res, &st), 0);	 /* late: taken at 10 */
	assert_true(r.t == 10);
	assert_int_equal(replay__step(&r, 11, NAN, &res, &st), -EINVAL);
	assert_int_equal(replay__step(&r, 11, 2e30, &res, &st), -EINVAL);
	assert_int_equal(replay__step(&r, 1e15, 1, &res, &st), -EINVAL);
	assert_int_equal(r.n, 3);
	o.strict = true;
	assert_int_equal(replay__init(&r, &o), 0);
	assert_int_equal(replay__step(&r, 10, 1, &res, &st), 0);
	assert_int_equal(replay__step(&r, 10, 1, &res, &st), -EINVAL);
	assert_int_equal(replay__step(&r, 9, 1, &res, &st), -EINVAL);
	assert_int_equal(r.n, 1);
	assert_string_equal(replay__state_name(PM_REPLAY_STATE_ANOMALY), "anomaly");
	assert_string_equal(replay__state_name(PM_REPLAY_STATE_HELD), "held");
}

/* ---- the subcommand's exit status ---- */

static int main_with(const char *csv, int argc, const char *a1, const char *a2)
{
	char path[] = "/tmp/test_replay.XXXXXX";
	char *argv[5] = { "replay" };
	int fd, ret, i = 1;
	FILE *f;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(csv, f);
	assert_int_equal(fclose(f), 0);
	if (argc > 1)
		argv[i++] = (char *)a1;
	if (argc > 2)
		argv[i++] = (char *)a2;
	argv[i++] = path;
	ret = replay__main(i, argv);
	unlink(path);
	return ret;
}

static void test_main(void **state)
{
	char *argv[] = { "replay", "--help", NULL };
	char *missing[] = { "replay", "/nonexistent/series.csv", NULL };
	char *none[] = { "replay", NULL };
	int saved, null;

	(void)state;
	/* the usage text and the rows are not for the test log */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	null = open("/dev/null", O_WRONLY);
	assert_true(saved >= 0 && null >= 0);
	dup2(null, STDOUT_FILENO);
	close(null);
	assert_int_equal(replay__main(2, argv), 0);
	assert_int_equal(replay__main(2, missing), 2);
	assert_int_equal(replay__main(1, none), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 1, NULL, NULL), 0);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--signal", "memory"), 0);
	assert_int_equal(main_with("t,v\n1,1\n", 2, "--signal=network", NULL), 0);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--alarm", "0.3"), 0);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--hold", "3600"), 0);
	assert_int_equal(main_with("t,v\n1,1\n", 2, "--hold=0", NULL), 0);
	assert_int_equal(main_with("t,v\n1,1\n", 2, "--strict", NULL), 0);
	assert_int_equal(main_with("t,v\n1,1\n", 2, "--no-season", NULL), 0);
	assert_int_equal(main_with("t,v\n1,1\n1,2\n", 1, NULL, NULL), 0);
	assert_int_equal(main_with("t,v\n1,1\n1,2\n", 2, "--strict", NULL), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--alarm", "abc"), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--alarm", "0.1"), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--hold", "-5"), 2);
	/* the flags of the detector replay once ran: a message says what replaced them */
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--z", "3.5"), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 2, "--change-k=0.25", NULL), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--signal", "disk"), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 3, "--half-life", "60"), 2);
	assert_int_equal(main_with("t,v\n1,1\n", 2, "--bogus", NULL), 2);
	assert_int_equal(main_with("t,v\n1,x\n", 1, NULL, NULL), 2);
	assert_int_equal(main_with("", 1, NULL, NULL), 2);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp_forms),
		cmocka_unit_test(test_timestamp_forms_agree),
		cmocka_unit_test(test_real_timestamps),
		cmocka_unit_test(test_level_shift),
		cmocka_unit_test(test_online),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_empty_and_counts),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_main),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
