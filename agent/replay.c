// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter replay FILE: the EWMA robust z-score and the change detector run
 * offline over a timestamp,value CSV, one score and state per row (the rules
 * are in include/podmeter/replay.h). A row is read, scored, learnt and
 * written before the next line is read, so nothing can look ahead.
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
#define REPLAY_QUOTE_MAX 48	/* a field quoted in a message, "..." included */
#define REPLAY_HEADER	 "timestamp,value,anomaly_score,state\n"
#define REPLAY_TS_HINT	 "use YYYY-MM-DD HH:MM:SS (UTC) or unix seconds"

struct replay_signal_def {
	const char *name;
	const char *unit;
	const char *why;
	struct pm_replay_opts o;
};

/*
 * Starting points, one per kind of series: the agent's own settings where it
 * has them (PM_POD_*, PM_CHANGE_*), adjusted for how the series behaves.
 */
static const struct replay_signal_def replay_signals[PM_REPLAY_SIGNALS] = {
	[PM_REPLAY_GENERIC] = {
		"generic", "any", "the agent's EWMA and detector settings",
		{ PM_POD_EWMA_HALF_LIFE_S, 0, 5, PM_CHANGE_CUSUM, PM_CHANGE_K, PM_CHANGE_H,
		  PM_CHANGE_WARMUP },
	},
	[PM_REPLAY_CPU] = {
		"cpu", "cores", "bursty: a higher z",
		{ PM_POD_EWMA_HALF_LIFE_S, PM_POD_CPU_RESOLUTION, 6, PM_CHANGE_CUSUM, PM_CHANGE_K,
		  PM_CHANGE_H, PM_CHANGE_WARMUP },
	},
	[PM_REPLAY_MEMORY] = {
		"memory", "bytes", "smooth, grows slowly: a longer half-life, shifts of 0.5 sigma",
		{ 1800, PM_POD_MEM_RESOLUTION, 5, PM_CHANGE_CUSUM, 0.25, PM_CHANGE_H,
		  PM_CHANGE_WARMUP },
	},
	[PM_REPLAY_COST] = {
		"cost", "/hour", "steps as pods scale: the agent's cost detector",
		{ 3600, PM_POD_COST_RESOLUTION, 5, PM_CHANGE_CUSUM, PM_CHANGE_K, PM_CHANGE_H,
		  PM_CHANGE_WARMUP },
	},
	[PM_REPLAY_NETWORK] = {
		"network", "bytes/s", "heavy-tailed bursts: a high z, only lasting shifts",
		{ 300, 1, 8, PM_CHANGE_CUSUM, 1, 30, PM_CHANGE_WARMUP },
	},
};

int replay__defaults(struct pm_replay_opts *o, enum pm_replay_signal sig)
{
	if ((unsigned int)sig >= PM_REPLAY_SIGNALS)
		return -EINVAL;
	*o = replay_signals[sig].o;
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
	}
	return "unknown";
}

/* ---- the models, one row at a time ---- */

int replay__init(struct pm_replay *r, const struct pm_replay_opts *o)
{
	const struct pm_change_cfg cc = {
		.method = o->method,
		.k = o->k,
		.h = o->h,
		.warmup = o->warmup,
		.min_sigma = o->resolution,
	};
	int ret;

	if (!isfinite(o->z_max) || o->z_max <= 0)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	ret = ewma__init(&r->ewma, o->half_life_s, o->resolution);
	if (ret)
		return ret;
	ret = change__init(&r->change, &cc);
	if (ret)
		return ret;
	r->o = *o;
	return 0;
}

/*
 * The sum that raised an alarm at @x: change__update() resets on an alarm,
 * so it is read from a copy of the detector as it was before @x, its
 * threshold out of reach.
 */
static double replay_alarm_sum(const struct pm_change *before, double x)
{
	struct pm_change c = *before;

	c.cfg.h = INFINITY;
	change__update(&c, x, NULL);
	return fmax(c.s_up, c.s_dn);
}

int replay__step(struct pm_replay *r, double t, double x, double *score,
		 enum pm_replay_state *state)
{
	struct pm_change before;
	double z, s, m;
	bool alarm;

	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX || !isfinite(x) ||
	    fabs(x) > PM_MODEL_VALUE_MAX)
		return -EINVAL;
	if (r->n && t <= r->t)
		return -EINVAL;

	/* judge against the rows before this one... */
	z = fabs(ewma__score(&r->ewma, x));
	before = r->change;
	/* ...then learn it (validated above: neither update fails) */
	alarm = change__update(&r->change, x, NULL) == 1;
	ewma__update(&r->ewma, t, x);
	r->t = t;
	if (r->n++ < PM_REPLAY_WARMUP(&r->o)) {
		*score = 0;
		*state = PM_REPLAY_STATE_WARMUP;
		return 0;
	}
	s = alarm ? replay_alarm_sum(&before, x) : fmax(r->change.s_up, r->change.s_dn);
	m = fmax(z / r->o.z_max, s / r->o.h);
	*score = 1 - exp2(-m);
	*state = alarm || z >= r->o.z_max ? PM_REPLAY_STATE_ANOMALY : PM_REPLAY_STATE_NORMAL;
	return 0;
}

