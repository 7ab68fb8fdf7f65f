// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Labels of the enums the snapshot carries: each table once, for every output. */
#include <stddef.h>
#include <podmeter/names.h>

#define NAMES_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
/* @table[@v] when @v is a row of it, else @dflt */
#define NAMES_ROW(table, v, dflt) ((v) >= 0 && (v) < NAMES_LEN(table) ? (table)[v] : (dflt))

static const char *const names_qos[PM_QOS_CLASSES] = {
	[PM_QOS_UNKNOWN] = "",
	[PM_QOS_GUARANTEED] = "guaranteed",
	[PM_QOS_BURSTABLE] = "burstable",
	[PM_QOS_BESTEFFORT] = "besteffort",
};

static const char *const names_runtime[PM_RT_RUNTIMES] = {
	[PM_RT_NONE] = "",	   [PM_RT_CONTAINERD] = "containerd",
	[PM_RT_CRIO] = "crio",	   [PM_RT_CRIO_CONMON] = "crio-conmon",
	[PM_RT_DOCKER] = "docker",
};

static const char *const names_oh_kind[PM_OH_KINDS] = {
	[PM_OH_UNIT] = "unit",
	[PM_OH_SLICE] = "slice",
	[PM_OH_CONTAINER] = "container",
	[PM_OH_OTHER] = "other",
};

static const char *const names_res[PM_RES_MAX] = {
	[PM_RES_CPU] = "cpu",
	[PM_RES_MEMORY] = "memory",
	[PM_RES_GPU] = "gpu",
	[PM_RES_NETWORK] = "network",
};

static const char *const names_net_class[PM_NET_CLASSES] = {
	[PM_NET_LOCAL] = "local",	    [PM_NET_IN_ZONE] = "in_zone",
	[PM_NET_CROSS_ZONE] = "cross_zone", [PM_NET_CROSS_REGION] = "cross_region",
	[PM_NET_INTERNET] = "internet",
};

static const char *const names_net_dir[PM_NET_DIRS] = {
	[PM_NET_TX] = "tx",
	[PM_NET_RX] = "rx",
};

static const char *const names_mem_kind[PM_MEM_KINDS] = {
	[PM_MEM_FILE] = "file",
	[PM_MEM_ANON] = "anon",
	[PM_MEM_SWAP] = "swap",
	[PM_MEM_SHMEM] = "shmem",
};

static const char *const names_zombie[PM_ZOMBIE_KINDS] = {
	[PM_ZOMBIE_PROCESS] = "process",
	[PM_ZOMBIE_WORKLOAD] = "workload",
	[PM_ZOMBIE_ORPHAN] = "orphan",
	[PM_ZOMBIE_GPU] = "gpu",
};

static const char *const names_gpu_op[PM_GPU_OPS] = {
	[PM_GPU_OP_ALLOC] = "alloc", [PM_GPU_OP_FREE] = "free",	  [PM_GPU_OP_CONTROL] = "control",
	[PM_GPU_OP_MAP] = "map",     [PM_GPU_OP_UNMAP] = "unmap", [PM_GPU_OP_OTHER] = "other",
};

/* in the order of enum pm_table (cpu.h), which the collector asserts */
static const char *const names_table[PM_SNAP_TABLES] = {
	"mm_state", "exited", "gpu_inflight", "cuda_allocs", "cuda_pending", "cgroups",
};

static const char *const names_cuda_refusal[PM_CUDA_REFUSE_MAX] = {
	[PM_CUDA_REFUSE_ESCAPE] = "escape",	    [PM_CUDA_REFUSE_NOT_REGULAR] = "not_regular",
	[PM_CUDA_REFUSE_OTHER_FILE] = "other_file", [PM_CUDA_REFUSE_TOO_BIG] = "too_big",
	[PM_CUDA_REFUSE_DENIED] = "denied",	    [PM_CUDA_REFUSE_BAD_ELF] = "bad_elf",
	[PM_CUDA_REFUSE_NO_SYMBOLS] = "no_symbols", [PM_CUDA_REFUSE_ATTACH] = "attach",
	[PM_CUDA_REFUSE_POD_SHARE] = "pod_share",   [PM_CUDA_REFUSE_TABLE_FULL] = "table_full",
	[PM_CUDA_REFUSE_MAPS_LONG] = "maps_long",
};

const char *names__qos(int qos)
{
	return NAMES_ROW(names_qos, qos, "");
}

const char *names__runtime(int rt)
{
	return NAMES_ROW(names_runtime, rt, "");
}

const char *names__oh_kind(int kind)
{
	return NAMES_ROW(names_oh_kind, kind, NULL);
}

const char *names__res(int res)
{
	return NAMES_ROW(names_res, res, "");
}

const char *names__net_class(int class)
{
	return NAMES_ROW(names_net_class, class, "");
}

const char *names__net_dir(int dir)
{
	return NAMES_ROW(names_net_dir, dir, "");
}

const char *names__mem_kind(int kind)
{
	return NAMES_ROW(names_mem_kind, kind, "");
}

const char *names__zombie(int kind)
{
	return NAMES_ROW(names_zombie, kind, "?");
}

const char *names__gpu_op(int op)
{
	return NAMES_ROW(names_gpu_op, op, "other");
}

const char *names__table(int table)
{
	return NAMES_ROW(names_table, table, "");
}

const char *names__cuda_refusal(int why)
{
	return NAMES_ROW(names_cuda_refusal, why, NULL);
}
