// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A synthetic fleet posting to podmeter-reconciler over HTTP, as agents do:
 * one report per node and hour, gzip'ed protobuf, node and seq headers
 * (tests/unit/reconciler/fleet.h makes the reports). The workloads of the
 * propose tests:
 *   shop/Deployment/web  app    3 replicas, CPU lognormal (median 0.2, sigma 0.3), 1 core / 1Gi
 *   shop/Deployment/api  api    2 replicas, CPU uniform 0.1-0.3, 1 core / 512Mi (an HPA scales it)
 *   shop/Deployment/old  app    1 replica, idle (0.5 millicores), 500m / 256Mi
 *   pay/Deployment/checkout app 2 replicas, CPU lognormal (0.5, 0.2), 2 cores / 2Gi
 *
 *   rec_fleet --url URL --from T --to T [--nodes 3] [--seq-start S] [--cluster lab]
 *             [--set NAME=CPU,MEM[,CPU_LIMIT,MEM_LIMIT]] [--ooms NAME=N] [--seed S]
 * (cores and bytes; -1 for not set). Prints the reports posted.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../unit/reconciler/fleet.h"

static struct fleet_wl wls[] = {
	{ "shop", "Deployment", "web", "app", 3, FLEET_LOGNORMAL, 0.2, 0.3, FLEET_FLAT, 1,
	  300 * FLEET_MIB, 1, 1024 * FLEET_MIB, 2, 2048 * FLEET_MIB, 0, 0, 0.01, 0 },
	{ "shop", "Deployment", "api", "api", 2, FLEET_UNIFORM, 0.1, 0.3, FLEET_FLAT, 1,
	  200 * FLEET_MIB, 1, 512 * FLEET_MIB, -1, -1, 0, 0, 0.01, 0 },
	{ "shop", "Deployment", "old", "app", 1, FLEET_CONST, 0.0005, 0, FLEET_FLAT, 1,
	  40 * FLEET_MIB, 0.5, 256 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
	{ "pay", "Deployment", "checkout", "app", 2, FLEET_LOGNORMAL, 0.5, 0.2, FLEET_FLAT, 1,
	  800 * FLEET_MIB, 2, 2048 * FLEET_MIB, -1, -1, 0, 0, 0.01, 0 },
};
#define N_WL (int)(sizeof(wls) / sizeof(wls[0]))

static struct fleet_wl *by_name(const char *name, size_t len)
{
	int i;

	for (i = 0; i < N_WL; i++)
		if (strlen(wls[i].name) == len && !strncmp(wls[i].name, name, len))
			return &wls[i];
	fprintf(stderr, "rec_fleet: no workload %.*s\n", (int)len, name);
	exit(2);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static int post(CURL *c, const char *url, const struct fx *x)
{
	struct curl_slist *h = NULL;
	char node[128], seq[64];
	size_t len;
	void *gz = fx_wire(x, &len);
	long code = 0;

	snprintf(node, sizeof(node), "X-Podmeter-Node: %s", x->r.node);
	snprintf(seq, sizeof(seq), "X-Podmeter-Seq: %llu", (unsigned long long)x->r.seq);
	h = curl_slist_append(h, "Content-Type: application/x-protobuf");
	h = curl_slist_append(h, "Content-Encoding: gzip");
	h = curl_slist_append(h, node);
	h = curl_slist_append(h, seq);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, gz);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	free(gz);
	return code == 200 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct fleet f = { .wl = wls,
			   .n_wl = N_WL,
			   .nodes = 3,
			   .cluster = "lab",
			   .cpu_price = 0.04,
			   .mem_price = 0.005,
			   .rng = 42 };
	const char *url = NULL;
	double from = 0, to = 0, hour;
	unsigned long long seq = 1;
	int i, n, posted = 0;
	CURL *c;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1], *eq = strchr(v, '=');

		if (!strcmp(a, "--url"))
			url = v;
		else if (!strcmp(a, "--from"))
			from = floor(atof(v) / 3600) * 3600;
		else if (!strcmp(a, "--to"))
			to = atof(v);
		else if (!strcmp(a, "--nodes"))
			f.nodes = atoi(v);
		else if (!strcmp(a, "--seq-start"))
			seq = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--cluster"))
			f.cluster = v;
		else if (!strcmp(a, "--seed"))
			f.rng = strtoull(v, NULL, 10) | 1;
		else if (!strcmp(a, "--set") && eq) {
			struct fleet_wl *w = by_name(v, (size_t)(eq - v));

			sscanf(eq + 1, "%lf,%lf,%lf,%lf", &w->req_cpu, &w->req_mem, &w->lim_cpu,
			       &w->lim_mem);
		} else if (!strcmp(a, "--ooms") && eq) {
			by_name(v, (size_t)(eq - v))->ooms_per_hour = atof(eq + 1);
		} else {
			fprintf(stderr, "rec_fleet: %s: unknown\n", a);
			return 2;
		}
	}
	if (!url || !(to > from)) {
		fprintf(stderr, "usage: rec_fleet --url URL --from T --to T [...]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	for (hour = from; hour + 3600 <= to + 1e-9; hour += 3600) {
		for (n = 0; n < f.nodes; n++) {
			struct fx x;

			fleet_report(&f, &x, n, seq + (unsigned long long)((hour - from) / 3600),
				     hour);
			if (post(c, url, &x)) {
				fprintf(stderr, "rec_fleet: node-%d seq %llu refused\n", n,
					(unsigned long long)x.r.seq);
				fx_free(&x);
				return 1;
			}
			fx_free(&x);
			posted++;
		}
	}
	curl_easy_cleanup(c);
	printf("rec_fleet: %d reports posted, %.0f hours\n", posted, (to - from) / 3600);
	return 0;
}