/* ---- the CSV ---- */

struct replay_field {
	const char *raw;	/* as given, echoed */
	size_t raw_len;
	const char *s;		/* without surrounding blanks, parsed */
	size_t len;
};

struct replay_reader {
	FILE *in;
	char *line;
	size_t cap, len;
	size_t lineno;
	size_t blank;		/* first blank line since the last row; 0: none */
	size_t prev_line;	/* the last row's line; 0: none yet */
	double prev_t;
	char prev_ts[REPLAY_QUOTE_MAX];
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
		replay_err(err, errlen, "line %zu: no value after the comma; expected TIMESTAMP,VALUE",
			   lineno);
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
	REPLAY_TS_FORMAT,	/* neither form */
	REPLAY_TS_DATE,		/* the date form, with a field out of range */
	REPLAY_TS_BIG,		/* unix seconds past PM_MODEL_TIME_MAX */
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
		frac = strtod(s + i, NULL);	/* ".ddd": stops at the digits' end */
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

/* Unix seconds: digits[.digits], below PM_MODEL_TIME_MAX (15 digits). */
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
	if (i > 15)
		return REPLAY_TS_BIG;
	*t = strtod(s, NULL);
	return REPLAY_TS_OK;
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
		replay_err(err, errlen, "line %zu: \"%s\" is out of range; unix seconds have at "
					"most 15 digits",
			   lineno, q);
	else
		replay_err(err, errlen, "line %zu: \"%s\" is not a timestamp; %s", lineno, q,
			   REPLAY_TS_HINT);
	return -EINVAL;
}

/* Strictly after the last row's: the EWMA weighs samples by the time between them. */
static int replay_order(struct replay_reader *rd, const struct replay_row *row, char *err,
			size_t errlen)
{
	char q[REPLAY_QUOTE_MAX];

	replay_quote(row->ts.s, row->ts.len, q, sizeof(q));
	if (rd->prev_line && row->t < rd->prev_t) {
		replay_err(err, errlen,
			   "line %zu: timestamp \"%s\" goes back in time from line %zu's \"%s\"; "
			   "sort the rows by time",
			   rd->lineno, q, rd->prev_line, rd->prev_ts);
		return -EINVAL;
	}
	if (rd->prev_line && row->t == rd->prev_t) {
		replay_err(err, errlen,
			   "line %zu: timestamp \"%s\" repeats line %zu's; keep one row per timestamp",
			   rd->lineno, q, rd->prev_line);
		return -EINVAL;
	}
	rd->prev_line = rd->lineno;
	rd->prev_t = row->t;
	memcpy(rd->prev_ts, q, sizeof(q));
	return 0;
}

/* Split and parse the current line (not blank) into @row. */
static int replay_parse(struct replay_reader *rd, struct replay_row *row, char *err,
			size_t errlen)
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
	*comma = '\0';	/* the timestamp's end, for strtod() */
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
static int replay_next(struct replay_reader *rd, struct replay_row *row, char *err,
		       size_t errlen)
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
static int replay_row_out(struct pm_replay *r, const struct replay_row *row, FILE *out,
			  char *err, size_t errlen, size_t lineno)
{
	enum pm_replay_state st;
	double score;
	int ret;

	ret = replay__step(r, row->t, row->x, &score, &st);
	if (ret) {
		/* the parser checked what the models check: not expected */
		replay_err(err, errlen, "line %zu: the models refuse this row", lineno);
		return ret;
	}
	errno = 0;
	if (fprintf(out, "%.*s,%.*s,%.4f,%s\n", (int)row->ts.raw_len, row->ts.raw,
		    (int)row->val.raw_len, row->val.raw, score, replay__state_name(st)) < 0)
		return replay_write_err(err, errlen);
	return 0;
}

