// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podpath: cgroup path -> pod identity. Cases are the path shapes kubelet
 * (systemd and cgroupfs drivers) and the runtimes (containerd, CRI-O, docker)
 * actually create, plus nested prefixes (kind, kubelet in a slice) and hostile
 * input. Expected values come from the header and from kubelet's naming, not
 * from the implementation.
 *
 * Every table case is run four ways: as written, relative (leading '/'
 * dropped), with a trailing '/', and both; the header says '/' is ignored at
 * either end, so all four must agree. The path is passed as an exact-size heap
 * copy so ASan catches reads past its NUL, and @id is pre-filled with garbage
 * so a field the parser forgets to write shows up.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "podmeter/podpath.h"

/* Pod uids as the API server issues them (random v4 uuids), and as the systemd
 * driver spells them inside a slice name ('-' is the slice separator there). */
#define UID_A  "2f5a7c1e-3b4d-4e8f-9a0b-1c2d3e4f5a6b"
#define UID_A_ "2f5a7c1e_3b4d_4e8f_9a0b_1c2d3e4f5a6b"
#define UID_B  "671ea47f-8c22-4d6d-a1dd-1a9d2e821f5b"
#define UID_B_ "671ea47f_8c22_4d6d_a1dd_1a9d2e821f5b"
#define UID_C  "fec8a3a2-d456-4819-a27c-e106140572ef"
#define UID_C_ "fec8a3a2_d456_4819_a27c_e106140572ef"

/* Full 64-hex container ids. */
#define CID_1 "495bedb5e9bccf9d7e53e088bfff2ee8619d180c14e8c761e128050d18759e06"
#define CID_2 "70270237b02e0b9aeba1dacf96853a072704ecca63fad6232fce2c73473a25db"
#define CID_3 "2f301ee5a676574afe9afbbb4334bd2eeb585fb593fb4e2d3b986abc1ac58fb4"
#define CID_4 "7b5a52a6b629abdf20193be66c776d66a1be879c18e2b17c9b2c24d8ffc2d046"

/* Common systemd-driver pod slices. */
#define SD_BU(u) "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" u ".slice"
#define SD_BE(u) "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" u ".slice"
#define SD_GU(u) "/kubepods.slice/kubepods-pod" u ".slice"

struct pp_case {
	const char *name;
	const char *path;
	int ret;
	/* checked only when ret == 0 */
	const char *uid;
	const char *cid;
	enum pm_qos qos;
	enum pm_runtime rt;
};

#define OK(n, p, u, c, q, r)                                                                       \
	{                                                                                          \
		.name = n, .path = p, .ret = 0, .uid = u, .cid = c, .qos = q, .rt = r              \
	}
#define NOPOD(n, p)                                                                                \
	{                                                                                          \
		.name = n, .path = p, .ret = -ENOENT                                               \
	}
#define BAD(n, p)                                                                                  \
	{                                                                                          \
		.name = n, .path = p, .ret = -EINVAL                                               \
	}

#define BU PM_QOS_BURSTABLE
#define BE PM_QOS_BESTEFFORT
#define GU PM_QOS_GUARANTEED

/* static (manifest) pods: kubelet hashes the manifest into a 32-hex uid */
#define UID_STATIC "5c7d9a3f0e1b2c4d6e8f0a1b3c5d7e9f"

