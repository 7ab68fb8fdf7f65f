// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Node overhead by group: a cgroup outside pods belongs to the systemd unit,
 * slice or container whose cgroup holds it. Names are chosen by whoever makes
 * the cgroup (a unit's author, a user, a container's owner): the parser only
 * compares bytes, bounds every name and escapes it.
 */
#include <stdio.h>
#include <string.h>
#include <podmeter/esc.h>
#include <podmeter/ohpath.h>

#define OH_ID_MIN 12 /* hex digits an id needs to be taken for a container id */
#define OH_ID_MAX 128

struct seg {
	const char *s;
	size_t n;
};

/* Scopes container runtimes make under a slice (systemd cgroup driver). */
static const struct {
	const char *prefix;
	const char *runtime;
} oh_scopes[] = {
	{ "docker-", "docker" },   { "libpod-", "podman" },
	{ "nerdctl-", "nerdctl" }, { "cri-containerd-", "containerd" },
	{ "crio-", "crio" },
};

static bool next_seg(const char **p, struct seg *out)
{
	const char *s = *p;

	while (*s == '/')
		s++;
	if (!*s)
		return false;
	out->s = s;
	while (*s && *s != '/')
		s++;
	out->n = s - out->s;
	*p = s;
	return true;
}

static bool seg_is(struct seg a, const char *lit)
{
	return a.n == strlen(lit) && !memcmp(a.s, lit, a.n);
}

static bool starts(struct seg a, const char *pre)
{
	size_t n = strlen(pre);

	return a.n >= n && !memcmp(a.s, pre, n);
}

static bool ends(struct seg a, const char *suf)
{
	size_t n = strlen(suf);

	return a.n >= n && !memcmp(a.s + a.n - n, suf, n);
}

static bool is_id(const char *s, size_t n)
{
	size_t i;

	if (n < OH_ID_MIN || n > OH_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* <prefix><hex id>.scope: the runtime, and the id in @id; NULL when it is not one. */
static const char *container_scope(struct seg a, struct seg *id)
{
	size_t i, pn;

	if (!ends(a, ".scope"))
		return NULL;
	for (i = 0; i < sizeof(oh_scopes) / sizeof(oh_scopes[0]); i++) {
		pn = strlen(oh_scopes[i].prefix);
		if (!starts(a, oh_scopes[i].prefix) || a.n < pn + 6)
			continue;
		id->s = a.s + pn;
		id->n = a.n - pn - 6;
		if (is_id(id->s, id->n))
			return oh_scopes[i].runtime;
	}
	return NULL;
}

/* @prefix (may be NULL) and @a, escaped and bounded, as the group's name. */
static void set_group(struct pm_oh_group *g, enum pm_oh_kind kind, const char *prefix, struct seg a,
		      const char *path, bool own_memory)
{
	char raw[2 * PM_OH_NAME_MAX];
	size_t n = a.n <= PM_OH_NAME_MAX ? a.n : PM_OH_NAME_MAX + 1;

	/* longer than the name holds: esc__str cuts it and marks the cut with "..." */
	snprintf(raw, sizeof(raw), "%s%s%.*s", prefix ? prefix : "", prefix ? " " : "", (int)n,
		 a.s);
	esc__str(g->name, sizeof(g->name), raw);
	g->kind = kind;
	g->path_len = a.s + a.n - path;
	g->own_memory = own_memory;
}

static void set_container(struct pm_oh_group *g, const char *runtime, struct seg id, struct seg end,
			  const char *path)
{
	id.n = id.n < PM_OH_SHORT_ID ? id.n : PM_OH_SHORT_ID;
	set_group(g, PM_OH_CONTAINER, runtime, id, path, true);
	g->path_len = end.s + end.n - path;
}

/* A top-level cgroup that is not a slice: a runtime's tree, a unit, or someone's own. */
static void top_level(struct pm_oh_group *g, const char *path, struct seg a, const char *rest)
{
	struct seg b = { rest, 0 }, id;
	bool more = next_seg(&rest, &b);

	if (starts(a, "kubepods")) {
		set_group(g, PM_OH_SLICE, NULL, a, path, false);
	} else if (starts(a, "lxc.payload.") && a.n > 12) {
		id = (struct seg){ a.s + 12, a.n - 12 };
		set_group(g, PM_OH_CONTAINER, "lxc", id, path, true);
	} else if (seg_is(a, "lxc") && more) {
		set_group(g, PM_OH_CONTAINER, "lxc", b, path, true);
	} else if (seg_is(a, "libpod_parent") && more && starts(b, "libpod-") &&
		   is_id(b.s + 7, b.n - 7)) {
		set_container(g, "podman", (struct seg){ b.s + 7, b.n - 7 }, b, path);
	} else if (more && is_id(b.s, b.n)) {
		/* docker's cgroupfs driver (docker/<id>), containerd namespaces (<ns>/<id>) */
		char tree[PM_OH_NAME_MAX - PM_OH_SHORT_ID];

		snprintf(tree, sizeof(tree), "%.*s",
			 (int)(a.n < sizeof(tree) ? a.n : sizeof(tree) - 1), a.s);
		set_container(g, tree, b, b, path);
	} else if (ends(a, ".scope") || ends(a, ".service")) {
		set_group(g, PM_OH_UNIT, NULL, a, path, true);
	} else {
		/* its subtree may hold containers of its own: its memory is not only its */
		set_group(g, PM_OH_SLICE, NULL, a, path, false);
	}
}

int ohpath__parse(const char *path, struct pm_oh_group *g)
{
	const char *p = path, *rt;
	struct seg a, b, id;

	memset(g, 0, sizeof(*g));
	if (!next_seg(&p, &a)) {
		g->kind = PM_OH_SLICE;
		strcpy(g->name, "/");
		return 0;
	}
	if (!ends(a, ".slice") || starts(a, "kubepods")) {
		top_level(g, path, a, p);
		return 0;
	}
	if (seg_is(a, "user.slice")) {
		/* one group per user: its sessions and its user manager */
		if (!next_seg(&p, &b))
			set_group(g, PM_OH_SLICE, NULL, a, path, false);
		else
			set_group(g, ends(b, ".slice") ? PM_OH_SLICE : PM_OH_UNIT, NULL, b, path,
				  true);
		return 0;
	}
	/* down through slices, to the first unit or container */
	while (next_seg(&p, &b)) {
		rt = container_scope(b, &id);
		if (rt) {
			set_container(g, rt, id, b, path);
			return 0;
		}
		if (!ends(b, ".slice")) {
			set_group(g, PM_OH_UNIT, NULL, b, path, true);
			return 0;
		}
		a = b;
	}
	set_group(g, PM_OH_SLICE, NULL, a, path, false);
	return 0;
}
