// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Programs, links and maps kept under bpffs, so counting goes on while no
 * agent runs (a crash, a rolling upgrade) and a new agent adopts the counts
 * instead of starting over.
 *
 * Each BPF object has a directory <pin root>/<object>: its maps under their
 * own names, its links as "link_<program>", and a one-entry array "layout"
 * holding PM_PIN_LAYOUT. Before load, a set whose layout number and every
 * map's type, key and value sizes, size and flags match is adopted (libbpf
 * reuses the pinned maps); anything else is removed whole and the object
 * starts over. After load, a pinned link is moved to the new program when the
 * kernel can do that in place (cgroup links); otherwise it is unpinned, which
 * detaches the old program, and the new one attached and pinned right after:
 * switches missed in between are charged from the per-CPU bases and the
 * kernel's own marks (bpf/cpu.bpf.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/caps.h>
#include <podmeter/pin.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define PIN_BPFFS   "/sys/fs/bpf" /* where bpffs is mounted by convention */
#define LAYOUT_NAME "layout"
#define LINK_PREFIX "link_" /* bpffs refuses names with a dot */

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The nearest existing ancestor of @path (or itself) is on bpffs. */
static int on_bpffs(const char *path)
{
	char tmp[PATH_MAX], *slash;
	struct statfs st;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	while (statfs(tmp, &st)) {
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(tmp, '/');
		if (!slash || slash == tmp)
			return -ENOENT;
		*slash = '\0';
	}
	return st.f_type == BPF_FS_MAGIC ? 0 : -EXDEV;
}

/* Remove everything under @dir, then @dir. Returns entries removed or -errno. */
static int remove_tree(const char *dir)
{
	struct dirent *de;
	int n = 0, sub;
	char path[PATH_MAX + NAME_MAX + 16];
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (de->d_type == DT_DIR) {
			sub = remove_tree(path);
			if (sub > 0)
				n += sub;
		} else if (!unlink(path)) {
			n++;
		}
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		return -errno;
	return n;
}

static bool skipped(const struct pm_pin *pin, const struct bpf_map *map)
{
	const char *const *t;

	/* .rodata/.bss are per load; maps a twin does not create are not kept */
	if (bpf_map__is_internal(map) || !bpf_map__autocreate(map))
		return true;
	for (t = pin->transient; t && *t; t++)
		if (!strcmp(*t, bpf_map__name(map)))
			return true;
	return false;
}

static int read_layout(const char *dir, __u64 *layout)
{
	char path[PATH_MAX + NAME_MAX + 16];
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/" LAYOUT_NAME, dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, layout))
		err = -errno;
	close(fd);
	return err;
}