static const struct pp_case systemd_cases[] = {
	OK("sd static pod", SD_BU(UID_STATIC) "/cri-containerd-" CID_1 ".scope", UID_STATIC, CID_1,
	   BU, PM_RT_CONTAINERD),
	OK("fs static pod", "/kubepods/burstable/pod" UID_STATIC "/" CID_1, UID_STATIC, CID_1, BU,
	   PM_RT_CONTAINERD),
	BAD("static pod uid of 31 hex",
	    "/kubepods/burstable/pod5c7d9a3f0e1b2c4d6e8f0a1b3c5d7e9/" CID_1),
	OK("sd containerd burstable", SD_BU(UID_A_) "/cri-containerd-" CID_1 ".scope", UID_A, CID_1,
	   BU, PM_RT_CONTAINERD),
	OK("sd containerd guaranteed", SD_GU(UID_B_) "/cri-containerd-" CID_2 ".scope", UID_B,
	   CID_2, GU, PM_RT_CONTAINERD),
	OK("sd containerd besteffort", SD_BE(UID_C_) "/cri-containerd-" CID_3 ".scope", UID_C,
	   CID_3, BE, PM_RT_CONTAINERD),
	OK("sd crio burstable", SD_BU(UID_A_) "/crio-" CID_1 ".scope", UID_A, CID_1, BU,
	   PM_RT_CRIO),
	OK("sd crio guaranteed", SD_GU(UID_B_) "/crio-" CID_2 ".scope", UID_B, CID_2, GU,
	   PM_RT_CRIO),
	OK("sd crio besteffort", SD_BE(UID_C_) "/crio-" CID_3 ".scope", UID_C, CID_3, BE,
	   PM_RT_CRIO),
	OK("sd crio conmon burstable", SD_BU(UID_A_) "/crio-conmon-" CID_1 ".scope", UID_A, CID_1,
	   BU, PM_RT_CRIO_CONMON),
	OK("sd crio conmon guaranteed", SD_GU(UID_B_) "/crio-conmon-" CID_2 ".scope", UID_B, CID_2,
	   GU, PM_RT_CRIO_CONMON),
	OK("sd docker besteffort", SD_BE(UID_C_) "/docker-" CID_3 ".scope", UID_C, CID_3, BE,
	   PM_RT_DOCKER),
	OK("sd docker guaranteed", SD_GU(UID_A_) "/docker-" CID_4 ".scope", UID_A, CID_4, GU,
	   PM_RT_DOCKER),
	OK("sd pod slice burstable", SD_BU(UID_A_), UID_A, "", BU, PM_RT_NONE),
	OK("sd pod slice guaranteed", SD_GU(UID_B_), UID_B, "", GU, PM_RT_NONE),
	OK("sd pod slice besteffort", SD_BE(UID_C_), UID_C, "", BE, PM_RT_NONE),
	/* a container's own sub-cgroups (systemd or cgroup v2 delegation inside it) */
	OK("sd sub-cgroup of containerd scope",
	   SD_BU(UID_A_) "/cri-containerd-" CID_1 ".scope/init.scope", UID_A, CID_1, BU,
	   PM_RT_CONTAINERD),
	OK("sd deep sub-cgroups of crio scope",
	   SD_GU(UID_B_) "/crio-" CID_2 ".scope/container/app.slice/worker-1.scope", UID_B, CID_2,
	   GU, PM_RT_CRIO),
	OK("sd sub-cgroup of docker scope", SD_BE(UID_C_) "/docker-" CID_3 ".scope/system.slice",
	   UID_C, CID_3, BE, PM_RT_DOCKER),
	/* kind and other kubelets run with --cgroup-root=/kubelet */
	OK("kind besteffort containerd",
	   "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	   "kubelet-kubepods-besteffort-pod" UID_A_ ".slice/cri-containerd-" CID_1 ".scope",
	   UID_A, CID_1, BE, PM_RT_CONTAINERD),
	OK("kind burstable containerd",
	   "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
	   "kubelet-kubepods-burstable-pod" UID_C_ ".slice/cri-containerd-" CID_3 ".scope",
	   UID_C, CID_3, BU, PM_RT_CONTAINERD),
	OK("kind guaranteed containerd",
	   "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" UID_B_
	   ".slice/cri-containerd-" CID_2 ".scope",
	   UID_B, CID_2, GU, PM_RT_CONTAINERD),
	OK("kind burstable pod slice",
	   "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
	   "kubelet-kubepods-burstable-pod" UID_C_ ".slice",
	   UID_C, "", BU, PM_RT_NONE),
	/* kind node on cgroup v2, seen from the host: the node container's docker
	 * scope comes first and must not be taken for the pod's container */
	OK("kind node seen from host",
	   "/system.slice/docker-" CID_4 ".scope/kubelet.slice/kubelet-kubepods.slice/"
	   "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_A_
	   ".slice/cri-containerd-" CID_1 ".scope",
	   UID_A, CID_1, BE, PM_RT_CONTAINERD),
	OK("sd relative",
	   "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_A_
	   ".slice/cri-containerd-" CID_1 ".scope",
	   UID_A, CID_1, BU, PM_RT_CONTAINERD),
	OK("sd trailing slash", SD_BU(UID_A_) "/crio-" CID_1 ".scope/", UID_A, CID_1, BU,
	   PM_RT_CRIO),
	OK("sd pod slice relative, trailing slash", "kubepods.slice/kubepods-pod" UID_B_ ".slice/",
	   UID_B, "", GU, PM_RT_NONE),
};

