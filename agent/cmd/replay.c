// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter replay FILE: the anomaly detector runs offline over a
 * timestamp,value CSV, one score, state and kind per row (the rules are in
 * include/podmeter/replay.h). A row is read, scored, learnt and written
 * before the next line is read, so nothing can look ahead.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/replay.h>

#define REPLAY_ERR_MAX	 (PATH_MAX + 256)
#define REPLAY_QUOTE_MAX 48 /* a field quoted in a message, "..." included */
#define REPLAY_HEADER	 "timestamp,value,anomaly_score,state,kind\n"
#define REPLAY_TS_HINT	 "use YYYY-MM-DD HH:MM:SS (UTC) or unix seconds"

struct replay_signal_def {
	const char *name;
	const char *unit;
	double resolution; /* the scales' floor: a smaller change is not a change */
};

/*
 * The detector is scale-free; a kind of series only tells the smallest
 * change that means something (the agent's own resolutions, PM_POD_*).
 * Generic learns it: the smallest step between two rows.
 */
static const struct replay_signal_def replay_signals[PM_REPLAY_SIGNALS] = {
	[PM_REPLAY_GENERIC] = { "generic", "any", 0 },
	[PM_REPLAY_CPU] = { "cpu", "cores", PM_POD_CPU_RESOLUTION },
	[PM_REPLAY_MEMORY] = { "memory", "bytes", PM_POD_MEM_RESOLUTION },
	[PM_REPLAY_COST] = { "cost", "/hour", PM_POD_COST_RESOLUTION },
	[PM_REPLAY_NETWORK] = { "network", "bytes/s", 1 },
};

int replay__defaults(struct pm_replay_opts *o, enum pm_replay_signal sig)
{
	if ((unsigned int)sig >= PM_REPLAY_SIGNALS)
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	anomaly__defaults(&o->model);
	o->model.resolution = replay_signals[sig].resolution;
	return 0;
}

int replay__signal(const char *name, enum pm_replay_signal *sig)
{
	int i;

	for (i = 0; i < PM_REPLAY_SIGNALS; i++) {
		if (!strcmp(name, replay_signals[i].name)) {
			*sig = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *replay__state_name(enum pm_replay_state st)
{
	switch (st) {
	case PM_REPLAY_STATE_WARMUP:
		return "warmup";
	case PM_REPLAY_STATE_NORMAL:
		return "normal";
	case PM_REPLAY_STATE_ANOMALY:
		return "anomaly";
	case PM_REPLAY_STATE_HELD:
		return "held";
	}
	return "unknown";
}

/* ---- the model, one row at a time ---- */

int replay__init(struct pm_replay *r, const struct pm_replay_opts *o)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = anomaly__init(&r->model, &o->model);
	if (ret)
		return ret;
	r->o = *o;
	return 0;
}

int replay__step(struct pm_replay *r, double t, double x, struct pm_anomaly_result *res,
		 enum pm_replay_state *state)
{
	int ret;

	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX)
		return -EINVAL;
	if (r->n && t <= r->t && r->o.strict)
		return -EINVAL;
	/* time does not go back: a late row is a sample at the latest time */
	if (r->n && t < r->t)
		t = r->t;
	ret = anomaly__update(&r->model, t, x, res);
	if (ret)
		return ret;
	r->n++;
	r->t = t;
	if (res->warmup)
		*state = PM_REPLAY_STATE_WARMUP;
	else if (res->held)
		*state = PM_REPLAY_STATE_HELD;
	else if (res->alarm)
		*state = PM_REPLAY_STATE_ANOMALY;
	else
		*state = PM_REPLAY_STATE_NORMAL;
	return 0;
}

/* ---- the CSV ---- */

struct replay_field {
	const char *raw; /* as given, echoed */
	size_t raw_len;
	const char *s; /* without surrounding blanks, parsed */
	size_t len;
};

struct replay_reader {
	FILE *in;
	char *line;
	size_t cap, len;
	size_t lineno;
	size_t blank;	  /* first blank line since the last row; 0: none */
	size_t prev_line; /* the last row's line; 0: none yet */
	double prev_t;
	char prev_ts[REPLAY_QUOTE_MAX];
	bool strict;
};

struct replay_row {
	struct replay_field ts, val;
	double t, x;
};

static void replay_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void replay_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* @s for a one-line message: bounded, control bytes shown as '?'. */
static const char *replay_quote(const char *s, size_t n, char *buf, size_t len)
{
	size_t i, keep = n < len ? n : len - 4;

	for (i = 0; i < keep; i++)
		buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	if (keep < n) {
		memcpy(buf + keep, "...", 3);
		keep += 3;
	}
	buf[keep] = '\0';
	return buf;
}

static bool replay_blank_char(char c)
{
	return c == ' ' || c == '\t';
}

static struct replay_field replay_field(const char *s, size_t n)
{
	struct replay_field f = { .raw = s, .raw_len = n, .s = s, .len = n };

	while (f.len && replay_blank_char(f.s[0])) {
		f.s++;
		f.len--;
	}
	while (f.len && replay_blank_char(f.s[f.len - 1]))
		f.len--;
	return f;
}

static size_t replay_digits(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	return i;
}

/*
 * A plain decimal number: [+-]digits[.digits][e[+-]digits]. strtod() alone
 * would also take "nan", "inf" and hex floats.
 */
static bool replay_decimal(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	d = replay_digits(s + i, n - i);
	i += d;
	if (i < n && s[i] == '.') {
		i++;
		d += replay_digits(s + i, n - i);
		i += replay_digits(s + i, n - i);
	}
	if (!d)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		d = replay_digits(s + i, n - i);
		if (!d)
			return false;
		i += d;
	}
	return i == n;
}

