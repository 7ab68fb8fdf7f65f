// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The durable report spool: one file per report, written to a temporary name,
 * fsync'ed, renamed and the directory fsync'ed, so a crash leaves either the
 * whole report or none of it. The sequence is committed the same way to
 * <dir>/seq; at open the next number is one past the highest of that file and
 * every report name still present (spool, rejected/, corrupt/), so numbers
 * never repeat, whichever step a crash interrupted.
 *
 * put runs on the collection thread, oldest/remove/reject on the shipper's;
 * one mutex guards the list of reports present and the counters. Paths are
 * relative to a descriptor of the directory (the *at() calls).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>
#include <podmeter/spool.h>

#define SPOOL_SEQ_FILE	 "seq"
#define SPOOL_TMP_PREFIX ".tmp-"
#define SPOOL_REJECTED	 "rejected"
#define SPOOL_CORRUPT	 "corrupt"
#define SPOOL_SEQ_DIGITS 20
#define SPOOL_NAME_LEN	 (SPOOL_SEQ_DIGITS + sizeof(PM_SPOOL_SUFFIX)) /* with the NUL */
/* On ENOSPC, drop this many oldest reports at most, one per try, before giving up. */
#define SPOOL_SPACE_TRIES 4

struct spool_ent {
	uint64_t seq;
	uint64_t size; /* of the file, header included */
};

struct pm_spool {
	pthread_mutex_t lock;
	char *dir;
	int dfd;
	uint64_t max_bytes;	/* 0: no bound */
	uint64_t next;		/* the next report's sequence */
	uint64_t committed;	/* what <dir>/seq holds, durably */
	struct spool_ent *ents; /* present, ascending sequence */
	size_t n, cap;
	struct pm_spool_stats st;
};

static void spool_name(char buf[SPOOL_NAME_LEN], uint64_t seq)
{
	snprintf(buf, SPOOL_NAME_LEN, "%0*" PRIu64 PM_SPOOL_SUFFIX, SPOOL_SEQ_DIGITS, seq);
}

/* "<20 digits><@suffix>" -> true and *@seq. */
static bool spool_parse_name(const char *name, const char *suffix, uint64_t *seq)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < SPOOL_SEQ_DIGITS; i++) {
		if (!isdigit((unsigned char)name[i]))
			return false;
		if (v > (UINT64_MAX - (name[i] - '0')) / 10)
			return false;
		v = v * 10 + (name[i] - '0');
	}
	if (strcmp(name + SPOOL_SEQ_DIGITS, suffix))
		return false;
	*seq = v;
	return true;
}

static uint32_t get_le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EINVAL; /* shrank under us: as torn */
		p += n;
		len -= n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Read and verify an open spool file. -EINVAL (with @err saying which check
 * failed) when it is not a whole report, -errno when it cannot be read.
 */
static int spool_verify_fd(int fd, void **payload, size_t *len, char *err, size_t errlen)
{
	unsigned char hdr[PM_SPOOL_HEADER];
	uint32_t plen, crc;
	struct stat st;
	void *buf;
	int ret;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size < PM_SPOOL_HEADER) {
		snprintf(err, errlen, "file holds %lld bytes, less than the %d-byte header: torn",
			 (long long)st.st_size, PM_SPOOL_HEADER);
		return -EINVAL;
	}
	ret = read_all(fd, hdr, sizeof(hdr));
	if (ret)
		return ret;
	if (memcmp(hdr, PM_SPOOL_MAGIC, 4)) {
		snprintf(err, errlen, "bad magic: not a podmeter spool file");
		return -EINVAL;
	}
	plen = get_le32(hdr + 4);
	crc = get_le32(hdr + 8);
	if ((uint64_t)st.st_size - PM_SPOOL_HEADER != plen) {
		snprintf(err, errlen, "length says %" PRIu32 ", file holds %lld: torn or corrupt",
			 plen, (long long)st.st_size - PM_SPOOL_HEADER);
		return -EINVAL;
	}
	if (get_le32(hdr + 12)) {
		snprintf(err, errlen, "reserved header word is not 0: corrupt");
		return -EINVAL;
	}
	buf = malloc(plen ? plen : 1);
	if (!buf)
		return -ENOMEM;
	ret = read_all(fd, buf, plen);
	if (!ret && crc32(crc32(0L, Z_NULL, 0), buf, plen) != crc) {
		snprintf(err, errlen, "CRC mismatch: torn or corrupt");
		ret = -EINVAL;
	}
	if (ret) {
		free(buf);
		return ret;
	}
	*payload = buf;
	*len = plen;
	return 0;
}

