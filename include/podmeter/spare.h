/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One freed array kept for the next of about its size: a per-tick array
 * taken from fresh pages (past malloc's mmap threshold, or after a trim) is
 * a page fault every 4 KiB. Not locked: a caller shared by threads locks.
 */
#ifndef PODMETER_SPARE_H
#define PODMETER_SPARE_H

#include <stddef.h>

struct pm_spare {
	void *p;
	size_t cap; /* elements p has room for */
};

/* The kept array when it holds @n elements and not more than twice that; else NULL. */
static inline void *spare__take(struct pm_spare *s, size_t n, size_t *cap)
{
	void *p = NULL;

	if (s->p && s->cap >= n && s->cap <= 2 * n + 64) {
		p = s->p;
		*cap = s->cap;
		s->p = NULL;
	}
	return p;
}

/*
 * @p (room for @cap) kept in place of the one kept before, which is
 * returned to be freed: the newest, so that one grown larger than the
 * arrays now needed goes when they shrink.
 */
static inline void *spare__give(struct pm_spare *s, void *p, size_t cap)
{
	void *drop = s->p;

	if (!p)
		return NULL;
	s->p = p;
	s->cap = cap;
	return drop;
}

#endif /* PODMETER_SPARE_H */