static const struct pp_case cgroupfs_cases[] = {
	OK("fs containerd burstable", "/kubepods/burstable/pod" UID_A "/" CID_1, UID_A, CID_1, BU,
	   PM_RT_CONTAINERD),
	OK("fs containerd guaranteed", "/kubepods/pod" UID_B "/" CID_2, UID_B, CID_2, GU,
	   PM_RT_CONTAINERD),
	OK("fs containerd besteffort", "/kubepods/besteffort/pod" UID_C "/" CID_3, UID_C, CID_3, BE,
	   PM_RT_CONTAINERD),
	OK("fs crio burstable", "/kubepods/burstable/pod" UID_A "/crio-" CID_1, UID_A, CID_1, BU,
	   PM_RT_CRIO),
	OK("fs crio guaranteed", "/kubepods/pod" UID_B "/crio-" CID_2, UID_B, CID_2, GU,
	   PM_RT_CRIO),
	/* CRI-O's cgroupfs manager names conmon's cgroup crio-conmon-<id> */
	OK("fs crio conmon", "/kubepods/burstable/pod" UID_A "/crio-conmon-" CID_1, UID_A, CID_1,
	   BU, PM_RT_CRIO_CONMON),
	/* docker (dockershim / cri-dockerd) under cgroupfs is a bare id too: the
	 * header files every bare id under containerd */
	OK("fs docker bare id", "/kubepods/besteffort/pod" UID_C "/" CID_4, UID_C, CID_4, BE,
	   PM_RT_CONTAINERD),
	OK("fs pod burstable", "/kubepods/burstable/pod" UID_A, UID_A, "", BU, PM_RT_NONE),
	OK("fs pod guaranteed", "/kubepods/pod" UID_B, UID_B, "", GU, PM_RT_NONE),
	OK("fs pod besteffort", "/kubepods/besteffort/pod" UID_C, UID_C, "", BE, PM_RT_NONE),
	OK("fs sub-cgroup of container", "/kubepods/burstable/pod" UID_A "/" CID_1 "/sub", UID_A,
	   CID_1, BU, PM_RT_CONTAINERD),
	OK("fs deep sub-cgroups of crio", "/kubepods/pod" UID_B "/crio-" CID_2 "/a/b/c", UID_B,
	   CID_2, GU, PM_RT_CRIO),
	/* kind on cgroup v1 without cgroupns: the node container's cgroup first */
	OK("fs kind v1 node prefix", "/docker/" CID_4 "/kubepods/besteffort/pod" UID_C "/" CID_3,
	   UID_C, CID_3, BE, PM_RT_CONTAINERD),
	OK("fs relative", "kubepods/burstable/pod" UID_A "/" CID_1, UID_A, CID_1, BU,
	   PM_RT_CONTAINERD),
	OK("fs trailing slash", "/kubepods/pod" UID_B "/", UID_B, "", GU, PM_RT_NONE),
};

