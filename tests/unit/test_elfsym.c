// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * elfsym__find against libelf's reading of real files (this test binary's
 * .symtab, the C library's .dynsym), and on files broken the ways a tenant
 * could break them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <podmeter/elfsym.h>

struct file {
	unsigned char *buf;
	size_t size;
};

static struct file slurp(const char *path)
{
	struct file f = { 0 };
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	f.size = st.st_size;
	f.buf = malloc(f.size);
	assert_non_null(f.buf);
	assert_int_equal(pread(fd, f.buf, f.size, 0), (ssize_t)f.size);
	close(fd);
	return f;
}

/* libelf's answer: the offset of @name among the functions of section type @type. */
static uint64_t libelf_offset(const char *path, const char *name, Elf64_Word type)
{
	Elf_Scn *scn = NULL, *in;
	GElf_Shdr sh, ish;
	uint64_t off = 0;
	Elf_Data *data;
	GElf_Sym sym;
	size_t i, n;
	Elf *elf;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (!off && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type)
			continue;
		data = elf_getdata(scn, NULL);
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			const char *s;

			if (!gelf_getsym(data, i, &sym) || !sym.st_value ||
			    (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
			     GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC))
				continue;
			s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!s || strcmp(s, name) || sym.st_shndx == SHN_UNDEF)
				continue;
			in = elf_getscn(elf, sym.st_shndx);
			if (in && gelf_getshdr(in, &ish))
				off = sym.st_value - ish.sh_addr + ish.sh_offset;
			break;
		}
	}
	elf_end(elf);
	close(fd);
	return off;
}

static void check_against_libelf(const char *path, const char *const *names, size_t n,
				 Elf64_Word type)
{
	struct stat st;
	uint64_t offs[8];
	int fd, found;
	size_t k;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	found = elfsym__find(&(struct pm_elf_src){ .fd = fd, .size = st.st_size }, names, n, offs);
	close(fd);
	assert_int_equal(found, (int)n);
	for (k = 0; k < n; k++) {
		uint64_t want = libelf_offset(path, names[k], type);

		assert_true(want > 0);
		assert_int_equal(offs[k], want);
	}
}

static void test_self_symtab(void **state)
{
	static const char *const names[] = { "main", "elfsym__find", "esc__str" };

	(void)state;
	check_against_libelf("/proc/self/exe", names, 3, SHT_SYMTAB);
}

static void test_libc_dynsym(void **state)
{
	/* memcpy is an IFUNC in glibc */
	static const char *const names[] = { "malloc", "free", "memcpy", "pthread_create" };
	char path[4096] = "";
	FILE *m = fopen("/proc/self/maps", "re");
	char line[8192], *p;

	(void)state;
	while (m && fgets(line, sizeof(line), m)) {
		p = strchr(line, '/');
		if (p && strstr(p, "/libc.so.6")) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(path, sizeof(path), "%s", p);
			break;
		}
	}
	if (m)
		fclose(m);
	assert_true(path[0]);
	check_against_libelf(path, names, 4, SHT_DYNSYM);
}

static int find_buf(const unsigned char *buf, size_t size, uint64_t *off)
{
	static const char *const names[] = { "main" };

	return elfsym__find(&(struct pm_elf_src){ .fd = -1, .buf = buf, .size = size }, names, 1,
			    off);
}

/* Every prefix of a real file: an answer or an error, never a read past the end. */
static void test_truncated(void **state)
{
	struct file f = slurp("/proc/self/exe");
	uint64_t off;
	size_t len;
	int ret;

	(void)state;
	for (len = 0; len < f.size; len += f.size / 97 + 1) {
		ret = find_buf(f.buf, len, &off);
		assert_true(ret == -ENOEXEC || ret == 0 || ret == 1);
	}
	assert_int_equal(find_buf(f.buf, f.size, &off), 1);
	free(f.buf);
}

static void test_malformed(void **state)
{
	struct file f = slurp("/proc/self/exe");
	unsigned char *b = malloc(f.size);
	Elf64_Ehdr *e = (Elf64_Ehdr *)b;
	Elf64_Shdr *sh;
	uint64_t off;
	size_t i;

	(void)state;
	assert_int_equal(f.buf[EI_CLASS], ELFCLASS64);
#define RESET() memcpy(b, f.buf, f.size)
	RESET();
	b[EI_DATA] = b[EI_DATA] == ELFDATA2LSB ? ELFDATA2MSB : ELFDATA2LSB;
	assert_int_equal(find_buf(b, f.size, &off), -ENOEXEC);
	RESET();
	b[1] = 'X';
	assert_int_equal(find_buf(b, f.size, &off), -ENOEXEC);
	RESET();
	e->e_shnum = 0xffff;
	assert_int_equal(find_buf(b, f.size, &off), -E2BIG);
	RESET();
	e->e_shentsize = 12;
	assert_int_equal(find_buf(b, f.size, &off), -ENOEXEC);
	RESET();
	e->e_shoff = ~0ULL - 8;
	assert_int_equal(find_buf(b, f.size, &off), -ENOEXEC);
	/* symbol tables pointing anywhere: huge, misaligned, a bad string table link */
	RESET();
	sh = (Elf64_Shdr *)(b + e->e_shoff);
	for (i = 0; i < e->e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB)
			continue;
		RESET();
		sh[i].sh_size = ~0ULL / 2;
		assert_int_equal(find_buf(b, f.size, &off), -E2BIG);
		RESET();
		sh[i].sh_entsize = 7;
		assert_int_equal(find_buf(b, f.size, &off), -ENOEXEC);
		RESET();
		sh[i].sh_link = 60000;
		assert_int_equal(find_buf(b, f.size, &off), -ENOEXEC);
		RESET();
		sh[i].sh_offset = f.size - 8;
		assert_int_equal(find_buf(b, f.size, &off), -ENOEXEC);
		RESET();
		sh[sh[i].sh_link].sh_size = ~0ULL;
		assert_int_equal(find_buf(b, f.size, &off), -E2BIG);
	}
	/* a symbol's section index out of range: not found, no error */
	RESET();
	for (i = 0; i < e->e_shnum; i++) {
		Elf64_Sym *sym;
		size_t k;

		if (sh[i].sh_type != SHT_SYMTAB)
			continue;
		sym = (Elf64_Sym *)(b + sh[i].sh_offset);
		for (k = 0; k < sh[i].sh_size / sizeof(*sym); k++)
			sym[k].st_shndx = 0xfeff;
	}
	assert_int_equal(find_buf(b, f.size, &off), 0);
#undef RESET
	free(b);
	free(f.buf);
}

/* The file shrinks after its size was taken: a read error, not a signal. */
static void test_shrunk_file(void **state)
{
	static const char *const names[] = { "main" };
	struct file f = slurp("/proc/self/exe");
	char path[] = "/tmp/pm-elfsym-XXXXXX";
	uint64_t off;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, f.buf, f.size), (ssize_t)f.size);
	assert_int_equal(ftruncate(fd, f.size / 2), 0);
	assert_int_equal(elfsym__find(&(struct pm_elf_src){ .fd = fd, .size = f.size }, names, 1,
				      &off),
			 -EIO);
	close(fd);
	free(f.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_symtab), cmocka_unit_test(test_libc_dynsym),
		cmocka_unit_test(test_truncated),   cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_shrunk_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
