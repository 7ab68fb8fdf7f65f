// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Linear probing with backward-shift deletion: no tombstones to age. */
#include <errno.h>
#include <stdlib.h>
#include <podmeter/u64map.h>

#define MIN_CAP 16

static size_t slot_of(const struct u64map *m, uint64_t key)
{
	/* splitmix64 finaliser: cgroup ids are dense, spread them */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return key & (m->cap - 1);
}

void u64map__init(struct u64map *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
}

void u64map__free(struct u64map *m)
{
	free(m->slots);
	u64map__init(m);
}

static struct u64map_entry *find(const struct u64map *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		struct u64map_entry *e = &m->slots[i];

		if (!e->val || e->key == key)
			return e;
	}
}

void *u64map__get(const struct u64map *m, uint64_t key)
{
	struct u64map_entry *e = find(m, key);

	return e ? e->val : NULL;
}

static int grow(struct u64map *m)
{
	struct u64map old = *m;
	size_t i;

	m->cap = old.cap ? old.cap * 2 : MIN_CAP;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -ENOMEM;
	}
	m->len = 0;
	for (i = 0; i < old.cap; i++)
		if (old.slots[i].val)
			u64map__put(m, old.slots[i].key, old.slots[i].val);
	free(old.slots);
	return 0;
}

int u64map__put(struct u64map *m, uint64_t key, void *val)
{
	struct u64map_entry *e;
	int err;

	if (!val)
		return -EINVAL;
	e = find(m, key);
	if (e && e->val) {
		e->val = val; /* replacing never grows, so never fails */
		return 0;
	}
	/* keep the load factor under 3/4 */
	if ((m->len + 1) * 4 > m->cap * 3) {
		err = grow(m);
		if (err)
			return err;
	}
	e = find(m, key);
	m->len++;
	e->key = key;
	e->val = val;
	return 0;
}

void *u64map__del(struct u64map *m, uint64_t key)
{
	struct u64map_entry *e = find(m, key);
	size_t hole, i, mask = m->cap - 1;
	void *val;

	if (!e || !e->val)
		return NULL;
	val = e->val;
	hole = e - m->slots;
	/* shift back every entry of the cluster that may move into the hole */
	for (i = (hole + 1) & mask; m->slots[i].val; i = (i + 1) & mask) {
		size_t home = slot_of(m, m->slots[i].key);

		if (((i - home) & mask) >= ((i - hole) & mask)) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	m->slots[hole].val = NULL;
	m->len--;
	return val;
}

int u64map__next(const struct u64map *m, size_t *iter, uint64_t *key, void **val)
{
	for (; *iter < m->cap; (*iter)++) {
		if (m->slots[*iter].val) {
			*key = m->slots[*iter].key;
			*val = m->slots[(*iter)++].val;
			return 1;
		}
	}
	return 0;
}