static const struct pp_case not_pod_cases[] = {
	NOPOD("root", "/"),
	NOPOD("empty", ""),
	NOPOD("containerd service", "/system.slice/containerd.service"),
	NOPOD("kubelet service", "/system.slice/kubelet.service"),
	NOPOD("crio service", "/system.slice/crio.service"),
	NOPOD("user session", "/user.slice/user-0.slice/session-1.scope"),
	NOPOD("init scope", "/init.scope"),
	NOPOD("sd kubepods top", "/kubepods.slice"),
	NOPOD("sd burstable qos", "/kubepods.slice/kubepods-burstable.slice"),
	NOPOD("sd besteffort qos", "/kubepods.slice/kubepods-besteffort.slice"),
	NOPOD("fs kubepods top", "/kubepods"),
	NOPOD("fs burstable qos", "/kubepods/burstable"),
	NOPOD("fs besteffort qos", "/kubepods/besteffort"),
	NOPOD("kind kubelet slice", "/kubelet.slice"),
	NOPOD("kind kubepods top", "/kubelet.slice/kubelet-kubepods.slice"),
	NOPOD("kind burstable qos", "/kubelet.slice/kubelet-kubepods.slice/"
				    "kubelet-kubepods-burstable.slice"),
	/* containers, but not in any pod */
	NOPOD("plain docker container (systemd)", "/system.slice/docker-" CID_1 ".scope"),
	NOPOD("plain docker container (cgroupfs)", "/docker/" CID_1),
	NOPOD("podman container", "/machine.slice/libpod-" CID_1 ".scope"),
	/* "pod" prefixes that are not pod cgroups */
	NOPOD("podman service", "/system.slice/podman.service"),
	NOPOD("podmeter service", "/system.slice/podmeter.service"),
};