/* @f is NUL- or blank-terminated, so strtod() stops at its end. */
static int replay_value(const struct replay_field *f, double *x, char *err, size_t errlen,
			size_t lineno)
{
	char q[REPLAY_QUOTE_MAX];

	if (!f->len) {
		replay_err(err, errlen,
			   "line %zu: no value after the comma; expected TIMESTAMP,VALUE", lineno);
		return -EINVAL;
	}
	if (!replay_decimal(f->s, f->len)) {
		replay_err(err, errlen, "line %zu: \"%s\" is not a number", lineno,
			   replay_quote(f->s, f->len, q, sizeof(q)));
		return -EINVAL;
	}
	*x = strtod(f->s, NULL);
	if (!isfinite(*x) || fabs(*x) > PM_MODEL_VALUE_MAX) {
		replay_err(err, errlen, "line %zu: \"%s\" is out of range; values are within +-%g",
			   lineno, replay_quote(f->s, f->len, q, sizeof(q)), PM_MODEL_VALUE_MAX);
		return -EINVAL;
	}
	return 0;
}

/* @n digits at @s into @v; false unless all are digits. */
static bool replay_fixed(const char *s, size_t n, int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static bool replay_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (Hinnant's days_from_civil). */
static long long replay_days(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

enum replay_ts {
	REPLAY_TS_OK,
	REPLAY_TS_FORMAT, /* neither form */
	REPLAY_TS_DATE,	  /* the date form, with a field out of range */
	REPLAY_TS_BIG,	  /* unix seconds past PM_MODEL_TIME_MAX */
};

/* YYYY-MM-DD HH:MM:SS[.frac], UTC; 'T' for the space and a final 'Z' also taken. */
static enum replay_ts replay_date(const char *s, size_t n, double *t)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, dim;
	double frac = 0;
	size_t i = 19;

	if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
	    s[13] != ':' || s[16] != ':')
		return REPLAY_TS_FORMAT;
	if (!replay_fixed(s, 4, &y) || !replay_fixed(s + 5, 2, &mo) ||
	    !replay_fixed(s + 8, 2, &d) || !replay_fixed(s + 11, 2, &h) ||
	    !replay_fixed(s + 14, 2, &mi) || !replay_fixed(s + 17, 2, &sec))
		return REPLAY_TS_FORMAT;
	if (i < n && s[i] == '.') {
		if (!replay_digits(s + i + 1, n - i - 1))
			return REPLAY_TS_FORMAT;
		frac = strtod(s + i, NULL); /* ".ddd": stops at the digits' end */
		i += 1 + replay_digits(s + i + 1, n - i - 1);
	}
	if (i < n && s[i] == 'Z')
		i++;
	if (i != n)
		return REPLAY_TS_FORMAT;
	if (mo < 1 || mo > 12)
		return REPLAY_TS_DATE;
	dim = mdays[mo - 1] + (mo == 2 && replay_leap(y));
	if (d < 1 || d > dim || h > 23 || mi > 59 || sec > 59)
		return REPLAY_TS_DATE;
	*t = (double)(replay_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) + frac;
	return REPLAY_TS_OK;
}

/* Unix seconds: digits[.digits], below PM_MODEL_TIME_MAX. */
static enum replay_ts replay_unix(const char *s, size_t n, double *t)
{
	size_t i = replay_digits(s, n), f;

	if (!i)
		return REPLAY_TS_FORMAT;
	if (i < n && s[i] == '.') {
		f = replay_digits(s + i + 1, n - i - 1);
		if (!f)
			return REPLAY_TS_FORMAT;
		if (i + 1 + f != n)
			return REPLAY_TS_FORMAT;
	} else if (i != n) {
		return REPLAY_TS_FORMAT;
	}
	/* the value, not the digits, against the limit: leading zeros, and a fraction that rounds up */
	*t = strtod(s, NULL);
	return *t < PM_MODEL_TIME_MAX ? REPLAY_TS_OK : REPLAY_TS_BIG;
}

static int replay_time(const struct replay_field *f, double *t, char *err, size_t errlen,
		       size_t lineno)
{
	char q[REPLAY_QUOTE_MAX];
	enum replay_ts r;

	if (!f->len) {
		replay_err(err, errlen, "line %zu: no timestamp before the comma; %s", lineno,
			   REPLAY_TS_HINT);
		return -EINVAL;
	}
	r = f->len >= 5 && f->s[4] == '-' ? replay_date(f->s, f->len, t)
					  : replay_unix(f->s, f->len, t);
	if (r == REPLAY_TS_OK)
		return 0;
	replay_quote(f->s, f->len, q, sizeof(q));
	if (r == REPLAY_TS_DATE)
		replay_err(err, errlen, "line %zu: \"%s\" is not a valid date and time (UTC)",
			   lineno, q);
	else if (r == REPLAY_TS_BIG)
		replay_err(err, errlen,
			   "line %zu: \"%s\" is out of range; unix seconds are below %g", lineno, q,
			   PM_MODEL_TIME_MAX);
	else
		replay_err(err, errlen, "line %zu: \"%s\" is not a timestamp; %s", lineno, q,
			   REPLAY_TS_HINT);
	return -EINVAL;
}

/*
 * With --strict, strictly after the last row's, as before rows were taken
 * in any order; otherwise anything goes (replay__step() says how).
 */
static int replay_order(struct replay_reader *rd, const struct replay_row *row, char *err,
			size_t errlen)
{
	char q[REPLAY_QUOTE_MAX];

	replay_quote(row->ts.s, row->ts.len, q, sizeof(q));
	if (rd->strict && rd->prev_line && row->t < rd->prev_t) {
		replay_err(err, errlen,
			   "line %zu: timestamp \"%s\" goes back in time from line %zu's \"%s\"; "
			   "sort the rows by time, or drop --strict",
			   rd->lineno, q, rd->prev_line, rd->prev_ts);
		return -EINVAL;
	}
	if (rd->strict && rd->prev_line && row->t == rd->prev_t) {
		replay_err(err, errlen,
			   "line %zu: timestamp \"%s\" repeats line %zu's; keep one row per "
			   "timestamp, or drop --strict",
			   rd->lineno, q, rd->prev_line);
		return -EINVAL;
	}
	rd->prev_line = rd->lineno;
	rd->prev_t = row->t;
	memcpy(rd->prev_ts, q, sizeof(q));
	return 0;
}

/* Split and parse the current line (not blank) into @row. */
static int replay_parse(struct replay_reader *rd, struct replay_row *row, char *err, size_t errlen)
{
	char *comma = memchr(rd->line, ',', rd->len), *c;
	size_t fields = 2;
	int ret;

	if (!comma) {
		replay_err(err, errlen, "line %zu: no comma; expected TIMESTAMP,VALUE", rd->lineno);
		return -EINVAL;
	}
	for (c = comma + 1; (c = memchr(c, ',', rd->len - (c - rd->line))); c++)
		fields++;
	if (fields > 2) {
		replay_err(err, errlen, "line %zu: %zu fields; expected 2, TIMESTAMP,VALUE",
			   rd->lineno, fields);
		return -EINVAL;
	}
	*comma = '\0'; /* the timestamp's end, for strtod() */
	row->ts = replay_field(rd->line, comma - rd->line);
	row->val = replay_field(comma + 1, rd->len - (comma + 1 - rd->line));
	ret = replay_time(&row->ts, &row->t, err, errlen, rd->lineno);
	if (!ret)
		ret = replay_value(&row->val, &row->x, err, errlen, rd->lineno);
	if (!ret)
		ret = replay_order(rd, row, err, errlen);
	return ret;
}

/* The next line, without its end: 1, 0 at the end of the input, or a negative errno. */
static int replay_getline(struct replay_reader *rd, char *err, size_t errlen)
{
	ssize_t n;

	errno = 0;
	n = getline(&rd->line, &rd->cap, rd->in);
	if (n < 0) {
		if (ferror(rd->in)) {
			replay_err(err, errlen, "%s", strerror(errno ? errno : EIO));
			return -EIO;
		}
		if (!feof(rd->in)) {
			replay_err(err, errlen, "line %zu: out of memory", rd->lineno + 1);
			return -ENOMEM;
		}
		return 0;
	}
	rd->lineno++;
	rd->len = n;
	if (rd->len && rd->line[rd->len - 1] == '\n')
		rd->len--;
	if (rd->len && rd->line[rd->len - 1] == '\r')
		rd->len--;
	rd->line[rd->len] = '\0';
	if (strlen(rd->line) != rd->len) {
		replay_err(err, errlen, "line %zu: contains a NUL byte; is this a CSV file?",
			   rd->lineno);
		return -EINVAL;
	}
	return 1;
}

static bool replay_blank(const struct replay_reader *rd)
{
	size_t i;

	for (i = 0; i < rd->len; i++)
		if (!replay_blank_char(rd->line[i]))
			return false;
	return true;
}

/* The next row: 1, 0 at the end of the series, or a negative errno with @err set. */
static int replay_next(struct replay_reader *rd, struct replay_row *row, char *err, size_t errlen)
{
	int ret;

	for (;;) {
		ret = replay_getline(rd, err, errlen);
		if (ret <= 0)
			return ret;
		if (replay_blank(rd)) {
			if (!rd->blank)
				rd->blank = rd->lineno;
			continue;
		}
		if (rd->blank) {
			replay_err(err, errlen,
				   "line %zu: blank line inside the series; remove it (blank "
				   "lines may only end the file)",
				   rd->blank);
			return -EINVAL;
		}
		ret = replay_parse(rd, row, err, errlen);
		return ret ? ret : 1;
	}
}

/* After a failed write to the output: its errno, and @err saying so. */
static int replay_write_err(char *err, size_t errlen)
{
	int e = errno ? errno : EIO;

	replay_err(err, errlen, "writing the output: %s", strerror(e));
	return -e;
}

static int replay_write(FILE *out, const char *s, char *err, size_t errlen)
{
	errno = 0;
	return fputs(s, out) < 0 ? replay_write_err(err, errlen) : 0;
}

/* Score, learn and write one row: everything this row's output depends on is in @r. */
static int replay_row_out(struct pm_replay *r, const struct replay_row *row, FILE *out, char *err,
			  size_t errlen, size_t lineno)
{
	struct pm_anomaly_result res;
	enum pm_replay_state st;
	int ret;

	ret = replay__step(r, row->t, row->x, &res, &st);
	if (ret) {
		/* the parser checked what the model checks: not expected */
		replay_err(err, errlen, "line %zu: the model refuses this row", lineno);
		return ret;
	}
	errno = 0;
	if (fprintf(out, "%.*s,%.*s,%.4f,%s,%s\n", (int)row->ts.raw_len, row->ts.raw,
		    (int)row->val.raw_len, row->val.raw, res.score, replay__state_name(st),
		    anomaly__kind_name(res.kind)) < 0)
		return replay_write_err(err, errlen);
	return 0;
}

int replay__run(FILE *in, FILE *out, const struct pm_replay_opts *o, char *err, size_t errlen)
{
	struct replay_reader rd = { .in = in, .strict = o->strict };
	struct replay_row row;
	struct pm_replay r;
	int ret;

	if (replay__init(&r, o)) {
		replay_err(err, errlen, "invalid model settings");
		return -EINVAL;
	}
	/* the header: any text, not parsed */
	ret = replay_getline(&rd, err, errlen);
	if (ret == 0) {
		replay_err(err, errlen,
			   "empty; expected a header line (e.g. timestamp,value), "
			   "then TIMESTAMP,VALUE rows");
		ret = -EINVAL;
	}
	if (ret < 0)
		goto out_free_line;
	ret = replay_write(out, REPLAY_HEADER, err, errlen);
	/* one row in, one row out: row i is written before line i+1 is read */
	while (!ret && (ret = replay_next(&rd, &row, err, errlen)) > 0)
		ret = replay_row_out(&r, &row, out, err, errlen, rd.lineno);
out_free_line:
	free(rd.line);
	return ret;
}

/* ---- podmeter replay ---- */

void replay__usage(FILE *f)
{
	int i;

	fprintf(f,
		"usage: podmeter replay [flags] FILE.csv\n\n"
		"Run podmeter's anomaly detector over a recorded series, to back-test alarms on\n"
		"your own history. FILE (- for stdin) is CSV: a header line, then one\n"
		"TIMESTAMP,VALUE row per sample; TIMESTAMP is YYYY-MM-DD HH:MM:SS (UTC) or unix\n"
		"seconds. Prints timestamp,value,anomaly_score,state,kind, one row per input\n"
		"row, each scored on the rows up to it only (what the agent would have said\n"
		"at that time).\n\n"
		"  score   in [0, 1]: about 10^(-10 x score) false alarms per row on any series,\n"
		"          whatever its scale and noise (0.5: one in 100,000 rows)\n"
		"  state   warmup   the first %d rows: the models are learning (score 0)\n"
		"          anomaly  score >= the alarm level: a new alarm\n"
		"          held     part of an event (rows within the hold time of its top\n"
		"                   score) that alarmed already or scored higher: the score is\n"
		"                   capped at %.4f unless it beats the event's top\n"
		"          normal   otherwise\n"
		"  kind    what scored highest: jump, level, drift, variance, pattern (away from\n"
		"          the daily or weekly pattern), none\n\n"
		"Timestamps as real exports have them: a repeated one is one more sample at\n"
		"that time; one before the latest (late, out of order, a clock set back) is\n"
		"a sample at the latest time; gaps age the baselines. Every row gets a score.\n\n"
		"flags:\n"
		"  --alarm SCORE        alarm level, %.2f to 1 (default %g)\n"
		"  --hold SECONDS       how long an event holds its later, lower rows (default:\n"
		"                       %g typical intervals of the series; 0: no hold)\n"
		"  --no-season          do not learn daily and weekly patterns\n"
		"  --strict             refuse repeated and late timestamps (exit 2)\n"
		"  --signal SIGNAL      the smallest change that counts, for a kind of series:\n",
		PM_ANOMALY_WARMUP, PM_ANOMALY_HOLD_FLOOR - 1e-4, PM_ANOMALY_HOLD_FLOOR,
		PM_ANOMALY_ALARM, PM_ANOMALY_LEVEL_HL);
	for (i = 0; i < PM_REPLAY_SIGNALS; i++) {
		const struct replay_signal_def *d = &replay_signals[i];

		if (d->resolution > 0)
			fprintf(f, "      %-8s %g %s\n", d->name, d->resolution, d->unit);
		else
			fprintf(f, "      %-8s the smallest step between two rows (default)\n",
				d->name);
	}
	fprintf(f, "  -h, --help           this text\n\n"
		   "Exit status: 0; 2 for a usage error, an unreadable file or a malformed row\n"
		   "(the message names the line; the rows before it are printed); 1 when writing\n"
		   "the output fails.\n");
}

struct replay_args {
	const char *path;
	const char *signal;
	const char *alarm, *hold;
	bool strict, no_season;
};

/* @v as a plain decimal number within [@lo, @hi]; -EINVAL with a message in @err. */
static int replay_flag_num(const char *flag, const char *v, double lo, double hi, double *out,
			   char *err, size_t errlen)
{
	if (!replay_decimal(v, strlen(v)) || (*out = strtod(v, NULL)) < lo || *out > hi) {
		replay_err(err, errlen,
			   "%s \"%s\": expected a number from %g to %g; see podmeter replay --help",
			   flag, v, lo, hi);
		return -EINVAL;
	}
	return 0;
}

/* The defaults of --signal, then the flags that override them; -EINVAL with @err. */
static int replay_opts(const struct replay_args *a, struct pm_replay_opts *o, char *err,
		       size_t errlen)
{
	enum pm_replay_signal sig = PM_REPLAY_GENERIC;
	int ret = 0;

	if (a->signal && replay__signal(a->signal, &sig)) {
		replay_err(err, errlen,
			   "unknown --signal \"%s\"; use cpu, memory, cost, network or generic",
			   a->signal);
		return -EINVAL;
	}
	replay__defaults(o, sig);
	o->strict = a->strict;
	if (a->no_season)
		o->model.day_s = 0;
	if (a->alarm)
		ret = replay_flag_num("--alarm", a->alarm, PM_ANOMALY_HOLD_FLOOR, 1,
				      &o->model.alarm, err, errlen);
	if (!ret && a->hold)
		ret = replay_flag_num("--hold", a->hold, 0, PM_MODEL_TIME_MAX / 10,
				      &o->model.hold_s, err, errlen);
	return ret;
}

/*
 * The value of flag @argv[*i] ("--flag V" or "--flag=V") into @v, if it is
 * @name; without a value, @name goes to @missing.
 */
static bool replay_flag(const char *name, int argc, char **argv, int *i, const char **v,
			const char **missing)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) || (a[n] && a[n] != '='))
		return false;
	if (a[n] == '=') {
		*v = a + n + 1;
	} else if (*i + 1 < argc) {
		*v = argv[++*i];
	} else {
		*missing = name;
	}
	return true;
}

