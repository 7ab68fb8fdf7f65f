/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses share: the input as a C string, or as a file
 * for parsers that take a path (a memfd, named /proc/self/fd/N).
 */
#ifndef PODMETER_FUZZ_H
#define PODMETER_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input, NUL-terminated (it may hold NULs of its own: C parsers stop there). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A check the harness makes beyond the sanitizers': a crash libFuzzer records. */
#define fuzz_assert(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: %s does not hold\n", __FILE__, __LINE__,     \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct fuzz_file {
	int fd;
	char path[32];
};

/* The input as a file at @f->path, rewritten for each run. */
static inline void fuzz_file_put(struct fuzz_file *f, const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;

	if (!f->path[0]) {
		f->fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (f->fd < 0)
			abort();
		snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
	}
	if (ftruncate(f->fd, 0))
		abort();
	while (off < size) {
		n = pwrite(f->fd, data + off, size - off, (off_t)off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
}

#endif /* PODMETER_FUZZ_H */