static const struct pp_case malformed_cases[] = {
	/* pod uid */
	BAD("fs uid too short", "/kubepods/burstable/pod1234"),
	BAD("fs uid too short, container", "/kubepods/burstable/pod1234/" CID_1),
	BAD("fs uid empty", "/kubepods/burstable/pod"),
	BAD("fs uid too long", "/kubepods/burstable/pod" UID_A "0/" CID_1),
	BAD("fs uid non-hex", "/kubepods/burstable/podzzzzzzzz-3b4d-4e8f-9a0b-1c2d3e4f5a6b"),
	BAD("fs uid dashes misplaced", "/kubepods/pod2f5a7c1e3-b4d-4e8f-9a0b-1c2d3e4f5a6b"),
	BAD("fs uid mixed separators", "/kubepods/pod2f5a7c1e-3b4d_4e8f-9a0b-1c2d3e4f5a6b/" CID_1),
	BAD("sd uid too short", "/kubepods.slice/kubepods-burstable.slice/"
				"kubepods-burstable-pod1234.slice"),
	BAD("sd uid empty", "/kubepods.slice/kubepods-burstable.slice/"
			    "kubepods-burstable-pod.slice"),
	BAD("sd uid too long", SD_BU(UID_A_ "0") "/cri-containerd-" CID_1 ".scope"),
	BAD("sd uid non-hex", SD_BE("zzzzzzzz_3b4d_4e8f_9a0b_1c2d3e4f5a6b")),
	BAD("sd uid mixed separators",
	    SD_BU("2f5a7c1e_3b4d-4e8f_9a0b_1c2d3e4f5a6b") "/cri-containerd-" CID_1 ".scope"),
	BAD("sd uid underscores misplaced", SD_GU("2f5a7c1e3_b4d_4e8f_9a0b_1c2d3e4f5a6b")),
	/* container id */
	BAD("sd containerd id non-hex",
	    SD_BU(UID_A_) "/cri-containerd-"
			  "495bedb5e9bccf9d7e53e088bfff2ee8619d180c14e8c761e128050d18759e0g.scope"),
	BAD("sd containerd id 65 hex", SD_BU(UID_A_) "/cri-containerd-" CID_1 "0.scope"),
	BAD("sd containerd id empty", SD_BU(UID_A_) "/cri-containerd-.scope"),
	BAD("sd crio id non-hex",
	    SD_GU(UID_B_) "/crio-"
			  "70270237b02e0b9aeba1dacf96853a072704ecca63fad6232fce2c73473a25dx.scope"),
	BAD("sd crio id 65 hex", SD_GU(UID_B_) "/crio-" CID_2 "f.scope"),
	BAD("sd crio id empty", SD_GU(UID_B_) "/crio-.scope"),
	BAD("sd crio conmon id 65 hex", SD_GU(UID_B_) "/crio-conmon-" CID_2 "f.scope"),
	BAD("sd docker id non-hex",
	    SD_BE(UID_C_) "/docker-"
			  "2f301ee5a676574afe9afbbb4334bd2eeb585fb593fb4e2d3b986abc1ac58fbq.scope"),
	BAD("sd docker id 65 hex", SD_BE(UID_C_) "/docker-" CID_3 "1.scope"),
	BAD("fs bare id non-hex",
	    "/kubepods/burstable/pod" UID_A
	    "/495bedb5e9bccf9d7e53e088bfff2ee8619d180c14e8c761e128050d18759e0z"),
	BAD("fs bare id 65 hex", "/kubepods/burstable/pod" UID_A "/" CID_1 "5"),
	BAD("fs crio id 65 hex", "/kubepods/pod" UID_B "/crio-" CID_2 "a"),
	BAD("fs crio id empty", "/kubepods/pod" UID_B "/crio-"),
	/* ".." */
	BAD("fs dotdot escape", "/kubepods/burstable/pod" UID_A "/../../etc"),
	BAD("fs dotdot after container", "/kubepods/burstable/pod" UID_A "/" CID_1 "/.."),
	BAD("fs dotdot before pod", "/kubepods/../kubepods/burstable/pod" UID_A "/" CID_1),
	BAD("sd dotdot below scope", SD_BU(UID_A_) "/cri-containerd-" CID_1 ".scope/../../x"),
	BAD("sd dotdot after pod slice", SD_GU(UID_B_) "/.."),
	/* control bytes and quotes: uid and id end up in exported labels */
	BAD("newline in sub-cgroup", SD_BU(UID_A_) "/cri-containerd-" CID_1 ".scope/a\nb"),
	BAD("newline ending container id", "/kubepods/burstable/pod" UID_A "/" CID_1 "\n"),
	BAD("newline in uid", "/kubepods/burstable/pod2f5a7c1e-3b4d-4e8f-9a0b-1c2d3e4f5a6\n"),
	BAD("tab in sub-cgroup", "/kubepods/pod" UID_B "/" CID_2 "/a\tb"),
	BAD("SOH in sub-cgroup", "/kubepods/pod" UID_B "/crio-" CID_2 "/a\001b"),
	BAD("ESC in sub-cgroup", SD_BE(UID_C_) "/docker-" CID_3 ".scope/\033[31m"),
	BAD("DEL in sub-cgroup", SD_BE(UID_C_) "/crio-" CID_3 ".scope/x\177"),
	BAD("quote in uid", "/kubepods/pod\"71ea47f-8c22-4d6d-a1dd-1a9d2e821f5b"),
	BAD("quote in container id", SD_BU(UID_A_) "/cri-containerd-\"" CID_1 ".scope"),
	BAD("quote in sub-cgroup", SD_BU(UID_A_) "/cri-containerd-" CID_1 ".scope/a\"b"),
};

