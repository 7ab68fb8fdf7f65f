/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The bounded names both sides use (common/names.c): the enums the agent
 * fills the snapshot with, and the label each value has in /metrics, /v1/pods
 * and reports. Each table lives here once; adding a value is adding a row.
 * Depends on nothing but the headers shared with the kernel side.
 */
#ifndef PODMETER_NAMES_H
#define PODMETER_NAMES_H

#include <podmeter/cuda.h>
#include <podmeter/mem.h>
#include <podmeter/net.h>

/* Bounds of the identifiers the snapshot carries. */
#define PM_UID_LEN     36 /* pod uid: 8-4-4-4-12 hex, dashed */
#define PM_CID_MAX     64 /* container ids: hex, up to 64 */
#define PM_OH_NAME_MAX 95 /* bytes of an overhead group's name, escaped, without the NUL */

/* A pod's QoS class, from its cgroup path. */
enum pm_qos {
	PM_QOS_UNKNOWN = 0,
	PM_QOS_GUARANTEED,
	PM_QOS_BURSTABLE,
	PM_QOS_BESTEFFORT,
	PM_QOS_CLASSES,
};

/* The container runtime that made a container's cgroup. */
enum pm_runtime {
	PM_RT_NONE = 0,	   /* no container in the path (the pod cgroup itself) */
	PM_RT_CONTAINERD,  /* cri-containerd-<id>.scope, or a bare <id> (cgroupfs) */
	PM_RT_CRIO,	   /* crio-<id>.scope / crio-<id> */
	PM_RT_CRIO_CONMON, /* crio-conmon-<id>.scope: the runtime's monitor, pod overhead */
	PM_RT_DOCKER,	   /* docker-<id>.scope */
	PM_RT_RUNTIMES,
};

/* Kinds of node overhead group (the `kind` label). */
enum pm_oh_kind {
	PM_OH_UNIT,	 /* a systemd service, scope, socket, mount... */
	PM_OH_SLICE,	 /* a slice or a cgroup tree that is not a unit */
	PM_OH_CONTAINER, /* docker, podman, containerd/nerdctl, CRI-O, lxc */
	PM_OH_OTHER,	 /* the groups not shown, and what no group holds */
	PM_OH_KINDS,
};

/* Priced resources: cost[] and waste[] are indexed by these. */
enum pm_res {
	PM_RES_CPU = 0,
	PM_RES_MEMORY,
	PM_RES_GPU,
	PM_RES_NETWORK,
	PM_RES_MAX,
};

/* Kinds of zombie pod (bounded: the kind label) */
enum pm_zombie_kind {
	PM_ZOMBIE_PROCESS = 0, /* exited children left unreaped */
	PM_ZOMBIE_WORKLOAD,    /* holds memory or GPU memory, does no work */
	PM_ZOMBIE_ORPHAN,      /* live processes in a pod the kubelet no longer lists */
	PM_ZOMBIE_GPU,	       /* holds GPU memory, launches nothing */
	PM_ZOMBIE_KINDS,
};

/* GPU driver ioctl classes (bounded: the op label) */
enum pm_gpu_op {
	PM_GPU_OP_ALLOC = 0,
	PM_GPU_OP_FREE,
	PM_GPU_OP_CONTROL,
	PM_GPU_OP_MAP,
	PM_GPU_OP_UNMAP,
	PM_GPU_OP_OTHER,
	PM_GPU_OPS,
};

/*
 * Tables a pod can fill, in the order of enum pm_table (cpu.h): the `table`
 * label of refusals.
 */
#define PM_SNAP_TABLES 6

/*
 * Each returns the label of one value. Out of range, what each has always
 * given: "" for the QoS class, runtime, network class, table, memory kind,
 * direction and resource; "other" for a GPU op; "?" for a zombie kind; NULL
 * for an overhead kind and for a CUDA refusal (also NULL for a refusal value
 * without a label of its own).
 */
const char *names__qos(int qos);	  /* enum pm_qos: "guaranteed", ... */
const char *names__runtime(int rt);	  /* enum pm_runtime: "containerd", ... */
const char *names__oh_kind(int kind);	  /* enum pm_oh_kind: "unit", ... */
const char *names__res(int res);	  /* enum pm_res: "cpu", ... */
const char *names__net_class(int class);  /* enum pm_net_class: "local", ... */
const char *names__net_dir(int dir);	  /* enum pm_net_dir: "tx", "rx" */
const char *names__mem_kind(int kind);	  /* enum pm_mem_kind: "file", ... */
const char *names__zombie(int kind);	  /* enum pm_zombie_kind: "process", ... */
const char *names__gpu_op(int op);	  /* enum pm_gpu_op: "alloc", ... */
const char *names__table(int table);	  /* enum pm_table: "mm_state", ... */
const char *names__cuda_refusal(int why); /* enum pm_cuda_refusal: "escape", ... */

#endif /* PODMETER_NAMES_H */
