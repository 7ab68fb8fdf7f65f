// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * NVIDIA's management library, loaded at run time when the node has it:
 * per-process GPU utilisation (SM, memory, encoder, decoder), which the
 * driver samples itself and no probe can see. Nodes without it lose only
 * these figures. The few prototypes used are declared here, as nvml.h
 * gives them: no NVIDIA headers are needed to build.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/agent.h>
#include <podmeter/source.h>

#define NVML_LIBRARY	 "libnvidia-ml.so.1"
#define NVML_MAX_DEVICES 64

/* nvml.h */
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

#define NVML_SUCCESS		     0
#define NVML_ERROR_NOT_SUPPORTED     3
#define NVML_ERROR_NOT_FOUND	     6
#define NVML_ERROR_INSUFFICIENT_SIZE 7

typedef struct {
	unsigned int pid;
	unsigned long long timeStamp; /* CPU time of the sample, us */
	unsigned int smUtil;
	unsigned int memUtil;
	unsigned int encUtil;
	unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

struct nvml_api {
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*shutdown)(void);
	const char *(*error_string)(nvmlReturn_t r);
	nvmlReturn_t (*device_count)(unsigned int *count);
	nvmlReturn_t (*device_by_index)(unsigned int index, nvmlDevice_t *device);
	nvmlReturn_t (*process_util)(nvmlDevice_t device, nvmlProcessUtilizationSample_t *samples,
				     unsigned int *count, unsigned long long last_seen_us);
};

struct pm_nvml {
	void *dl;
	struct nvml_api api;
	unsigned int ndevices;
	nvmlDevice_t devices[NVML_MAX_DEVICES];
	unsigned long long last_seen_us[NVML_MAX_DEVICES];
	bool unsupported[NVML_MAX_DEVICES]; /* said so once: not asked again */
	nvmlProcessUtilizationSample_t *samples;
	unsigned int cap;
};

static const char *nvml_strerror(const struct pm_nvml *n, nvmlReturn_t r)
{
	const char *s = n->api.error_string ? n->api.error_string(r) : NULL;

	return s ? s : "unknown NVML error";
}

static int resolve(struct pm_nvml *n, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{ "nvmlInit_v2", offsetof(struct nvml_api, init) },
		{ "nvmlShutdown", offsetof(struct nvml_api, shutdown) },
		{ "nvmlErrorString", offsetof(struct nvml_api, error_string) },
		{ "nvmlDeviceGetCount_v2", offsetof(struct nvml_api, device_count) },
		{ "nvmlDeviceGetHandleByIndex_v2", offsetof(struct nvml_api, device_by_index) },
		{ "nvmlDeviceGetProcessUtilization", offsetof(struct nvml_api, process_util) },
	};
	void *fn;
	size_t i;

	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		fn = dlsym(n->dl, syms[i].name);
		if (!fn) {
			snprintf(err, errlen, "nvml: %s lacks %s: driver too old", NVML_LIBRARY,
				 syms[i].name);
			return -ENOSYS;
		}
		memcpy((char *)&n->api + syms[i].off, &fn, sizeof(fn));
	}
	return 0;
}

static int init_devices(struct pm_nvml *n, char *err, size_t errlen)
{
	unsigned int i, count = 0;
	nvmlReturn_t r;

	r = n->api.init();
	if (r != NVML_SUCCESS) {
		snprintf(err, errlen, "nvml: nvmlInit: %s", nvml_strerror(n, r));
		return -ENODEV;
	}
	r = n->api.device_count(&count);
	if (r != NVML_SUCCESS) {
		snprintf(err, errlen, "nvml: nvmlDeviceGetCount: %s", nvml_strerror(n, r));
		n->api.shutdown();
		return -ENODEV;
	}
	for (i = 0; i < count && n->ndevices < NVML_MAX_DEVICES; i++)
		if (n->api.device_by_index(i, &n->devices[n->ndevices]) == NVML_SUCCESS)
			n->ndevices++;
	return 0;
}

int nvml__open(struct pm_nvml **out, const char *library, char *err, size_t errlen)
{
	const char *name = library ? library : NVML_LIBRARY;
	struct pm_nvml *n;
	int ret;

	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "nvml: set-up: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	n->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!n->dl) {
		snprintf(err, errlen,
			 "nvml: %s not found (no NVIDIA driver on this node, or not "
			 "mounted into the agent's container)",
			 name);
		ret = -ENOENT;
		goto out_free;
	}
	ret = resolve(n, err, errlen);
	if (ret)
		goto out_close;
	ret = init_devices(n, err, errlen);
	if (ret)
		goto out_close;
	*out = n;
	return 0;

