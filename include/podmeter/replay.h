/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * podmeter replay: the on-node models (model.h) run offline over a
 * timestamp,value series, so thresholds can be back-tested on history.
 *
 * Each row is scored against the rows before it and only then learnt from
 * (replay__step), and replay__run writes a row's result before it reads the
 * next line: a row's score never depends on a later row.
 *
 * Per row:
 *   z      robust z-score of the value against the EWMA's center and scale
 *          (ewma__score(), taken before the value is added)
 *   S      the change detector's larger one-sided sum after the value
 *          (CUSUM or Page-Hinkley, in sigma; 0 while it learns a level)
 *   m      max(|z| / z_max, S / h): 1 at either threshold
 *   score  1 - 2^-m, in [0, 1]: 0.5 at a threshold, monotone in |z| and S
 *   state  warmup   the first PM_REPLAY_WARMUP(o) rows: too few to judge, score 0
 *          anomaly  |z| >= z_max, or the detector raised an alarm at this row
 *          normal   otherwise
 * So anomaly rows score 0.5 or more and the others 0.5 or less. After an
 * alarm the detector learns the new level for `warmup` rows, during which
 * the z-score alone decides, and |z| of a shifted level falls as the EWMA's
 * center and scale follow it (within a few half-lives).
 */
#ifndef PODMETER_REPLAY_H
#define PODMETER_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <podmeter/model.h>

enum pm_replay_signal {
	PM_REPLAY_GENERIC,
	PM_REPLAY_CPU,		/* cores */
	PM_REPLAY_MEMORY,	/* bytes */
	PM_REPLAY_COST,		/* per hour */
	PM_REPLAY_NETWORK,	/* bytes per second */
	PM_REPLAY_SIGNALS,
};

enum pm_replay_state {
	PM_REPLAY_STATE_WARMUP,
	PM_REPLAY_STATE_NORMAL,
	PM_REPLAY_STATE_ANOMALY,
};

struct pm_replay_opts {
	double half_life_s;	/* EWMA half-life, seconds of the series' timestamps */
	double resolution;	/* floor of the EWMA scale and the detector's sigma */
	double z_max;		/* |robust z| at or above: anomaly */
	enum pm_change_method method;
	double k, h;		/* change detector allowance and threshold, in sigma */
	uint32_t warmup;	/* change detector warm-up, rows, >= 2 */
};

/* Rows scored 0 with state warmup: until both models have learnt enough. */
#define PM_REPLAY_WARMUP(o) ((o)->warmup > PM_EWMA_WARMUP ? (o)->warmup : PM_EWMA_WARMUP)

struct pm_replay {
	struct pm_replay_opts o;
	struct pm_ewma ewma;
	struct pm_change change;
	uint64_t n;		/* rows learnt */
	double t;		/* the last row's time */
};

/* The defaults of @sig into @o (see replay__usage()); -EINVAL for an unknown signal. */
int replay__defaults(struct pm_replay_opts *o, enum pm_replay_signal sig);
/* "cpu", "memory", "cost", "network" or "generic"; -EINVAL otherwise. */
int replay__signal(const char *name, enum pm_replay_signal *sig);
const char *replay__state_name(enum pm_replay_state st);

/* -EINVAL for options the models refuse (half-life, resolution, k, h, warmup) or z_max <= 0. */
int replay__init(struct pm_replay *r, const struct pm_replay_opts *o);
/*
 * Score (@t seconds, @x) against the rows so far, then learn it. -EINVAL,
 * and nothing learnt, for NaN/infinite input, |@x| > PM_MODEL_VALUE_MAX,
 * |@t| >= PM_MODEL_TIME_MAX or a @t not after the last row's.
 */
int replay__step(struct pm_replay *r, double t, double x, double *score,
		 enum pm_replay_state *state);

/*
 * Read a CSV series from @in (a header line, then TIMESTAMP,VALUE rows;
 * TIMESTAMP is YYYY-MM-DD HH:MM:SS in UTC or unix seconds) and write
 * "timestamp,value,anomaly_score,state" rows to @out, one per input row, as
 * it goes: rows before a bad line are written. 0; -EINVAL for malformed
 * input, with @err "line N: what is wrong"; -EIO when reading fails and
 * another negative errno when writing fails or memory runs out, with @err
 * naming which.
 */
int replay__run(FILE *in, FILE *out, const struct pm_replay_opts *o, char *err, size_t errlen);

void replay__usage(FILE *f);
/* podmeter replay [flags] FILE: exit status 0, 1 (writing failed) or 2 (usage or input). */
int replay__main(int argc, char **argv);

#endif /* PODMETER_REPLAY_H */
