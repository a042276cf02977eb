/*
 * fuzz-elf.c - libFuzzer target for module_check_elf(), which reads a
 * module file (anything dropped into the module directory) before the
 * loader maps it.
 *
 * Invariants: no crash, no read past the file; a file it accepts has a
 * whole ELF header, and every program header and every segment's bytes
 * lie within the file; a refusal always says why.
 */
#include <sys/mman.h>

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ElfW(Ehdr) *eh = (const void *)data;
	ElfW(Phdr)	 ph;
	char		*cause = NULL;
	int		 fd, rc;
	unsigned	 i;

	if ((fd = memfd_create("fuzz-elf", MFD_CLOEXEC)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	rc = module_check_elf(fd, &cause);
	close(fd);
	if (rc != 0) {
		if (cause == NULL || cause[0] == '\0')
			abort();
		free(cause);
		return 0;
	}
	if (cause != NULL || size < sizeof *eh || eh->e_phoff > size ||
	    (uint64_t)eh->e_phnum * sizeof ph > size - eh->e_phoff)
		abort();
	for (i = 0; i < eh->e_phnum; i++) {
		memcpy(&ph, data + eh->e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_filesz > 0 && (ph.p_offset > size ||
		    ph.p_filesz > size - ph.p_offset))
			abort();
	}
	return 0;
}
