/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* agent/signal/elfsym.c: function symbols of an ELF file a tenant may have made. */
#ifndef PODMETER_ELFSYM_H
#define PODMETER_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on what one file may make the reader do. */
#define PM_ELF_MAX_SECTIONS 4096
#define PM_ELF_MAX_SYMBOLS  (1u << 20)	/* per symbol table */
#define PM_ELF_MAX_STRTAB   (16u << 20) /* bytes of one string table */
#define PM_ELF_MAX_MS	    2000	/* wall time of one file */

struct pm_elf_src {
	int fd;			  /* read with pread, when buf is NULL */
	const unsigned char *buf; /* or a buffer (tests, fuzzing) */
	uint64_t size;		  /* bytes of the file, as fstat gave them */
};

/*
 * Which of @names (n of them) the file defines as functions (STT_FUNC or
 * STT_GNU_IFUNC, defined, non-zero address), in .dynsym, else .symtab, and
 * the file offset of each (0 where not found): what a uprobe is attached at.
 *
 * The file is read with pread into bounded buffers, never mapped: a tenant
 * truncating it meanwhile gets -EIO, not a SIGBUS. Only ELF files of this
 * machine's byte order are read (a library for another one could not be
 * loaded here anyway).
 *
 * Returns the number of names found (>= 0), or -ENOEXEC (not ELF, or
 * malformed), -E2BIG (over a PM_ELF_MAX_* bound), -ETIMEDOUT (over
 * PM_ELF_MAX_MS), -EIO (short read), -ENOMEM.
 */
int elfsym__find(const struct pm_elf_src *src, const char *const *names, size_t n,
		 uint64_t *offsets);

#endif /* PODMETER_ELFSYM_H */
