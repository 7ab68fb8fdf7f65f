// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Function symbols of an ELF file, read with pread into bounded buffers.
 *
 * The files come from tenants: a pod names whatever it likes libcuda.so.1
 * and maps it. libelf would map the file (a tenant truncating it would
 * raise SIGBUS in the agent) and trusts its counts; here every count,
 * size and offset is checked against the file's size and the PM_ELF_MAX_*
 * bounds before anything is read, and the work is bounded in time.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <podmeter/elfsym.h>

#define SYM_CHUNK 1024 /* symbols read at once */

struct elf_shdr {
	uint32_t type;
	uint32_t link;
	uint64_t addr;
	uint64_t offset;
	uint64_t size;
	uint64_t entsize;
};

struct elf_rd {
	const struct pm_elf_src *src;
	bool is64;
	uint64_t deadline_ns;
	struct elf_shdr *sh;
	size_t nsh;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* @len bytes at @off, all inside the file, or an error. */
static int rd(const struct pm_elf_src *s, uint64_t off, void *dst, size_t len)
{
	unsigned char *p = dst;
	ssize_t got;

	if (off > s->size || len > s->size - off)
		return -ENOEXEC;
	if (s->buf) {
		memcpy(dst, s->buf + off, len);
		return 0;
	}
	while (len) {
		got = pread(s->fd, p, len, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EIO; /* changed under us: truncated, or an I/O error */
		p += got;
		off += got;
		len -= got;
	}
	return 0;
}

static bool native_order(unsigned char data)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return data == ELFDATA2LSB;
#else
	return data == ELFDATA2MSB;
#endif
}

/* Section header table: offset, entry count (extended numbering too). */
static int read_ehdr(struct elf_rd *r, uint64_t *shoff, size_t *shnum)
{
	unsigned char ident[EI_NIDENT];
	Elf64_Ehdr e64;
	Elf32_Ehdr e32;
	size_t entsize;
	int err;

	err = rd(r->src, 0, ident, sizeof(ident));
	if (err)
		return err;
	if (memcmp(ident, ELFMAG, SELFMAG) || !native_order(ident[EI_DATA]) ||
	    (ident[EI_CLASS] != ELFCLASS64 && ident[EI_CLASS] != ELFCLASS32))
		return -ENOEXEC;
	r->is64 = ident[EI_CLASS] == ELFCLASS64;
	if (r->is64) {
		err = rd(r->src, 0, &e64, sizeof(e64));
		*shoff = e64.e_shoff;
		*shnum = e64.e_shnum;
		entsize = e64.e_shentsize;
	} else {
		err = rd(r->src, 0, &e32, sizeof(e32));
		*shoff = e32.e_shoff;
		*shnum = e32.e_shnum;
		entsize = e32.e_shentsize;
	}
	if (err)
		return err;
	if (!*shoff || entsize != (r->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
		return -ENOEXEC;
	return 0;
}

static int read_shdr(struct elf_rd *r, uint64_t off, struct elf_shdr *out)
{
	Elf64_Shdr s64;
	Elf32_Shdr s32;
	int err;

	if (r->is64) {
		err = rd(r->src, off, &s64, sizeof(s64));
		*out = (struct elf_shdr){ s64.sh_type,	 s64.sh_link, s64.sh_addr,
					  s64.sh_offset, s64.sh_size, s64.sh_entsize };
	} else {
		err = rd(r->src, off, &s32, sizeof(s32));
		*out = (struct elf_shdr){ s32.sh_type,	 s32.sh_link, s32.sh_addr,
					  s32.sh_offset, s32.sh_size, s32.sh_entsize };
	}
	return err;
}

static int read_sections(struct elf_rd *r)
{
	size_t shnum, i, entsize;
	struct elf_shdr first;
	uint64_t shoff;
	int err;

	err = read_ehdr(r, &shoff, &shnum);
	if (err)
		return err;
	/* more than SHN_LORESERVE sections: the count is in section 0's size */
	if (!shnum) {
		err = read_shdr(r, shoff, &first);
		if (err)
			return err;
		if (first.size > PM_ELF_MAX_SECTIONS)
			return -E2BIG;
		shnum = first.size;
	}
	if (shnum > PM_ELF_MAX_SECTIONS)
		return -E2BIG;
	entsize = r->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	r->sh = calloc(shnum ? shnum : 1, sizeof(*r->sh));
	if (!r->sh)
		return -ENOMEM;
	for (i = 0; i < shnum; i++) {
		err = read_shdr(r, shoff + i * entsize, &r->sh[i]);
		if (err)
			return err;
	}
	r->nsh = shnum;
	return 0;
}

/* A string table, NUL-terminated one past its end whatever it holds. */
static int read_strtab(struct elf_rd *r, uint32_t idx, char **out, size_t *len)
{
	const struct elf_shdr *s;
	char *buf;
	int err;

	if (idx >= r->nsh || r->sh[idx].type != SHT_STRTAB)
		return -ENOEXEC;
	s = &r->sh[idx];
	if (s->size > PM_ELF_MAX_STRTAB)
		return -E2BIG;
	buf = malloc(s->size + 1);
	if (!buf)
		return -ENOMEM;
	err = rd(r->src, s->offset, buf, s->size);
	if (err) {
		free(buf);
		return err;
	}
	buf[s->size] = '\0';
	*out = buf;
	*len = s->size;
	return 0;
}

/* The file offset of a function at @value in section @shndx; 0 when it lies outside. */
static uint64_t file_offset(const struct elf_rd *r, uint16_t shndx, uint64_t value)
{
	const struct elf_shdr *s;
	uint64_t off;

	if (shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || shndx >= r->nsh)
		return 0;
	s = &r->sh[shndx];
	if (s->type == SHT_NOBITS || value < s->addr || value - s->addr >= s->size)
		return 0;
	off = value - s->addr + s->offset;
	return off < r->src->size ? off : 0;
}

struct elf_want {
	const char *const *names;
	size_t n;
	uint64_t *offsets;
	size_t found;
};

static void match(const struct elf_rd *r, struct elf_want *w, const char *name, uint16_t shndx,
		  uint64_t value)
{
	uint64_t off;
	size_t k;

	for (k = 0; k < w->n; k++) {
		if (w->offsets[k] || name[0] != w->names[k][0] || strcmp(name, w->names[k]))
			continue;
		off = file_offset(r, shndx, value);
		if (off) {
			w->offsets[k] = off;
			w->found++;
		}
		return;
	}
}

/* Symbols @first..@first+@count of table @s into @w. */
static int scan_chunk(struct elf_rd *r, const struct elf_shdr *s, size_t first, size_t count,
		      const char *strs, size_t strlen_, struct elf_want *w, void *buf)
{
	size_t esz = r->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym), i;
	unsigned char type;
	uint32_t name;
	uint16_t shndx;
	uint64_t value;
	int err;

	err = rd(r->src, s->offset + first * esz, buf, count * esz);
	if (err)
		return err;
	for (i = 0; i < count; i++) {
		if (r->is64) {
			const Elf64_Sym *y = (const Elf64_Sym *)buf + i;

			name = y->st_name, type = ELF64_ST_TYPE(y->st_info);
			shndx = y->st_shndx, value = y->st_value;
		} else {
			const Elf32_Sym *y = (const Elf32_Sym *)buf + i;

			name = y->st_name, type = ELF32_ST_TYPE(y->st_info);
			shndx = y->st_shndx, value = y->st_value;
		}
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || !value || name >= strlen_)
			continue;
		match(r, w, strs + name, shndx, value);
	}
	return 0;
}

static int scan_symtab(struct elf_rd *r, const struct elf_shdr *s, struct elf_want *w)
{
	size_t esz = r->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym), nsym, i, k;
	size_t strs_len;
	char *strs;
	void *buf;
	int err;