int spool__read_file(const char *path, void **payload, size_t *len, char *err, size_t errlen)
{
	char why[128];
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	why[0] = '\0';
	ret = spool_verify_fd(fd, payload, len, why, sizeof(why));
	close(fd);
	if (ret)
		snprintf(err, errlen, "%s: %s", path, why[0] ? why : strerror(-ret));
	return ret;
}

/* Verify <dir>/@name: 0 and the payload when @payload, or why it failed. */
static int spool_verify_at(struct pm_spool *s, const char *name, void **payload, size_t *len)
{
	char why[128];
	void *buf;
	size_t n;
	int fd, ret;

	fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = spool_verify_fd(fd, &buf, &n, why, sizeof(why));
	close(fd);
	if (ret)
		return ret;
	if (payload) {
		*payload = buf;
		*len = n;
	} else {
		free(buf);
	}
	return 0;
}

/*
 * Write <dir>/@name durably: <dir>/@tmp, fsync, rename, fsync of the
 * directory. Nothing is left behind on failure.
 */
static int spool_write_durable(struct pm_spool *s, const char *tmp, const char *name,
			       const void *head, size_t headlen, const void *body, size_t bodylen)
{
	int fd, ret;

	fd = openat(s->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, head, headlen);
	if (!ret && bodylen)
		ret = write_all(fd, body, bodylen);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(s->dfd, tmp, s->dfd, name))
		ret = -errno;
	if (ret) {
		unlinkat(s->dfd, tmp, 0);
		return ret;
	}
	if (fsync(s->dfd)) {
		/* the rename may not survive a crash: do not count on it */
		ret = -errno;
		unlinkat(s->dfd, name, 0);
		return ret;
	}
	return 0;
}

static int spool_commit(struct pm_spool *s, uint64_t seq)
{
	char buf[32];
	int n, ret;

	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", seq);
	ret = spool_write_durable(s, SPOOL_TMP_PREFIX SPOOL_SEQ_FILE, SPOOL_SEQ_FILE, buf, n, NULL,
				  0);
	if (!ret)
		s->committed = seq;
	return ret;
}

/* <dir>/seq: 0 and *@seq (0 when there is none), or -EINVAL with @err. */
static int spool_read_seq(struct pm_spool *s, uint64_t *seq, char *err, size_t errlen)
{
	char buf[32], *end;
	ssize_t n;
	int fd;

	*seq = 0;
	fd = openat(s->dfd, SPOOL_SEQ_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		goto fail_errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		goto fail_errno;
	buf[n] = '\0';
	errno = 0;
	*seq = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && strcmp(end, "\n")) || buf[0] == '-') {
		snprintf(err, errlen,
			 "spool: %s/" SPOOL_SEQ_FILE ": not a sequence number; fix it, or delete "
			 "it to number on from the highest report present",
			 s->dir);
		return -EINVAL;
	}
	return 0;

fail_errno:
	n = -errno;
	snprintf(err, errlen, "spool: %s/" SPOOL_SEQ_FILE ": %s", s->dir, strerror(-n));
	return n;
}

