// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Idle and zombie detection over synthetic pods, one snapshot a second, with
 * a 10 s window: each pod is classified as its usage says, and nothing else
 * is flagged.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <podmeter/detect.h>

enum { BUSY, IDLE, BURST, HOLDER, GPU, ORPHAN, UNREAPED, NPODS };
static const char *const uids[NPODS] = { "a-busy", "b-idle",   "c-burst",   "d-holder",
					 "e-gpu",  "f-orphan", "g-unreaped" };

/* The snapshot at second @t: every pod's cumulative counters as its load says. */
static struct pm_snapshot *at(int t)
{
	struct pm_snapshot *s = snapshot__new(NPODS);
	int i;

	assert_non_null(s);
	s->time = 1790000000 + t;
	s->mono = t;
	for (i = 0; i < NPODS; i++) {
		struct pm_pod_snap *p = &s->pods[i];

		strcpy(p->uid, uids[i]);
		p->has_meta = i != ORPHAN;
		p->processes = 1;
		p->cpu_request_milli = 1000;
		p->working_set_bytes = 4 << 20;
		p->cost_dollars[PM_RES_CPU] = t * 1e-5;
	}
	s->pods[BUSY].cpu_ns = (uint64_t)t * 900000000ULL; /* 0.9 cores */
	s->pods[IDLE].cpu_ns = (uint64_t)t * 1000000ULL;   /* 0.001 cores */
	/* 0.4 s of CPU every 4 s, nothing in between */
	s->pods[BURST].cpu_ns = (uint64_t)(t / 4) * 400000000ULL;
	s->pods[HOLDER].working_set_bytes = 64 << 20;
	s->pods[GPU].cuda.memory_bytes = 1 << 30;
	s->pods[GPU].cuda.allocs = 1;
	s->pods[ORPHAN].processes = 2;
	s->pods[UNREAPED].zombies = 1;
	return s;
}

static struct pm_detector *run(int until, struct pm_snapshot **last)
{
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s;
	int t;

	detect__defaults(&cfg);
	cfg.window_s = 10;
	d = detect__new(&cfg);
	assert_non_null(d);
	for (t = 0; t <= until; t++) {
		s = at(t);
		assert_int_equal(detect__tick(d, s, true, true), 0);
		if (t < until)
			snapshot__put(s);
	}
	*last = s;
	return d;
}

static const char *attr_of(const struct pm_finding_snap *f, const char *key)
{
	int i;

	for (i = 0; i < f->n_attrs; i++)
		if (!strcmp(f->attrs[i].key, key))
			return f->attrs[i].value;
	fail_msg("finding %s has no attribute %s", f->kind, key);
	return "";
}

static const char *kind_of(const struct pm_pod_snap *p)
{
	return p->n_findings ? p->findings[0].kind : "";
}

/* Before the window has passed nothing but the unreaped children is flagged. */
static void test_nothing_before_window(void **state)
{
	struct pm_snapshot *s;
	struct pm_detector *d = run(8, &s);
	int i;

	(void)state;
	for (i = 0; i < NPODS; i++) {
		assert_false(s->pods[i].idle);
		if (i == UNREAPED)
			assert_int_equal(s->pods[i].zombie_mask, 1u << PM_ZOMBIE_PROCESS);
		else
			assert_int_equal(s->pods[i].n_findings, 0);
	}
	snapshot__put(s);
	detect__free(d);
}