	if (s->entsize != esz)
		return -ENOEXEC;
	nsym = s->size / esz;
	if (nsym > PM_ELF_MAX_SYMBOLS)
		return -E2BIG;
	err = read_strtab(r, s->link, &strs, &strs_len);
	if (err)
		return err;
	buf = malloc(SYM_CHUNK * esz);
	if (!buf) {
		free(strs);
		return -ENOMEM;
	}
	for (i = 0; i < nsym && w->found < w->n && !err; i += k) {
		k = nsym - i < SYM_CHUNK ? nsym - i : SYM_CHUNK;
		if (now_ns() > r->deadline_ns)
			err = -ETIMEDOUT;
		else
			err = scan_chunk(r, s, i, k, strs, strs_len, w, buf);
	}
	free(buf);
	free(strs);
	return err;
}

int elfsym__find(const struct pm_elf_src *src, const char *const *names, size_t n,
		 uint64_t *offsets)
{
	static const uint32_t order[] = { SHT_DYNSYM, SHT_SYMTAB };
	struct elf_want w = { names, n, offsets, 0 };
	struct elf_rd r = { .src = src };
	size_t t, i;
	int err;

	memset(offsets, 0, n * sizeof(*offsets));
	r.deadline_ns = now_ns() + PM_ELF_MAX_MS * 1000000ULL;
	err = read_sections(&r);
	/* the dynamic symbols first: what the loader itself resolves */
	for (t = 0; !err && t < 2 && w.found < n; t++)
		for (i = 0; !err && i < r.nsh && w.found < n; i++)
			if (r.sh[i].type == order[t])
				err = scan_symtab(&r, &r.sh[i], &w);
	free(r.sh);
	return err ? err : (int)w.found;
}