int replay__run(FILE *in, FILE *out, const struct pm_replay_opts *o, char *err, size_t errlen)
{
	struct replay_reader rd = { .in = in };
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
		replay_err(err, errlen, "empty; expected a header line (e.g. timestamp,value), "
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
		"usage: podmeter replay [--signal SIGNAL] [flags] FILE.csv\n\n"
		"Run podmeter's anomaly models over a recorded series, to back-test thresholds\n"
		"on your own history. FILE (- for stdin) is CSV: a header line, then one\n"
		"TIMESTAMP,VALUE row per sample in time order; TIMESTAMP is YYYY-MM-DD HH:MM:SS\n"
		"(UTC) or unix seconds. Prints timestamp,value,anomaly_score,state, one row per\n"
		"input row, each scored on the rows up to it only (what the agent would have\n"
		"said at that time).\n\n"
		"  z       robust z-score of the value against an EWMA baseline of the rows before\n"
		"  S       the change detector's sum (CUSUM), in sigma\n"
		"  state   warmup   the first %u rows: the models are learning (score 0)\n"
		"          anomaly  |z| >= Z, or the change detector alarms at this row\n"
		"          normal   otherwise\n"
		"  score   1 - 2^-max(|z|/Z, S/H), in [0, 1]: 0.5 at a threshold, 0.5 or more\n"
		"          for anomalies. After a shift, |z| falls as the baseline follows the\n"
		"          new level (within a few half-lives); the detector relearns for %u rows\n\n"
		"flags:\n"
		"  --signal SIGNAL      defaults for the kind of series (default generic):\n"
		"      SIGNAL   unit     half-life  Z   CUSUM K  H   resolution (floor of sigma)\n",
		PM_REPLAY_WARMUP(&replay_signals[PM_REPLAY_GENERIC].o),
		replay_signals[PM_REPLAY_GENERIC].o.warmup);
	for (i = 0; i < PM_REPLAY_SIGNALS; i++) {
		const struct replay_signal_def *d = &replay_signals[i];

		fprintf(f, "      %-8s %-8s %6gs    %-3g %-4g  %-3g %g\n", d->name, d->unit,
			d->o.half_life_s, d->o.z_max, d->o.k, d->o.h, d->o.resolution);
	}
	for (i = 0; i < PM_REPLAY_SIGNALS; i++)
		fprintf(f, "      %-8s %s\n", replay_signals[i].name, replay_signals[i].why);
	fprintf(f,
		"  --half-life SECONDS  EWMA half-life, in the timestamps' seconds; for a series\n"
		"                       sampled minutes apart or more, make it span 100 rows\n"
		"  --z Z                robust z-score threshold\n"
		"  --change-k K         change detector allowance, in sigma (finds shifts above 2K)\n"
		"  --change-h H         change detector threshold, in sigma (higher: fewer alarms)\n"
		"  -h, --help           this text\n\n"
		"Exit status: 0; 2 for a usage error, an unreadable file or a malformed row\n"
		"(the message names the line; the rows before it are printed); 1 when writing\n"
		"the output fails.\n");
}

struct replay_args {
	const char *path;
	const char *signal;
	const char *half_life, *z, *k, *h;
};

/* @v as a plain decimal number within [@lo, @hi]; -EINVAL with a message printed. */
static int replay_flag_num(const char *flag, const char *v, double lo, double hi, double *out)
{
	if (!replay_decimal(v, strlen(v)) || (*out = strtod(v, NULL)) < lo || *out > hi) {
		fprintf(stderr, "replay: %s \"%s\": expected a number from %g to %g; see podmeter "
				"replay --help\n",
			flag, v, lo, hi);
		return -EINVAL;
	}
	return 0;
}

/* The defaults of --signal, then the flags that override them. */
static int replay_opts(const struct replay_args *a, struct pm_replay_opts *o)
{
	enum pm_replay_signal sig = PM_REPLAY_GENERIC;
	int ret = 0;

	if (a->signal && replay__signal(a->signal, &sig)) {
		fprintf(stderr, "replay: unknown --signal \"%s\"; use cpu, memory, cost, network "
				"or generic\n",
			a->signal);
		return -EINVAL;
	}
	replay__defaults(o, sig);
	if (a->half_life)
		ret = replay_flag_num("--half-life", a->half_life, PM_EWMA_HALF_LIFE_MIN,
				      PM_EWMA_HALF_LIFE_MAX, &o->half_life_s);
	if (!ret && a->z)
		ret = replay_flag_num("--z", a->z, 0.01, PM_Z_MAX, &o->z_max);
	if (!ret && a->k)
		ret = replay_flag_num("--change-k", a->k, 0, 100, &o->k);
	if (!ret && a->h)
		ret = replay_flag_num("--change-h", a->h, 0.01, 1e6, &o->h);
	return ret;
}

/* The value of flag @argv[*i] ("--flag V" or "--flag=V") into @v, if it is @name. */
static bool replay_flag(const char *name, int argc, char **argv, int *i, const char **v,
			int *bad)
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
		fprintf(stderr, "replay: %s needs a value; see podmeter replay --help\n", name);
		*bad = 1;
	}
	return true;
}

/* 0, 1 for --help (printed), -1 with a message printed. */
static int replay_args(int argc, char **argv, struct replay_args *a)
{
	bool files = false;
	int i, bad = 0;

	for (i = 1; i < argc && !bad; i++) {
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
			if (replay_flag("--signal", argc, argv, &i, &a->signal, &bad) ||
			    replay_flag("--half-life", argc, argv, &i, &a->half_life, &bad) ||
			    replay_flag("--z", argc, argv, &i, &a->z, &bad) ||
			    replay_flag("--change-k", argc, argv, &i, &a->k, &bad) ||
			    replay_flag("--change-h", argc, argv, &i, &a->h, &bad))
				continue;
			fprintf(stderr, "replay: unknown flag %s; see podmeter replay --help\n", arg);
			return -1;
		}
		if (a->path) {
			fprintf(stderr, "replay: one FILE at a time; see podmeter replay --help\n");
			return -1;
		}
		a->path = arg;
	}
	if (bad)
		return -1;
	if (!a->path) {
		fprintf(stderr, "replay: no FILE; give a CSV file, or - for stdin (podmeter "
				"replay --help)\n");
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

	ret = replay_args(argc, argv, &a);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (replay_opts(&a, &o))
		return 2;
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