static void test_classified(void **state)
{
	struct pm_snapshot *s;
	struct pm_detector *d = run(30, &s);
	static const struct {
		int pod;
		const char *kind;
		unsigned int mask;
		int idle;
	} want[] = {
		{ BUSY, "", 0, 0 },
		{ IDLE, "idle", 0, 1 },
		{ BURST, "", 0, 0 },
		{ HOLDER, "zombie-workload", 1u << PM_ZOMBIE_WORKLOAD, 0 },
		{ GPU, "zombie-gpu", 1u << PM_ZOMBIE_GPU, 0 },
		{ ORPHAN, "zombie-orphan", 1u << PM_ZOMBIE_ORPHAN, 0 },
		{ UNREAPED, "zombie-process", 1u << PM_ZOMBIE_PROCESS, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct pm_pod_snap *p = &s->pods[want[i].pod];

		print_message("%-12s kind \"%s\" zombies %#x idle %d (%zu findings)\n", p->uid,
			      kind_of(p), p->zombie_mask, p->idle, p->n_findings);
		assert_string_equal(kind_of(p), want[i].kind);
		assert_int_equal(p->n_findings, want[i].kind[0] ? 1 : 0);
		assert_int_equal(p->zombie_mask, want[i].mask);
		assert_int_equal(p->idle, want[i].idle);
	}
	/* idle since its first second (busy until shown otherwise): 30 s */
	assert_true(s->pods[IDLE].idle_seconds == 30);
	assert_true(s->pods[IDLE].findings[0].score > 0.5);
	snapshot__put(s);
	detect__free(d);
}

/* A condition that persists keeps its id; one that ends and comes back gets a new one. */
static void test_stable_id(void **state)
{
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s;
	char first[17] = "";
	int t;

	(void)state;
	detect__defaults(&cfg);
	cfg.window_s = 10;
	d = detect__new(&cfg);
	for (t = 0; t <= 40; t++) {
		s = at(t);
		if (t == 25) /* a burst: busy again */
			s->pods[IDLE].cpu_ns += 5000000000ULL;
		if (t > 25)
			s->pods[IDLE].cpu_ns += 5000000000ULL;
		assert_int_equal(detect__tick(d, s, true, true), 0);
		if (t == 12)
			strcpy(first, s->pods[IDLE].findings[0].id);
		if (t == 20)
			assert_string_equal(s->pods[IDLE].findings[0].id, first);
		if (t == 30)
			assert_false(s->pods[IDLE].idle);
		if (t == 40) {
			assert_true(s->pods[IDLE].idle);
			assert_string_not_equal(s->pods[IDLE].findings[0].id, first);
		}
		snapshot__put(s);
	}
	detect__free(d);
}

/* Without the kubelet's list an unlisted pod is not an orphan. */
static void test_no_orphan_without_kubelet(void **state)
{
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s;
	int t;

	(void)state;
	detect__defaults(&cfg);
	cfg.window_s = 10;
	d = detect__new(&cfg);
	for (t = 0; t <= 20; t++) {
		s = at(t);
		assert_int_equal(detect__tick(d, s, false, true), 0);
		if (t < 20)
			snapshot__put(s);
	}
	assert_false(s->pods[ORPHAN].zombie_mask & (1u << PM_ZOMBIE_ORPHAN));
	snapshot__put(s);
	detect__free(d);
}

/* One pod, one container: 0.35 cores of its 1 core, 100 MiB of its 512 MiB; cost steps at @step. */
static struct pm_snapshot *one(int t, int step)
{
	struct pm_snapshot *s = snapshot__new(1);
	struct pm_pod_snap *p = &s->pods[0];
	struct pm_container_snap *c;

	assert_non_null(s);
	s->time = 1790000000 + t;
	s->mono = t;
	s->price[PM_RES_CPU] = 0.031611;
	s->price[PM_RES_MEMORY] = 0.004237;
	strcpy(p->uid, "pod");
	p->has_meta = 1;
	p->processes = 1;
	p->cpu_ns = (uint64_t)t * 350000000ULL;
	p->working_set_bytes = 100 << 20;
	/* $0.1/h, then $0.3/h */
	p->cost_dollars[PM_RES_CPU] = t < step ? t * 0.1 / 3600
					       : (step * 0.1 + (t - step) * 0.3) / 3600;
	p->containers = calloc(1, sizeof(*c));
	assert_non_null(p->containers);
	p->n_containers = 1;
	c = &p->containers[0];
	strcpy(c->id, "c0ffee");
	strcpy(c->name, "app");
	c->cpu_ns = p->cpu_ns;
	c->working_set_bytes = 100 << 20;
	c->cpu_request_milli = 1000;
	c->memory_request_bytes = 512 << 20;
	return s;
}

static void test_right_sizing_and_anomaly(void **state)
{
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s = NULL;
	const struct pm_container_snap *c;
	double want_save;
	int t, first_alarm = -1;
	char kind_at_320[24] = "";

	(void)state;
	detect__defaults(&cfg);
	cfg.window_s = 60;
	d = detect__new(&cfg);
	for (t = 0; t <= 400; t++) {
		snapshot__put(s);
		s = one(t, 300);
		assert_int_equal(detect__tick(d, s, true, true), 0);
		if (s->pods[0].anomalies && first_alarm < 0)
			first_alarm = t;
		if (t == 320 && s->pods[0].n_findings) {
			const struct pm_finding_snap *f = &s->pods[0].findings[0];

			strcpy(kind_at_320, f->kind);
			/* the evidence: the rates the test's cost counters were built from */
			assert_string_equal(attr_of(f, "signal"), "cost_rate");
			assert_string_equal(attr_of(f, "direction"), "+1");
			assert_true(fabs(strtod(attr_of(f, "value"), NULL) - 0.3) < 1e-9);
			assert_true(fabs(strtod(attr_of(f, "expected"), NULL) - 0.1) < 1e-6);
			assert_true(f->score >= 0.5 && f->score <= 1);
			print_message("finding: %s\n", f->detail);
		}
	}
	c = &s->pods[0].containers[0];
	print_message("recommended %.4f cores, %.1f MiB, confidence %.4f; saves $%.4f a month; "
		      "cost-rate change found at t=%d (step at 300), %llu in all\n",
		      c->rec_cpu_cores, c->rec_memory_bytes / 1048576, c->rec_confidence,
		      s->pods[0].savings_dollars_month, first_alarm,
		      (unsigned long long)s->pods[0].anomalies);
	/* p95 of a steady 0.35 cores / 0.7 = 0.5 cores, within the sketch's 2% */
	assert_true(fabs(c->rec_cpu_cores - 0.5) <= 0.5 * 0.021);
	assert_true(fabs(c->rec_memory_bytes - 120.0 * 1048576) < 1);
	assert_true(c->rec_confidence > 0 && c->rec_confidence < 0.01); /* 400 s of a day */
	want_save = (1 - c->rec_cpu_cores) * 0.031611 * 730 +
		    (512.0 - 120.0) / 1024 * 0.004237 * 730;
	assert_true(fabs(s->pods[0].savings_dollars_month - want_save) < 1e-9);
	/* the step is found, after it and within 30 ticks, once */
	assert_true(first_alarm >= 300 && first_alarm <= 330);
	assert_int_equal(s->pods[0].anomalies, 1);
	/* shown for a window after it was found, then gone */
	assert_string_equal(kind_at_320, "anomaly");
	assert_int_equal(s->pods[0].n_findings, 0);
	snapshot__put(s);
	detect__free(d);
}

/*
 * A daily pattern (a 24 s "day" of 1 s slots: 0.2 cores half the day, 0.8
 * the other half) is not an anomaly; the same pattern 0.5 cores higher is,
 * found soon after the shift.
 */
static void test_usage_anomaly_with_season(void **state)
{
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s;
	uint64_t cpu_ns = 0;
	int t, shift_at = 24 * 30, found = -1;
	uint64_t before = 0;

	(void)state;
	detect__defaults(&cfg);
	cfg.window_s = 3600;
	cfg.season_slot_s = 1;
	d = detect__new(&cfg);
	for (t = 0; t <= shift_at + 60; t++) {
		double cores = (t % 24) < 12 ? 0.2 : 0.8;

		if (t > shift_at)
			cores += 0.5;
		s = one(t, 1000000); /* constant cost rate: no cost anomaly */
		cpu_ns += (uint64_t)(cores * 1e9);
		s->pods[0].cpu_ns = cpu_ns;
		s->pods[0].containers[0].cpu_ns = cpu_ns;
		assert_int_equal(detect__tick(d, s, true, true), 0);
		if (t == shift_at)
			before = s->pods[0].anomalies;
		if (t > shift_at && s->pods[0].anomalies > before && found < 0) {
			found = t - shift_at;
			const struct pm_finding_snap *f = &s->pods[0].findings[0];

			assert_string_equal(f->kind, "anomaly");
			assert_string_equal(attr_of(f, "signal"), "cpu");
			/* against the daily pattern (0.2 or 0.8), not the day's mean (0.5) */
			assert_true(fabs(strtod(attr_of(f, "value"), NULL) - (cores)) < 1e-6);
			assert_true(fabs(strtod(attr_of(f, "expected"), NULL) - (cores - 0.5)) <
				    0.01);
			print_message("finding: %s\n", f->detail);
		}
		snapshot__put(s);
	}
	print_message("%d periodic days: %llu anomalies; a +0.5 core shift found after %d s\n",
		      shift_at / 24, (unsigned long long)before, found);
	assert_int_equal(before, 0);
	assert_true(found > 0 && found <= 30);
	detect__free(d);
}

/* Nothing below the floors: 10m of CPU, 20 MiB of memory. */
static void test_right_sizing_floors(void **state)
{
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s = NULL;
	int t;

	(void)state;
	detect__defaults(&cfg);
	d = detect__new(&cfg);
	for (t = 0; t <= 20; t++) {
		snapshot__put(s);
		s = one(t, 1000);
		s->pods[0].containers[0].cpu_ns = 0;
		s->pods[0].containers[0].working_set_bytes = 1 << 20;
		assert_int_equal(detect__tick(d, s, true, true), 0);
	}
	assert_true(s->pods[0].containers[0].rec_cpu_cores == 0.01);
	assert_true(s->pods[0].containers[0].rec_memory_bytes == 20.0 * 1048576);
	snapshot__put(s);
	detect__free(d);
}

/*
 * learn_every 5: each pod learns on one periodic tick in five, the pods on
 * different ticks. A container's first recommendation needs two samples
 * (a baseline, then a rate): none before the fifth tick, some pods at the
 * fifth, all by the ninth, and the rate learnt is the five ticks' average.
 */
static void test_learn_turns(void **state)
{
	enum { N = 40 };
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s = NULL;
	size_t with_rec[10] = { 0 };
	int t, i;

	(void)state;
	detect__defaults(&cfg);
	assert_int_equal(cfg.learn_every, 1);
	cfg.learn_every = 5;
	d = detect__new(&cfg);
	assert_non_null(d);
	for (t = 0; t < 10; t++) {
		snapshot__put(s);
		s = snapshot__new(N);
		assert_non_null(s);
		s->time = 1790000000 + t;
		s->mono = t;
		for (i = 0; i < N; i++) {
			struct pm_snapshot *o = one(t, 1000000);

			/* one()'s pod under its own uid; sorted: zero-padded */
			s->pods[i] = o->pods[0];
			snprintf(s->pods[i].uid, sizeof(s->pods[i].uid), "pod-%02d", i);
			memset(&o->pods[0], 0, sizeof(o->pods[0]));
			o->n_pods = 0;
			snapshot__put(o);
		}
		assert_int_equal(detect__tick(d, s, true, true), 0);
		for (i = 0; i < N; i++)
			with_rec[t] += s->pods[i].containers[0].rec_cpu_cores >= 0;
		print_message("tick %d: %zu of %d pods with a recommendation\n", t, with_rec[t], N);
	}
	assert_int_equal(with_rec[4], 0);
	assert_true(with_rec[5] > 0 && with_rec[5] < N);
	assert_int_equal(with_rec[9], N);
	for (t = 5; t < 10; t++)
		assert_true(with_rec[t] >= with_rec[t - 1]);
	/* 0.35 cores whatever the sample's length: p95 / 0.7 = 0.5 cores, within 2% */
	for (i = 0; i < N; i++)
		assert_true(fabs(s->pods[i].containers[0].rec_cpu_cores - 0.5) <= 0.5 * 0.021);
	snapshot__put(s);
	detect__free(d);
}

/*
 * A pod whose containers come and go (a job runner, a crash loop): one
 * container stays throughout, and a new one passes at each tick, each there
 * for two ticks. The one that stays keeps its recommendation whatever
 * passed; each passing one gets its own from its two samples; and a
 * container gone at a periodic sample is forgotten: seen again under its
 * id, it starts over (no rate from one sample).
 */
static void test_containers_come_and_go(void **state)
{
	enum { TICKS = 400, BACK_GONE = 100, BACK_AGAIN = 110 };
	struct pm_detect_cfg cfg;
	struct pm_detector *d;
	struct pm_snapshot *s = NULL;
	struct pm_container_snap *c;
	int t, k, passing_recs = 0;
	bool back_rec_at_again = true;

	(void)state;
	detect__defaults(&cfg);
	d = detect__new(&cfg);
	assert_non_null(d);
	for (t = 0; t <= TICKS; t++) {
		bool back = t < BACK_GONE || t >= BACK_AGAIN;

		snapshot__put(s);
		s = one(t, 1000000);
		c = realloc(s->pods[0].containers, 4 * sizeof(*c));
		assert_non_null(c);
		s->pods[0].containers = c;
		/* the one of one(), then the passing ones of this tick and the last, then "back" */
		for (k = 0; k < 2 && t - k >= 0; k++) {
			c = &s->pods[0].containers[s->pods[0].n_containers++];
			memset(c, 0, sizeof(*c));
			snprintf(c->id, sizeof(c->id), "job%04d", t - k);
			strcpy(c->name, "job");
			c->cpu_ns = k * 200000000ULL; /* 0.2 cores over its one second */
			c->cpu_request_milli = c->memory_request_bytes = -1;
		}
		if (back) {
			c = &s->pods[0].containers[s->pods[0].n_containers++];
			memset(c, 0, sizeof(*c));
			strcpy(c->id, "back");
			strcpy(c->name, "back");
			c->cpu_ns = (uint64_t)t * 100000000ULL;
			c->cpu_request_milli = c->memory_request_bytes = -1;
		}
		assert_int_equal(detect__tick(d, s, true, true), 0);
		for (k = 1; k < (int)s->pods[0].n_containers; k++) {
			c = &s->pods[0].containers[k];
			if (!strncmp(c->id, "job", 3) && strcmp(c->id + 3, "0000") &&
			    c->rec_cpu_cores >= 0 && atoi(c->id + 3) == t - 1)
				passing_recs++;
			if (t == BACK_AGAIN && !strcmp(c->id, "back"))
				back_rec_at_again = c->rec_cpu_cores >= 0;
		}
	}
	c = &s->pods[0].containers[0];
	print_message("%d containers passed; the one that stayed: %.4f cores, confidence %.4f; "
		      "%d passing ones with a recommendation at their second tick\n",
		      TICKS + 1, c->rec_cpu_cores, c->rec_confidence, passing_recs);
	assert_string_equal(c->id, "c0ffee");
	assert_true(fabs(c->rec_cpu_cores - 0.5) <= 0.5 * 0.021);
	assert_true(c->rec_confidence > 0.004); /* its age: 400 s of the 1-day scale */
	/* 0.2 cores / 0.7 above the floors, from a single rate */
	assert_int_equal(passing_recs, TICKS - 1);
	assert_false(back_rec_at_again);
	/* and learnt again from there: 0.1 cores / 0.7 */
	c = &s->pods[0].containers[s->pods[0].n_containers - 1];
	assert_string_equal(c->id, "back");
	assert_true(fabs(c->rec_cpu_cores - 0.1 / 0.7) <= 0.1 / 0.7 * 0.021);
	snapshot__put(s);
	detect__free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_before_window),
		cmocka_unit_test(test_classified),
		cmocka_unit_test(test_stable_id),
		cmocka_unit_test(test_no_orphan_without_kubelet),
		cmocka_unit_test(test_right_sizing_and_anomaly),
		cmocka_unit_test(test_right_sizing_floors),
		cmocka_unit_test(test_usage_anomaly_with_season),
		cmocka_unit_test(test_learn_turns),
		cmocka_unit_test(test_containers_come_and_go),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
