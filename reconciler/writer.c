// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Group commit (see writer.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rec_limits.h"
#include "writer.h"

struct job {
	struct store_report *sr;
	bool done;
	struct job *next;
};

struct worker {
	struct rec_writer *w;
	struct store *store;
	pthread_t thread;
	bool started;
};

struct rec_writer {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job queued, or stopping */
	pthread_cond_t done; /* a batch finished */
	struct job *head, **tail;
	size_t queued;
	bool stop;
	struct rec_metrics *m;
	struct worker *workers;
	int n;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Under the lock: up to REC_BATCH_MAX jobs off the queue. */
static size_t take(struct rec_writer *w, struct job **batch)
{
	size_t n = 0;

	while (w->head && n < REC_BATCH_MAX) {
		batch[n++] = w->head;
		w->head = w->head->next;
		w->queued--;
	}
	if (!w->head)
		w->tail = &w->head;
	metrics__queue(w->m, w->queued);
	return n;
}

static void write_batch(struct worker *k, struct job **batch, struct store_report *reps, size_t n)
{
	char err[512];
	double t0 = mono();
	size_t i;
	int ret;

	for (i = 0; i < n; i++)
		reps[i] = *batch[i]->sr;
	ret = store__ingest(k->store, reps, n, err, sizeof(err));
	metrics__transaction(k->w->m, mono() - t0, n, !ret);
	if (ret)
		fprintf(stderr,
			"warning: store: a batch of %zu reports: %s; answered 503, the "
			"agents retry\n",
			n, err);
	for (i = 0; i < n; i++) {
		batch[i]->sr->verdict = reps[i].verdict;
		batch[i]->sr->seq_jump = reps[i].seq_jump;
		memcpy(batch[i]->sr->why, reps[i].why, sizeof(reps[i].why));
		metrics__verdict(k->w->m, &reps[i]);
	}
}

static void *run(void *arg)
{
	struct worker *k = arg;
	struct rec_writer *w = k->w;
	struct job *batch[REC_BATCH_MAX];
	struct store_report *reps = calloc(REC_BATCH_MAX, sizeof(*reps));
	size_t n, i;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->work, &w->lock);
		if (!w->head)
			break;
		n = take(w, batch);
		pthread_mutex_unlock(&w->lock);
		if (reps) {
			write_batch(k, batch, reps, n);
		} else {
			for (i = 0; i < n; i++)
				batch[i]->sr->verdict = STORE_FAILED;
		}
		pthread_mutex_lock(&w->lock);
		for (i = 0; i < n; i++)
			batch[i]->done = true;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	free(reps);
	return NULL;
}

int writer__start(struct rec_writer **out, struct store **stores, int n, struct rec_metrics *m)
{
	struct rec_writer *w = calloc(1, sizeof(*w));
	int i, ret = 0;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	w->tail = &w->head;
	w->m = m;
	w->workers = calloc(n, sizeof(*w->workers));
	if (!w->workers) {
		free(w);
		return -ENOMEM;
	}
	w->n = n;
	for (i = 0; i < n && !ret; i++) {
		w->workers[i] = (struct worker){ .w = w, .store = stores[i] };
		ret = -pthread_create(&w->workers[i].thread, NULL, run, &w->workers[i]);
		w->workers[i].started = !ret;
	}
	if (ret) {
		writer__stop(w);
		return ret;
	}
	*out = w;
	return 0;
}

int writer__submit(struct rec_writer *w, struct store_report *sr)
{
	struct job j = { .sr = sr };

	pthread_mutex_lock(&w->lock);
	if (w->stop || w->queued >= REC_QUEUE_MAX) {
		bool stopping = w->stop;

		pthread_mutex_unlock(&w->lock);
		return stopping ? -ESHUTDOWN : -EAGAIN;
	}
	*w->tail = &j;
	w->tail = &j.next;
	w->queued++;
	metrics__queue(w->m, w->queued);
	pthread_cond_signal(&w->work);
	while (!j.done)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void writer__stop(struct rec_writer *w)
{
	int i;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->n; i++)
		if (w->workers[i].started)
			pthread_join(w->workers[i].thread, NULL);
	free(w->workers);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	free(w);
}