out_close:
	dlclose(n->dl);
out_free:
	free(n);
	return ret;
}

unsigned int nvml__devices(const struct pm_nvml *n)
{
	return n->ndevices;
}

/* The samples of one device since the last call, in n->samples; returns how many. */
static int device_samples(struct pm_nvml *n, unsigned int d)
{
	nvmlProcessUtilizationSample_t *grown;
	unsigned int count = 0;
	nvmlReturn_t r;

	r = n->api.process_util(n->devices[d], NULL, &count, n->last_seen_us[d]);
	if (r == NVML_ERROR_NOT_FOUND || (r == NVML_SUCCESS && !count))
		return 0;
	if (r == NVML_ERROR_NOT_SUPPORTED) {
		n->unsupported[d] = true;
		return -EOPNOTSUPP;
	}
	if (r != NVML_ERROR_INSUFFICIENT_SIZE && r != NVML_SUCCESS)
		return -EIO;
	if (count > n->cap) {
		grown = realloc(n->samples, count * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		n->samples = grown;
		n->cap = count;
	}
	count = n->cap;
	r = n->api.process_util(n->devices[d], n->samples, &count, n->last_seen_us[d]);
	/* processes that started between the two calls: their samples come next time */
	if (r == NVML_ERROR_NOT_FOUND || r == NVML_ERROR_INSUFFICIENT_SIZE)
		return 0;
	if (r != NVML_SUCCESS)
		return -EIO;
	return count > n->cap ? (int)n->cap : (int)count;
}

int nvml__process_util(struct pm_nvml *n, void (*fn)(void *ctx, const struct pm_nvml_proc *p),
		       void *ctx)
{
	struct pm_nvml_proc p;
	unsigned int d;
	int i, count, ret = 0;

	for (d = 0; d < n->ndevices; d++) {
		if (n->unsupported[d])
			continue;
		count = device_samples(n, d);
		if (count < 0) {
			ret = ret ? ret : count;
			continue;
		}
		for (i = 0; i < count; i++) {
			const nvmlProcessUtilizationSample_t *s = &n->samples[i];

			if (s->timeStamp > n->last_seen_us[d])
				n->last_seen_us[d] = s->timeStamp;
			p = (struct pm_nvml_proc){
				.pid = s->pid,
				.gpu = d,
				.sm_util = s->smUtil,
				.mem_util = s->memUtil,
				.enc_util = s->encUtil,
				.dec_util = s->decUtil,
				.ts_us = s->timeStamp,
			};
			fn(ctx, &p);
		}
	}
	return ret;
}

void nvml__close(struct pm_nvml *n)
{
	if (!n)
		return;
	n->api.shutdown();
	dlclose(n->dl);
	free(n->samples);
	free(n);
}

bool nvml__available(const char *library, char *detail, size_t len)
{
	struct pm_nvml *n;

	if (nvml__open(&n, library, detail, len))
		return false;
	snprintf(detail, len, "%s: %u GPU%s", library ? library : NVML_LIBRARY, n->ndevices,
		 n->ndevices == 1 ? "" : "s");
	nvml__close(n);
	return true;
}

/* ---- the collector's source ---- */

/* NVML's per-process SM utilisation, to the process's cgroup (as of the last walk). */
static void src_nvml_proc(void *ctx, const struct pm_nvml_proc *p)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->by_pid(sink->ctx, p->pid);

	if (!r)
		return;
	if (r->now.gpu_util < 0)
		r->now.gpu_util = 0;
	r->now.gpu_util += p->sm_util / 100.0;
}

/* No NVIDIA driver here: nothing to say each start. */
static int src_nvml_open(void **out, const struct pm_source_env *env, char *err, size_t errlen)
{
	char why[512];

	(void)env;
	(void)err;
	(void)errlen;
	if (nvml__open((struct pm_nvml **)out, NULL, why, sizeof(why)))
		*out = NULL;
	return 0;
}

static int src_nvml_read(void *src, const struct pm_sink *sink)
{
	nvml__process_util(src, src_nvml_proc, (void *)sink);
	return 0;
}

static void src_nvml_close(void *src)
{
	nvml__close(src);
}

const struct pm_source pm_source_nvml = {
	.name = "nvml",
	.reading = "reading the GPU counters",
	.open = src_nvml_open,
	.read = src_nvml_read,
	.close = src_nvml_close,
	.optional = true,
};