static ssize_t spool_find(struct pm_spool *s, uint64_t seq)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ents[mid].seq == seq)
			return mid;
		if (s->ents[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Append: callers add in ascending order (put) or sort after (open). */
static int spool_add(struct pm_spool *s, uint64_t seq, uint64_t size)
{
	struct spool_ent *grown;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		grown = realloc(s->ents, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->ents = grown;
		s->cap = cap;
	}
	s->ents[s->n].seq = seq;
	s->ents[s->n].size = size;
	s->n++;
	s->st.bytes += size;
	s->st.files = s->n;
	return 0;
}

static void spool_forget(struct pm_spool *s, size_t i)
{
	s->st.bytes -= s->ents[i].size;
	memmove(&s->ents[i], &s->ents[i + 1], (s->n - i - 1) * sizeof(*s->ents));
	s->n--;
	s->st.files = s->n;
}

/* Move report @seq to <dir>/@sub/. */
static int spool_move(struct pm_spool *s, const char *sub, uint64_t seq)
{
	char name[SPOOL_NAME_LEN], to[sizeof(SPOOL_REJECTED) + SPOOL_NAME_LEN];

	spool_name(name, seq);
	snprintf(to, sizeof(to), "%s/%s", sub, name);
	if (renameat(s->dfd, name, s->dfd, to))
		return -errno;
	return 0;
}

static void spool_quarantine(struct pm_spool *s, uint64_t seq)
{
	char name[SPOOL_NAME_LEN];

	/* when even the move fails, the file must not be offered again */
	if (spool_move(s, SPOOL_CORRUPT, seq)) {
		spool_name(name, seq);
		unlinkat(s->dfd, name, 0);
	}
	s->st.corrupt++;
}

static void spool_drop_oldest(struct pm_spool *s)
{
	char name[SPOOL_NAME_LEN];

	spool_name(name, s->ents[0].seq);
	unlinkat(s->dfd, name, 0);
	spool_forget(s, 0);
	s->st.dropped++;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct spool_ent *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The highest sequence named in @sub (rejected/, corrupt/): numbers used before. */
static uint64_t spool_sub_max(struct pm_spool *s, const char *sub)
{
	uint64_t seq, max = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(s->dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		if ((spool_parse_name(de->d_name, PM_SPOOL_SUFFIX, &seq) ||
		     spool_parse_name(de->d_name, ".reason", &seq)) &&
		    seq > max)
			max = seq;
	}
	closedir(d);
	return max;
}

/* One name found at open: a stale temporary, a report to verify, or neither. */
static int spool_scan_one(struct pm_spool *s, const char *name, uint64_t *max, char *err,
			  size_t errlen)
{
	uint64_t seq;
	struct stat st;
	int ret;

	if (!strncmp(name, SPOOL_TMP_PREFIX, strlen(SPOOL_TMP_PREFIX))) {
		unlinkat(s->dfd, name, 0); /* a put a crash cut short */
		return 0;
	}
	if (!spool_parse_name(name, PM_SPOOL_SUFFIX, &seq))
		return 0;
	if (seq > *max)
		*max = seq;
	ret = spool_verify_at(s, name, NULL, NULL);
	if (ret == -EINVAL || ret == -EIO) {
		spool_quarantine(s, seq);
		return 0;
	}
	if (ret == -ENOENT)
		return 0;
	if (!ret && fstatat(s->dfd, name, &st, 0))
		ret = -errno;
	if (!ret)
		ret = spool_add(s, seq, st.st_size);
	if (ret)
		snprintf(err, errlen, "spool: %s/%s: %s", s->dir, name, strerror(-ret));
	return ret;
}

static int spool_scan(struct pm_spool *s, uint64_t *max, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "spool: %s: %s", s->dir, strerror(-ret));
		return ret;
	}
	while (!ret && (de = readdir(d)))
		ret = spool_scan_one(s, de->d_name, max, err, errlen);
	closedir(d);
	if (!ret && s->n)
		qsort(s->ents, s->n, sizeof(*s->ents), cmp_ent);
	return ret;
}

static int mkdir_p(char *path, mode_t mode)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int spool_mkdirs(struct pm_spool *s, char *err, size_t errlen)
{
	const char *subs[] = { SPOOL_REJECTED, SPOOL_CORRUPT };
	char *path;
	size_t i;
	int ret;

	path = strdup(s->dir);
	ret = path ? mkdir_p(path, 0700) : -ENOMEM;
	free(path);
	if (!ret) {
		s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->dfd < 0)
			ret = -errno;
	}
	if (ret) {
		snprintf(err, errlen, "spool: %s: %s; check the spool directory setting", s->dir,
			 strerror(-ret));
		return ret;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (mkdirat(s->dfd, subs[i], 0700) && errno != EEXIST) {
			ret = -errno;
			snprintf(err, errlen, "spool: %s/%s: %s", s->dir, subs[i], strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int spool__open(struct pm_spool **out, const char *dir, uint64_t max_bytes, char *err,
		size_t errlen)
{
	uint64_t max = 0, sub, committed;
	struct pm_spool *s;
	int ret;

	if (!dir[0]) {
		snprintf(err, errlen, "spool: no directory set");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		snprintf(err, errlen, "spool: out of memory");
		return -ENOMEM;
	}
	s->dfd = -1;
	s->max_bytes = max_bytes;
	pthread_mutex_init(&s->lock, NULL);
	ret = spool_mkdirs(s, err, errlen);
	if (!ret)
		ret = spool_read_seq(s, &committed, err, errlen);
	if (!ret)
		ret = spool_scan(s, &max, err, errlen);
	if (ret)
		goto out_close;
	sub = spool_sub_max(s, SPOOL_REJECTED);
	max = sub > max ? sub : max;
	sub = spool_sub_max(s, SPOOL_CORRUPT);
	max = sub > max ? sub : max;
	s->committed = committed;
	if (max > committed) {
		/* a crash between a report and its commit, or no seq file */
		ret = spool_commit(s, max);
		if (ret) {
			snprintf(err, errlen, "spool: %s/" SPOOL_SEQ_FILE ": %s", dir,
				 strerror(-ret));
			goto out_close;
		}
	}
	s->next = s->committed + 1;
	*out = s;
	return 0;

out_close:
	spool__close(s);
	return ret;
}

uint64_t spool__next_seq(struct pm_spool *s)
{
	uint64_t seq;

	pthread_mutex_lock(&s->lock);
	seq = s->next;
	pthread_mutex_unlock(&s->lock);
	return seq;
}

/* Commit @seq; on ENOSPC, drop oldest reports (never @keep) to make room. */
static int spool_commit_room(struct pm_spool *s, uint64_t seq, uint64_t keep, unsigned int *drops,
			     int *full)
{
	int ret, tries;

	for (tries = 0;; tries++) {
		ret = spool_commit(s, seq);
		if (ret != -ENOSPC && ret != -EDQUOT)
			return ret;
		*full = ret;
		if (tries == SPOOL_SPACE_TRIES || !s->n || s->ents[0].seq == keep)
			return ret;
		spool_drop_oldest(s);
		(*drops)++;
	}
}

/* Whether dropping every report could make room: if surely not, keep them. */
static bool spool_could_fit(struct pm_spool *s, size_t len)
{
	struct statvfs vfs;
	uint64_t freeable;

	if (fstatvfs(s->dfd, &vfs))
		return true;
	/* at most a block more per file than its bytes */
	freeable = s->st.bytes + (uint64_t)s->n * vfs.f_frsize;
	return PM_SPOOL_HEADER + (uint64_t)len <= (uint64_t)vfs.f_bavail * vfs.f_frsize + freeable;
}

/* Write report @seq; on ENOSPC, drop the oldest and try again, a few times. */
static int spool_store(struct pm_spool *s, uint64_t seq, const void *payload, size_t len,
		       unsigned int *drops, int *full)
{
	char name[SPOOL_NAME_LEN], tmp[sizeof(SPOOL_TMP_PREFIX) + SPOOL_NAME_LEN];
	unsigned char hdr[PM_SPOOL_HEADER];
	int ret, tries;

	memcpy(hdr, PM_SPOOL_MAGIC, 4);
	put_le32(hdr + 4, len);
	put_le32(hdr + 8, crc32(crc32(0L, Z_NULL, 0), payload, len));
	put_le32(hdr + 12, 0);
	spool_name(name, seq);
	snprintf(tmp, sizeof(tmp), SPOOL_TMP_PREFIX "%" PRIu64, seq);
	for (tries = 0;; tries++) {
		ret = spool_write_durable(s, tmp, name, hdr, sizeof(hdr), payload, len);
		if (!ret)
			return spool_add(s, seq, PM_SPOOL_HEADER + (uint64_t)len);
		if (ret != -ENOSPC && ret != -EDQUOT)
			return ret;
		*full = ret;
		if (tries == SPOOL_SPACE_TRIES || !s->n || !spool_could_fit(s, len))
			return ret;
		spool_drop_oldest(s);
		(*drops)++;
	}
}

int spool__put(struct pm_spool *s, uint64_t seq, const void *payload, size_t len, char *err,
	       size_t errlen)
{
	uint64_t size = PM_SPOOL_HEADER + (uint64_t)len;
	unsigned int drops = 0, bound_drops = 0;
	int ret, full = 0;

	pthread_mutex_lock(&s->lock);
	if (seq != s->next) {
		snprintf(err, errlen,
			 "spool: report %" PRIu64 " out of sequence, expected %" PRIu64, seq,
			 s->next);
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;
	}
	s->next++; /* consumed, whatever happens below */
	if (len > UINT32_MAX) {
		snprintf(err, errlen,
			 "spool: report %" PRIu64 " is %zu bytes, more than a spool "
			 "file holds (4 GiB); not stored",
			 seq, len);
		ret = -EFBIG;
		goto out_dropped;
	}
	if (s->max_bytes && size > s->max_bytes) {
		snprintf(err, errlen,
			 "spool: %s: report %" PRIu64 " is %" PRIu64 " bytes, more than the whole "
			 "spool bound (%" PRIu64 " bytes); not stored, raise the spool size",
			 s->dir, seq, size, s->max_bytes);
		ret = -EFBIG;
		goto out_dropped;
	}
	while (s->max_bytes && s->n && s->st.bytes + size > s->max_bytes) {
		spool_drop_oldest(s);
		drops++;
	}
	bound_drops = drops;
	ret = spool_store(s, seq, payload, len, &drops, &full);
	if (ret) {
		snprintf(err, errlen,
			 "spool: %s: %s; dropped %u oldest reports, report %" PRIu64 " not stored",
			 s->dir, strerror(-ret), drops, seq);
		goto out_dropped;
	}
	s->st.written++;
	/*
	 * A failed commit is not the report's failure: its file names the
	 * sequence, which open recovers; remove commits before deleting it.
	 */
	spool_commit_room(s, seq, seq, &drops, &full);
	if (full)
		snprintf(err, errlen,
			 "spool: %s: %s; dropped the %u oldest reports to store report %" PRIu64,
			 s->dir, strerror(-full), drops, seq);
	else if (bound_drops)
		snprintf(err, errlen,
			 "spool: %s: at its bound of %" PRIu64 " bytes; dropped the %u oldest "
			 "reports to store report %" PRIu64,
			 s->dir, s->max_bytes, drops, seq);
	pthread_mutex_unlock(&s->lock);
	return drops ? 1 : 0;

out_dropped:
	s->st.dropped++;
	spool_commit_room(s, seq, 0, &drops, &full);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* Read the oldest report's file outside the lock: the collection thread is not held up. */
int spool__oldest(struct pm_spool *s, uint64_t *seq, void **payload, size_t *len)
{
	char name[SPOOL_NAME_LEN];
	ssize_t i;
	uint64_t at;
	int ret;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		if (!s->n) {
			pthread_mutex_unlock(&s->lock);
			return -ENOENT;
		}
		at = s->ents[0].seq;
		pthread_mutex_unlock(&s->lock);

		spool_name(name, at);
		ret = spool_verify_at(s, name, payload, len);
		if (!ret) {
			*seq = at;
			return 0;
		}
		pthread_mutex_lock(&s->lock);
		i = spool_find(s, at);
		if (i < 0) {
			/* dropped or removed meanwhile: not a fault of the file */
		} else if (ret == -ENOENT) {
			spool_forget(s, i); /* deleted behind our back */
		} else if (ret == -EINVAL || ret == -EIO) {
			spool_quarantine(s, at);
			spool_forget(s, i);
		} else {
			pthread_mutex_unlock(&s->lock);
			return ret;
		}
		pthread_mutex_unlock(&s->lock);
	}
}

int spool__remove(struct pm_spool *s, uint64_t seq)
{
	char name[SPOOL_NAME_LEN];
	ssize_t i;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	i = spool_find(s, seq);
	if (i < 0) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	/* never offered again, whether or not the file goes */
	spool_forget(s, i);
	/* the file may be the only record of the sequence: commit before deleting it */
	if (seq > s->committed)
		ret = spool_commit(s, s->next - 1);
	spool_name(name, seq);
	if (!ret && unlinkat(s->dfd, name, 0) && errno != ENOENT)
		ret = -errno;
	pthread_mutex_unlock(&s->lock);
	if (!ret)
		fsync(s->dfd);
	return ret;
}

int spool__reject(struct pm_spool *s, uint64_t seq, const char *reason)
{
	char name[SPOOL_NAME_LEN], why[sizeof(SPOOL_REJECTED) + SPOOL_NAME_LEN + 8];
	ssize_t i;
	int fd, ret;

	pthread_mutex_lock(&s->lock);
	i = spool_find(s, seq);
	if (i < 0) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	snprintf(why, sizeof(why), SPOOL_REJECTED "/%0*" PRIu64 ".reason", SPOOL_SEQ_DIGITS, seq);
	fd = openat(s->dfd, why, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		/* the reason is for people: the report matters, its note less */
		if (!write_all(fd, reason, strlen(reason)))
			write_all(fd, "\n", 1);
		close(fd);
	}
	ret = spool_move(s, SPOOL_REJECTED, seq);
	if (ret && ret != -ENOENT) {
		spool_name(name, seq);
		unlinkat(s->dfd, name, 0); /* never offered again */
	}
	spool_forget(s, i);
	if (ret != -ENOENT)
		s->st.rejected++;
	pthread_mutex_unlock(&s->lock);
	fsync(s->dfd);
	return ret;
}

void spool__stats(struct pm_spool *s, struct pm_spool_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

void spool__close(struct pm_spool *s)
{
	if (!s)
		return;
	if (s->dfd >= 0)
		close(s->dfd);
	pthread_mutex_destroy(&s->lock);
	free(s->ents);
	free(s->dir);
	free(s);
}