/* Flags of the detector replay once ran, and what replaced them (in @err). */
static bool replay_retired(const char *arg, char *err, size_t errlen)
{
	static const char *const gone[] = { "--half-life", "--z", "--change-k", "--change-h" };
	size_t i, n;

	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		n = strlen(gone[i]);
		if (!strncmp(arg, gone[i], n) && (!arg[n] || arg[n] == '=')) {
			replay_err(err, errlen,
				   "%s is gone: scores are calibrated and the models adapt on "
				   "their own; set --alarm SCORE and --hold SECONDS instead",
				   gone[i]);
			return true;
		}
	}
	return false;
}

/* A flag without a value: true when @arg is one (and it is set). */
static bool replay_switch(const char *arg, struct replay_args *a)
{
	if (!strcmp(arg, "--strict"))
		a->strict = true;
	else if (!strcmp(arg, "--no-season"))
		a->no_season = true;
	else
		return false;
	return true;
}

/* 0, 1 for --help (printed), -1 with a message in @err. */
static int replay_args(int argc, char **argv, struct replay_args *a, char *err, size_t errlen)
{
	const char *missing = NULL;
	bool files = false;
	int i;

	for (i = 1; i < argc && !missing; i++) {
		const char *arg = argv[i];

		if (!files && !strcmp(arg, "--")) {
			files = true;
			continue;
		}
		if (!files && (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
			replay__usage(stdout);
			return 1;
		}
		if (!files && arg[0] == '-' && arg[1]) {
			if (replay_switch(arg, a) ||
			    replay_flag("--signal", argc, argv, &i, &a->signal, &missing) ||
			    replay_flag("--alarm", argc, argv, &i, &a->alarm, &missing) ||
			    replay_flag("--hold", argc, argv, &i, &a->hold, &missing))
				continue;
			if (!replay_retired(arg, err, errlen))
				replay_err(err, errlen,
					   "unknown flag %s; see podmeter replay --help", arg);
			return -1;
		}
		if (a->path) {
			replay_err(err, errlen, "one FILE at a time; see podmeter replay --help");
			return -1;
		}
		a->path = arg;
	}
	if (missing) {
		replay_err(err, errlen, "%s needs a value; see podmeter replay --help", missing);
		return -1;
	}
	if (!a->path) {
		replay_err(err, errlen,
			   "no FILE; give a CSV file, or - for stdin (podmeter replay --help)");
		return -1;
	}
	return 0;
}

int replay__main(int argc, char **argv)
{
	struct replay_args a = { 0 };
	char err[REPLAY_ERR_MAX] = "";
	struct pm_replay_opts o;
	bool std_in;
	FILE *in;
	int ret;

	ret = replay_args(argc, argv, &a, err, sizeof(err));
	if (!ret)
		ret = replay_opts(&a, &o, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "replay: %s\n", err);
	if (ret)
		return ret > 0 ? 0 : 2;
	std_in = !strcmp(a.path, "-");
	in = std_in ? stdin : fopen(a.path, "r");
	if (!in) {
		fprintf(stderr, "replay: %s: %s; check the path\n", a.path, strerror(errno));
		return 2;
	}
	ret = replay__run(in, stdout, &o, err, sizeof(err));
	if (!std_in)
		fclose(in);
	if (!ret && fflush(stdout)) {
		snprintf(err, sizeof(err), "writing the output: %s", strerror(errno));
		ret = -EIO;
	}
	if (ret && ferror(stdout)) {
		fprintf(stderr, "replay: %s\n", err);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "replay: %s: %s\n", std_in ? "stdin" : a.path, err);
		return 2;
	}
	return 0;
}
