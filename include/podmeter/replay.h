/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * podmeter replay: the on-node anomaly detector (struct pm_anomaly, model.h)
 * run offline over a timestamp,value series, so alarms can be back-tested
 * on history.
 *
 * Each row is scored against the rows before it and only then learnt from
 * (replay__step), and replay__run writes a row's result before it reads the
 * next line: a row's score never depends on a later row.
 *
 * Timestamps as real exports have them (the default; --strict refuses the
 * first three instead, as malformed input):
 *   repeated      the same time as the row before: scored and learnt as one
 *                 more sample at that time
 *   late          before the latest time seen (out of order, a clock set
 *                 back): scored and learnt as a sample at the latest time
 *   gap           any interval: the baselines age by the number of typical
 *                 intervals it spans (at most PM_ANOMALY_LEVEL_HL); the
 *                 statistics count rows
 *   irregular     the typical interval is a running median of the intervals
 *
 * Per row: the score in [0, 1] (surprise / 10: the row's false-alarm
 * probability is about 10^(-10 score)), the state and the kind of anomaly:
 *   warmup   the first PM_ANOMALY_WARMUP rows: too few to judge, score 0
 *   anomaly  score >= the alarm level (0.5), the event's first: a new alarm
 *   held     part of an event that alarmed already or scored higher (within
 *            the hold time of its top score); the score is capped just below
 *            PM_ANOMALY_HOLD_FLOOR unless it beats the event's top
 *   normal   otherwise
 */
#ifndef PODMETER_REPLAY_H
#define PODMETER_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <podmeter/model.h>

enum pm_replay_signal {
	PM_REPLAY_GENERIC,
	PM_REPLAY_CPU,	   /* cores */
	PM_REPLAY_MEMORY,  /* bytes */
	PM_REPLAY_COST,	   /* per hour */
	PM_REPLAY_NETWORK, /* bytes per second */
	PM_REPLAY_SIGNALS,
};

enum pm_replay_state {
	PM_REPLAY_STATE_WARMUP,
	PM_REPLAY_STATE_NORMAL,
	PM_REPLAY_STATE_ANOMALY,
	PM_REPLAY_STATE_HELD,
};

struct pm_replay_opts {
	struct pm_anomaly_cfg model;
	bool strict; /* refuse repeated and late timestamps */
};

struct pm_replay {
	struct pm_replay_opts o;
	struct pm_anomaly model;
	uint64_t n; /* rows learnt */
	double t;   /* the latest time seen */
};

/* The defaults of @sig into @o (see replay__usage()); -EINVAL for an unknown signal. */
int replay__defaults(struct pm_replay_opts *o, enum pm_replay_signal sig);
/* "cpu", "memory", "cost", "network" or "generic"; -EINVAL otherwise. */
int replay__signal(const char *name, enum pm_replay_signal *sig);
const char *replay__state_name(enum pm_replay_state st);

/* -EINVAL for settings the detector refuses. */
int replay__init(struct pm_replay *r, const struct pm_replay_opts *o);
/*
 * Score (@t seconds, @x) against the rows so far, then learn it; a @t before
 * the latest is taken as the latest (see above). -EINVAL, and nothing
 * learnt, for NaN/infinite input, |@x| > PM_MODEL_VALUE_MAX,
 * |@t| >= PM_MODEL_TIME_MAX, or, with o.strict, a @t not after the last row's.
 */
int replay__step(struct pm_replay *r, double t, double x, struct pm_anomaly_result *res,
		 enum pm_replay_state *state);

/*
 * Read a CSV series from @in (a header line, then TIMESTAMP,VALUE rows;
 * TIMESTAMP is YYYY-MM-DD HH:MM:SS in UTC or unix seconds) and write
 * "timestamp,value,anomaly_score,state,kind" rows to @out, one per input
 * row, as it goes: rows before a bad line are written. 0; -EINVAL for
 * malformed input, with @err "line N: what is wrong"; -EIO when reading
 * fails and another negative errno when writing fails or memory runs out,
 * with @err naming which.
 */
int replay__run(FILE *in, FILE *out, const struct pm_replay_opts *o, char *err, size_t errlen);

void replay__usage(FILE *f);
/* podmeter replay [flags] FILE: exit status 0, 1 (writing failed) or 2 (usage or input). */
int replay__main(int argc, char **argv);

#endif /* PODMETER_REPLAY_H */
