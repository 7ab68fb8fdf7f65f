/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small open-addressing hash map: u64 key -> non-NULL pointer. */
#ifndef PODMETER_U64MAP_H
#define PODMETER_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map_entry {
	uint64_t key;
	void *val; /* NULL = empty slot */
};

struct u64map {
	struct u64map_entry *slots;
	size_t cap; /* power of two */
	size_t len;
};

void u64map__init(struct u64map *m);
void u64map__free(struct u64map *m);
void *u64map__get(const struct u64map *m, uint64_t key);
/* Insert or replace (a replace never fails). Returns 0, -EINVAL for a NULL value, -ENOMEM. */
int u64map__put(struct u64map *m, uint64_t key, void *val);
/* Returns the removed value, or NULL when absent. */
void *u64map__del(struct u64map *m, uint64_t key);

/* Iterate: for (i = 0; u64map__next(m, &i, &k, &v); ) -- no put/del inside. */
int u64map__next(const struct u64map *m, size_t *iter, uint64_t *key, void **val);

#endif /* PODMETER_U64MAP_H */
