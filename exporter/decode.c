// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter decode FILE: a report as one line of JSON. FILE is a spool file
 * (.pmr), a gzip-compressed NodeReport as sent on the wire, or the packed
 * protobuf itself; the first bytes tell which.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/report.h>
#include <podmeter/spool.h>

#define DECODE_ERR_MAX (PATH_MAX + 256)

static void decode_usage(FILE *f)
{
	fprintf(f, "usage: podmeter decode FILE\n\n"
		   "Print a report as one line of JSON. FILE is a spooled report (.pmr),\n"
		   "a gzip-compressed NodeReport as POSTed to the receiver, or a packed\n"
		   "NodeReport (exporter/podmeter.proto).\n");
}

/* The whole file, refusing more than @max bytes. 0 or a negative errno. */
static int decode_slurp(const char *path, size_t max, void **out, size_t *outlen)
{
	size_t cap = 64 << 10, len = 0, n;
	char *buf = NULL, *grown;
	FILE *f;
	int ret = 0;

	f = fopen(path, "rb");
	if (!f)
		return -errno;
	for (;;) {
		if (len == cap || !buf) {
			cap = buf ? cap * 2 : cap;
			grown = realloc(buf, cap);
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > max) {
			ret = -EFBIG;
			break;
		}
		if (n == 0) {
			if (ferror(f))
				ret = -EIO;
			break;
		}
	}
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static const char *decode_gz_error(int err)
{
	switch (err) {
	case -EINVAL:
		return "gzip data is corrupt or truncated";
	case -EFBIG:
		return "inflates to more than 64 MiB: not a podmeter report";
	default:
		return strerror(-err);
	}
}

/*
 * The packed NodeReport in @path (malloc'ed). 0, or -1 with @err set to
 * "@path: reason" (the spool's messages name the file already).
 */
static int decode_load(const char *path, void **pb, size_t *pblen, char *err, size_t errlen)
{
	void *raw, *payload;
	size_t len;
	int ret;

	ret = decode_slurp(path, PM_REPORT_MAX_BYTES + PM_SPOOL_HEADER, &raw, &len);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EFBIG ? "larger than 64 MiB: not a podmeter report"
				       : strerror(-ret));
		return -1;
	}
	if (len >= 4 && !memcmp(raw, PM_SPOOL_MAGIC, 4)) {
		/* the spool verifies length and CRC; it reads the file once more */
		free(raw);
		ret = spool__read_file(path, &raw, &len, err, errlen);
		if (ret) {
			if (!*err)
				snprintf(err, errlen, "%s: %s", path, strerror(-ret));
			return -1;
		}
		if (len < 2 || memcmp(raw, "\x1f\x8b", 2)) {
			free(raw);
			snprintf(err, errlen, "%s: spool file verifies but its payload is not gzip",
				 path);
			return -1;
		}
	}
	if (len >= 2 && !memcmp(raw, "\x1f\x8b", 2)) {
		ret = gz__decompress(raw, len, PM_REPORT_MAX_BYTES, &payload, pblen);
		free(raw);
		if (ret) {
			snprintf(err, errlen, "%s: %s", path, decode_gz_error(ret));
			return -1;
		}
		*pb = payload;
		return 0;
	}
	*pb = raw;
	*pblen = len;
	return 0;
}

int decode__main(int argc, char **argv)
{
	char err[DECODE_ERR_MAX] = "";
	const char *path = NULL;
	bool files = false;
	size_t len;
	char *json;
	void *pb;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!files && !strcmp(a, "--")) {
			files = true;
			continue;
		}
		if (!files && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			decode_usage(stdout);
			return 0;
		}
		if (!files && a[0] == '-' && a[1]) {
			fprintf(stderr, "decode: unknown flag %s; see podmeter decode --help\n", a);
			return 1;
		}
		if (path) {
			fprintf(stderr, "decode: one FILE at a time; see podmeter decode --help\n");
			return 1;
		}
		path = a;
	}
	if (!path) {
		decode_usage(stderr);
		return 1;
	}
	if (decode_load(path, &pb, &len, err, sizeof(err))) {
		fprintf(stderr, "decode: %s\n", err);
		return 1;
	}
	json = pbjson__report(pb, len, err, sizeof(err));
	free(pb);
	if (!json) {
		fprintf(stderr, "decode: %s: %s\n", path, err);
		return 1;
	}
	printf("%s\n", json);
	free(json);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "decode: writing to stdout: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