static int pp_check(const struct pp_case *c, const char *variant, const char *path)
{
	struct pm_pod_ident id;
	size_t len = strlen(path);
	char *copy;
	int ret, bad = 0;

	/* exact size, so ASan sees any read past the NUL */
	copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, path, len + 1);
	memset(&id, 0xa5, sizeof(id));

	ret = podpath__parse(copy, &id);
	if (memcmp(copy, path, len + 1)) {
		print_error("%s [%s]: input modified\n", c->name, variant);
		bad = 1;
	}
	free(copy);

	if (ret != c->ret) {
		print_error("%s [%s]: ret %d, want %d\n", c->name, variant, ret, c->ret);
		return 1;
	}
	if (ret)
		return bad;

	if (!memchr(id.uid, '\0', sizeof(id.uid))) {
		print_error("%s [%s]: uid not terminated\n", c->name, variant);
		bad = 1;
	} else if (strcmp(id.uid, c->uid)) {
		print_error("%s [%s]: uid \"%s\", want \"%s\"\n", c->name, variant, id.uid, c->uid);
		bad = 1;
	}
	if (!memchr(id.container_id, '\0', sizeof(id.container_id))) {
		print_error("%s [%s]: container_id not terminated\n", c->name, variant);
		bad = 1;
	} else if (strcmp(id.container_id, c->cid)) {
		print_error("%s [%s]: container_id \"%s\", want \"%s\"\n", c->name, variant,
			    id.container_id, c->cid);
		bad = 1;
	}
	if (id.qos != c->qos) {
		print_error("%s [%s]: qos %d, want %d\n", c->name, variant, (int)id.qos,
			    (int)c->qos);
		bad = 1;
	}
	if (id.runtime != c->rt) {
		print_error("%s [%s]: runtime %d, want %d\n", c->name, variant, (int)id.runtime,
			    (int)c->rt);
		bad = 1;
	}
	return bad;
}

/* The case as written, then relative and/or with a trailing '/'. */
static int pp_check_variants(const struct pp_case *c)
{
	const char *p = c->path;
	size_t len = strlen(p);
	const char *rel = p[0] == '/' ? p + 1 : NULL;
	bool slash = len == 0 || p[len - 1] != '/';
	char *buf;
	int bad;

	bad = pp_check(c, "as written", p);
	if (rel)
		bad += pp_check(c, "relative", rel);
	if (slash) {
		buf = malloc(len + 2);
		assert_non_null(buf);
		memcpy(buf, p, len);
		buf[len] = '/';
		buf[len + 1] = '\0';
		bad += pp_check(c, "trailing /", buf);
		if (rel)
			bad += pp_check(c, "relative, trailing /", buf + 1);
		free(buf);
	}
	return bad;
}

static void pp_run_table(const struct pp_case *cases, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += pp_check_variants(&cases[i]);
	assert_int_equal(bad, 0);
}

#define RUN_TABLE(t) pp_run_table(t, sizeof(t) / sizeof((t)[0]))

static void test_systemd(void **state)
{
	(void)state;
	RUN_TABLE(systemd_cases);
}

static void test_cgroupfs(void **state)
{
	(void)state;
	RUN_TABLE(cgroupfs_cases);
}

static void test_not_pods(void **state)
{
	(void)state;
	RUN_TABLE(not_pod_cases);
}

static void test_malformed(void **state)
{
	(void)state;
	RUN_TABLE(malformed_cases);
}

/* @prefix, then '/' + @n copies of @c. */
static char *pp_with_component(const char *prefix, char c, size_t n)
{
	size_t plen = strlen(prefix);
	char *s = malloc(plen + 1 + n + 1);

	assert_non_null(s);
	memcpy(s, prefix, plen);
	s[plen] = '/';
	memset(s + plen + 1, c, n);
	s[plen + 1 + n] = '\0';
	return s;
}

/* @prefix, then sub-cgroups of @comp bytes ("/" + name) up to at least @len bytes. */
static char *pp_padded(const char *prefix, size_t comp, size_t len)
{
	size_t plen = strlen(prefix), n = plen;
	char *s = malloc(len + comp + 1);

	assert_non_null(s);
	memcpy(s, prefix, plen);
	while (n < len) {
		s[n] = '/';
		memset(s + n + 1, 'a', comp - 1);
		n += comp;
	}
	s[n] = '\0';
	return s;
}