static int write_layout(const char *dir)
{
	char path[PATH_MAX + NAME_MAX + 16];
	__u64 layout = PM_PIN_LAYOUT;
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/" LAYOUT_NAME, dir);
	if (!access(path, F_OK))
		return 0;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pm_layout", sizeof(__u32), sizeof(__u64), 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, &layout, BPF_ANY) || bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

/* Why @fd cannot stand for @map; NULL when it can. */
static const char *mismatch(const struct bpf_map *map, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return "unreadable";
	if (info.type != bpf_map__type(map))
		return "map type";
	if (info.key_size != bpf_map__key_size(map))
		return "key size";
	if (info.value_size != bpf_map__value_size(map))
		return "value size";
	if (info.max_entries != bpf_map__max_entries(map))
		return "size";
	if (info.map_flags != bpf_map__map_flags(map))
		return "flags";
	return NULL;
}

/* The pinned twin of @map, an fd to close; -1 when it is not kept or not pinned. */
static int pinned_map(const struct pm_pin *pin, const struct bpf_map *map)
{
	char path[PATH_MAX + NAME_MAX + 16];

	if (skipped(pin, map))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", pin->dir, bpf_map__name(map));
	return bpf_obj_get(path);
}

/*
 * Adopt what @pin's directory holds for @obj (logged), or clear it. Returns 0;
 * a negative errno only for a directory that cannot be made or cleared.
 */
static int adopt_maps(struct pm_pin *pin, struct bpf_object *obj)
{
	const char *why = NULL;
	struct bpf_map *map;
	__u64 layout = 0;
	int fd, found = 0, err;

	err = read_layout(pin->dir, &layout);
	if (err == -ENOENT) {
		/* nothing (or a set without its layout): start clean */
		err = remove_tree(pin->dir);
		return err < 0 ? err : mkdir_p(pin->dir);
	}
	if (err)
		why = "layout unreadable";
	else if (layout != PM_PIN_LAYOUT)
		why = "another layout version";
	/* every map first: a set is taken whole or not at all */
	bpf_object__for_each_map(map, obj)
	{
		if (why)
			break;
		fd = pinned_map(pin, map);
		if (fd < 0)
			continue; /* not kept, or new in this version: made fresh */
		why = mismatch(map, fd);
		close(fd);
	}
	bpf_object__for_each_map(map, obj)
	{
		if (why)
			break;
		fd = pinned_map(pin, map);
		if (fd < 0)
			continue;
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			return err; /* libbpf keeps no half state worth loading */
		found++;
	}
	if (!why) {
		if (found)
			fprintf(stderr, "podmeter: pin: adopting %d map%s pinned in %s\n", found,
				found == 1 ? "" : "s", pin->dir);
		return 0;
	}
	fprintf(stderr,
		"warning: pin: %s holds an incompatible set (%s); replacing it, "
		"counting starts over\n",
		pin->dir, why);
	err = remove_tree(pin->dir);
	return err < 0 ? err : mkdir_p(pin->dir);
}

static char pin_root[PATH_MAX];

static bool under_sys_fs_bpf(const char *path)
{
	size_t n = strlen(PIN_BPFFS);

	return !strncmp(path, PIN_BPFFS, n) && (path[n] == '/' || !path[n]);
}

/*
 * A pin root under /sys/fs/bpf where no bpffs is mounted: mount one there, as
 * bpftool and systemd do (mount -t bpf bpf /sys/fs/bpf), when the agent holds
 * CAP_SYS_ADMIN. Returns 0, or -errno with @why set for the warning. Nothing
 * is mounted over another directory: that would hide what it holds.
 */
static int mount_bpffs(const char *root, char *why, size_t len)
{
	int err;

	if (!under_sys_fs_bpf(root) || on_bpffs(PIN_BPFFS) != -EXDEV) {
		snprintf(why, len,
			 "mount one there with mount -t bpf bpf DIR, or use --pin-dir " PIN_BPFFS
			 "/podmeter");
		return -EXDEV;
	}
	if (!caps__held(CAP_SYS_ADMIN)) {
		snprintf(why, len,
			 "mounting one on " PIN_BPFFS " takes CAP_SYS_ADMIN; mount it "
			 "on the host with mount -t bpf bpf " PIN_BPFFS);
		return -EPERM;
	}
	if (mount("bpf", PIN_BPFFS, "bpf", 0, "mode=0700")) {
		err = -errno;
		snprintf(why, len, "mount -t bpf bpf " PIN_BPFFS ": %s", strerror(-err));
		return err;
	}
	fprintf(stderr, "podmeter: pin: mounted bpffs on " PIN_BPFFS "\n");
	err = on_bpffs(root);
	if (err)
		snprintf(why, len, "after mounting bpffs on " PIN_BPFFS ": %s", strerror(-err));
	return err;
}

/*
 * The root every object's set lives under, checked once: not on bpffs (and
 * none mountable), pinning is off for the whole agent, with one warning.
 */
void pin__set_root(const char *root)
{
	char why[256];
	int err;

	pin_root[0] = '\0';
	if (!root || !root[0])
		return;
	err = on_bpffs(root);
	if (err == -EXDEV)
		err = mount_bpffs(root, why, sizeof(why));
	else if (err)
		snprintf(why, sizeof(why), "%s", strerror(-err));
	if (err) {
		fprintf(stderr,
			"warning: pin: %s is not on a bpffs mount (%s); pinning is off: "
			"counts start over with each agent\n",
			root, why);
		return;
	}
	snprintf(pin_root, sizeof(pin_root), "%s", root);
}

int pin__prepare(struct pm_pin *pin, struct bpf_object *obj, const char *const *transient)
{
	const char *name = bpf_object__name(obj), *root = pin_root;
	int err;

	memset(pin, 0, sizeof(*pin));
	pin->transient = transient;
	if (!root || !root[0])
		return 0;
	err = on_bpffs(root);
	if (err) {
		/* unmounted since pin__set_root: off for every object from here */
		fprintf(stderr,
			"warning: pin: %s is not on a bpffs mount (%s); pinning is off: "
			"counts start over with each agent\n",
			root, strerror(-err));
		pin_root[0] = '\0';
		return 0;
	}
	if (snprintf(pin->dir, sizeof(pin->dir), "%s/%s", root, name) >= (int)sizeof(pin->dir)) {
		pin->dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	err = mkdir_p(root);
	if (!err)
		err = adopt_maps(pin, obj);
	if (err) {
		fprintf(stderr, "warning: pin: %s: %s; not pinning\n", pin->dir, strerror(-err));
		pin->dir[0] = '\0';
	}
	return 0;
}

/*
 * Pinned links of programs not attached now (the other twin, a program a
 * new version dropped) would go on counting into the same maps: unpinned.
 */
static void drop_foreign_links(struct pm_pin *pin, const struct bpf_object_skeleton *s)
{
	char path[PATH_MAX + NAME_MAX + 16];
	struct dirent *de;
	DIR *d = opendir(pin->dir);
	int i;

	if (!d)
		return;
	while ((de = readdir(d))) {
		bool ours = false;

		if (strncmp(de->d_name, LINK_PREFIX, strlen(LINK_PREFIX)))
			continue;
		for (i = 0; i < s->prog_cnt; i++)
			ours |= bpf_program__autoload(*s->progs[i].prog) &&
				!strcmp(de->d_name + strlen(LINK_PREFIX), s->progs[i].name);
		if (ours)
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin->dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

int pin__attach(struct pm_pin *pin, const struct bpf_object_skeleton *s,
		struct bpf_link *(*attach)(struct bpf_program *prog, void *ctx), void *ctx)
{
	char path[PATH_MAX + NAME_MAX + 16];
	struct bpf_link *link, *old;
	int i, err;

	if (pin->dir[0])
		drop_foreign_links(pin, s);
	for (i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *prog = *s->progs[i].prog;

		if (!bpf_program__autoload(prog) || !s->progs[i].link)
			continue;
		if (!attach && !bpf_program__autoattach(prog))
			continue;
		snprintf(path, sizeof(path), "%s/" LINK_PREFIX "%s", pin->dir, s->progs[i].name);
		if (pin->dir[0] && !access(path, F_OK) && (old = bpf_link__open(path))) {
			if (!bpf_link__update_program(old, prog)) {
				/* in place: no event missed */
				*s->progs[i].link = old;
				continue;
			}
			/* tracing links cannot be updated: detach, then attach anew */
			unlink(path);
			bpf_link__destroy(old);
		}
		link = attach ? attach(prog, ctx) : bpf_program__attach(prog);
		if (!link)
			return -errno;
		*s->progs[i].link = link;
		if (!pin->dir[0])
			continue;
		err = bpf_link__pin(link, path);
		if (err)
			fprintf(stderr, "warning: pin: %s: %s; it detaches with the agent\n", path,
				strerror(-err));
	}
	return 0;
}

int pin__commit(struct pm_pin *pin, struct bpf_object *obj)
{
	char path[PATH_MAX + NAME_MAX + 16];
	struct bpf_map *map;
	int err;

	if (!pin->dir[0])
		return 0;
	/* the layout first: maps pinned without it would be thrown away */
	err = write_layout(pin->dir);
	if (err) {
		fprintf(stderr, "warning: pin: %s/" LAYOUT_NAME ": %s\n", pin->dir, strerror(-err));
		return err;
	}
	bpf_object__for_each_map(map, obj)
	{
		if (skipped(pin, map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin->dir, bpf_map__name(map));
		if (!access(path, F_OK))
			continue; /* adopted */
		err = bpf_map__pin(map, path);
		if (err) {
			fprintf(stderr, "warning: pin: %s: %s\n", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

void pin__release(struct pm_pin *pin, const struct bpf_object_skeleton *s)
{
	int i;

	if (!pin->dir[0] || !s)
		return;
	/* pinned links stay attached: closing our fds must not detach them */
	for (i = 0; i < s->prog_cnt; i++)
		if (s->progs[i].link && *s->progs[i].link && bpf_link__pin_path(*s->progs[i].link))
			bpf_link__disconnect(*s->progs[i].link);
}

int pin__remove(const char *root)
{
	int err;

	if (access(root, F_OK) && errno == ENOENT)
		return 0; /* nothing pinned: whatever the file system */
	err = on_bpffs(root);

	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	return remove_tree(root);
}

int pin__load(struct pm_pin *pin, const struct bpf_object_skeleton *s, const char *const *transient,
	      const char **what)
{
	int ret;

	*what = "pin";
	ret = pin__prepare(pin, *s->obj, transient);
	if (ret)
		return ret;
	*what = "load";
	ret = bpf_object__load_skeleton((struct bpf_object_skeleton *)s);
	if (ret)
		return ret;
	*what = "attach";
	ret = pin__attach(pin, s, NULL, NULL);
	if (ret)
		return ret;
	pin__commit(pin, *s->obj);
	return 0;
}
