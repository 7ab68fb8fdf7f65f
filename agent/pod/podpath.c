// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroup path -> pod identity. Shapes (DESIGN.md, "Pod identity"):
 *   systemd:  .../kubepods[-<qos>]-pod<uid_with_underscores>.slice/<runtime>-<id>.scope
 *   cgroupfs: .../kubepods[/<qos>]/pod<uid>/<id>
 * Only the kubepods ancestry, the pod component and the one after it matter;
 * the prefix (kind's kubelet.slice, a nested slice) does not.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <podmeter/podpath.h>

#define COMP_MAX  255
#define MAX_COMPS 64

struct comp {
	const char *s;
	size_t len;
};

static bool comp_is(const struct comp *c, const char *lit)
{
	return c->len == strlen(lit) && !memcmp(c->s, lit, c->len);
}

static bool has_suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);

	return len >= n && !memcmp(s + len - n, suf, n);
}

/* Split on '/', rejecting what no kubelet or runtime ever writes. */
static int split(const char *path, struct comp *comps, int *n)
{
	const char *p = path;

	*n = 0;
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return -EINVAL;
	while (*p) {
		const char *start;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != '/') {
			unsigned char ch = *p;

			if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
				return -EINVAL;
			p++;
		}
		len = p - start;
		if (len > COMP_MAX)
			return -EINVAL;
		if ((len == 1 && start[0] == '.') || (len == 2 && !memcmp(start, "..", 2)))
			return -EINVAL;
		/* deeper levels are only checked: no pod sits that deep */
		if (*n >= MAX_COMPS)
			continue;
		comps[*n].s = start;
		comps[(*n)++].len = len;
	}
	return 0;
}

/* @len hex digits, lower-cased into @out (NUL-terminated). */
static int copy_hex(const char *s, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		out[i] = tolower((unsigned char)s[i]);
	}
	out[len] = '\0';
	return 0;
}

/*
 * 8-4-4-4-12 hex with one separator kind throughout; out: dashed, lower-case.
 * Static pods (kubelet manifests) have a 32-hex hash for a uid: kept as is.
 */
static int parse_uid(const char *s, size_t len, char sep, char *out)
{
	size_t i;

	if (len == PM_UID_HASH_LEN)
		return copy_hex(s, len, out);
	if (len != PM_UID_LEN)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash_pos) {
			if (s[i] != sep)
				return -EINVAL;
			out[i] = '-';
		} else {
			if (!isxdigit((unsigned char)s[i]))
				return -EINVAL;
			out[i] = tolower((unsigned char)s[i]);
		}
	}
	out[len] = '\0';
	return 0;
}

static enum pm_qos qos_of_prefix(const char *s, size_t len)
{
	if (has_suffix(s, len, "-burstable") || (len == 9 && !memcmp(s, "burstable", 9)))
		return PM_QOS_BURSTABLE;
	if (has_suffix(s, len, "-besteffort") || (len == 10 && !memcmp(s, "besteffort", 10)))
		return PM_QOS_BESTEFFORT;
	return PM_QOS_GUARANTEED;
}

/*
 * systemd: "<...>kubepods[-qos]-pod<uid_>.slice". Returns 1 when @c is a pod
 * slice, 0 when it is not one, -EINVAL when it is one with a bad uid.
 */
static int match_systemd_pod(const struct comp *c, struct pm_pod_ident *id)
{
	const char *pod = NULL, *p;
	size_t prefix_len, uid_len;

	if (!has_suffix(c->s, c->len, ".slice"))
		return 0;
	for (p = c->s; p + 4 <= c->s + c->len; p++)
		if (!memcmp(p, "-pod", 4))
			pod = p;
	if (!pod)
		return 0;
	prefix_len = pod - c->s;
	if (!has_suffix(c->s, prefix_len, "kubepods") &&
	    !has_suffix(c->s, prefix_len, "kubepods-burstable") &&
	    !has_suffix(c->s, prefix_len, "kubepods-besteffort"))
		return 0;
	uid_len = c->len - prefix_len - 4 - strlen(".slice");
	if (parse_uid(pod + 4, uid_len, '_', id->uid))
		return -EINVAL;
	id->qos = qos_of_prefix(c->s, prefix_len);
	return 1;
}

/* cgroupfs: "pod<uid>" right under "kubepods" or "kubepods/<burstable|besteffort>". */
static int match_cgroupfs_pod(const struct comp *comps, int i, struct pm_pod_ident *id)
{
	const struct comp *c = &comps[i];
	bool under_qos;

	if (c->len < 3 || memcmp(c->s, "pod", 3) || i < 1)
		return 0;
	under_qos = comps[i - 1].len &&
		    (comp_is(&comps[i - 1], "burstable") || comp_is(&comps[i - 1], "besteffort"));
	if (under_qos ? !(i >= 2 && comp_is(&comps[i - 2], "kubepods"))
		      : !comp_is(&comps[i - 1], "kubepods"))
		return 0;
	if (parse_uid(c->s + 3, c->len - 3, '-', id->uid))
		return -EINVAL;
	id->qos = under_qos ? qos_of_prefix(comps[i - 1].s, comps[i - 1].len) : PM_QOS_GUARANTEED;
	return 1;
}

static int copy_cid(const char *s, size_t len, char *out)
{
	if (!len || len > PM_CID_MAX)
		return -EINVAL;
	return copy_hex(s, len, out);
}

static const struct {
	const char *prefix;
	enum pm_runtime rt;
} runtimes[] = {
	/* crio-conmon- before crio-: the longer prefix first */
	{ "cri-containerd-", PM_RT_CONTAINERD },
	{ "crio-conmon-", PM_RT_CRIO_CONMON },
	{ "crio-", PM_RT_CRIO },
	{ "docker-", PM_RT_DOCKER },
};

/* The component right below the pod: "<runtime>-<id>[.scope]" or a bare id. */
static int parse_container(const struct comp *c, struct pm_pod_ident *id)
{
	size_t len = c->len, i;
	const char *s = c->s;

	if (has_suffix(s, len, ".scope"))
		len -= strlen(".scope");
	for (i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		size_t n = strlen(runtimes[i].prefix);

		if (len > n && !memcmp(s, runtimes[i].prefix, n)) {
			id->runtime = runtimes[i].rt;
			return copy_cid(s + n, len - n, id->container_id);
		}
	}
	if (len != c->len) /* a .scope of no runtime we know */
		return -EINVAL;
	id->runtime = PM_RT_CONTAINERD;
	return copy_cid(s, len, id->container_id);
}

int podpath__parse(const char *path, struct pm_pod_ident *id)
{
	struct comp comps[MAX_COMPS];
	int n, i, err, m = 0;

	if (!path || !id)
		return -EINVAL;
	memset(id, 0, sizeof(*id));
	err = split(path, comps, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		m = match_systemd_pod(&comps[i], id);
		if (!m)
			m = match_cgroupfs_pod(comps, i, id);
		if (m)
			break;
	}
	if (m < 0)
		goto out_invalid;
	if (!m)
		return -ENOENT;
	if (i + 1 < n && parse_container(&comps[i + 1], id))
		goto out_invalid;
	return 0;

out_invalid:
	memset(id, 0, sizeof(*id));
	return -EINVAL;
}