#define SD_CTR SD_BU(UID_A_) "/cri-containerd-" CID_1 ".scope"
#define FS_CTR "/kubepods/burstable/pod" UID_A "/" CID_1

/* Cgroup names are at most NAME_MAX (255) bytes; paths at most PATH_MAX (4096). */
static void test_lengths(void **state)
{
	struct gen {
		const char *name;
		char *path;
		int ret;
	} g[] = {
		{ "sd sub-cgroup of 255 bytes", pp_with_component(SD_CTR, 'x', 255), 0 },
		{ "fs sub-cgroup of 255 bytes", pp_with_component(FS_CTR, 'x', 255), 0 },
		{ "sd sub-cgroup of 256 bytes", pp_with_component(SD_CTR, 'x', 256), -EINVAL },
		{ "fs sub-cgroup of 256 bytes", pp_with_component(FS_CTR, 'x', 256), -EINVAL },
		{ "sd sub-cgroup of 4000 bytes", pp_with_component(SD_CTR, 'x', 4000), -EINVAL },
		{ "sd container id of 300 hex", pp_with_component(SD_BU(UID_A_), 'a', 300),
		  -EINVAL },
		{ "fs container id of 300 hex", pp_with_component("/kubepods/pod" UID_B, 'a', 300),
		  -EINVAL },
		/* long, not deep: 100-byte sub-cgroups */
		{ "sd path of 4000 bytes", pp_padded(SD_CTR, 100, 4000), 0 },
		{ "fs path of 4000 bytes", pp_padded(FS_CTR, 100, 4000), 0 },
		{ "sd path of 4200 bytes", pp_padded(SD_CTR, 100, 4200), -EINVAL },
		{ "fs path of 4200 bytes", pp_padded(FS_CTR, 100, 4200), -EINVAL },
		{ "fs path of 64 KiB", pp_padded(FS_CTR, 100, 65536), -EINVAL },
		{ "fs path of 64 KiB, short names", pp_padded(FS_CTR, 2, 65536), -EINVAL },
		/* deep, not long: the header names no depth limit, nor does the kernel
		 * (cgroup.max.depth is unlimited by default) */
		{ "fs 100 sub-cgroups deep", pp_padded(FS_CTR, 2, strlen(FS_CTR) + 200), 0 },
		{ "sd 100 sub-cgroups deep", pp_padded(SD_CTR, 2, strlen(SD_CTR) + 200), 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		struct pp_case c = {
			.name = g[i].name,
			.path = g[i].path,
			.ret = g[i].ret,
			/* what the 0 cases must find: SD_CTR / FS_CTR's container */
			.uid = UID_A,
			.cid = CID_1,
			.qos = BU,
			.rt = PM_RT_CONTAINERD,
		};

		bad += pp_check_variants(&c);
		free(g[i].path);
	}
	assert_int_equal(bad, 0);
}

/* The struct is reused across calls by the collector: nothing may leak over. */
static void test_reuse(void **state)
{
	struct pm_pod_ident id;

	(void)state;
	assert_int_equal(podpath__parse(SD_BU(UID_A_) "/crio-conmon-" CID_1 ".scope", &id), 0);
	assert_int_equal(id.runtime, PM_RT_CRIO_CONMON);
	assert_int_equal(podpath__parse("/kubepods/pod" UID_B, &id), 0);
	assert_string_equal(id.uid, UID_B);
	assert_string_equal(id.container_id, "");
	assert_int_equal(id.qos, PM_QOS_GUARANTEED);
	assert_int_equal(id.runtime, PM_RT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd),	 cmocka_unit_test(test_cgroupfs),
		cmocka_unit_test(test_not_pods), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_lengths),	 cmocka_unit_test(test_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
