/*
 * module.c - load a module in a worker and check its descriptor before
 * any of its callbacks run.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "sph-host.h"
#include "utf8.h"

/* Descriptor flags this host knows (scope-plugin.h). */
#define SPH_MODULE_FLAGS_KNOWN (SPH_MODULE_INSTANCES_ONLY | SPH_MODULE_PER_REQUEST)

/* The part of the descriptor every 1.x module has. */
#define DESC_MIN_SIZE offsetof(struct sph_module, reserved)

/*
 * Checks a descriptor as the host reads it.  Returns 0 or -1 with *cause
 * naming the first problem.
 */
int
module_check_descriptor(const struct sph_module *d, char **cause)
{
	unsigned	major, minor;

	if (d == NULL) {
		xasprintf(cause, "descriptor is NULL");
		return -1;
	}
	major = d->abi_version >> 16;
	minor = d->abi_version & 0xffff;
	if (major != SPH_ABI_MAJOR) {
		xasprintf(cause, "ABI version %u.%u not supported (host speaks "
		    "%d.x); rebuild the module against this host's "
		    "scope-plugin.h", major, minor, SPH_ABI_MAJOR);
		return -1;
	}
	if (d->size < DESC_MIN_SIZE) {
		xasprintf(cause, "descriptor size %u is smaller than %zu: not "
		    "built with SPH_MODULE()", d->size, DESC_MIN_SIZE);
		return -1;
	}
	if (d->id == NULL || !valid_plugin_id(d->id)) {
		xasprintf(cause, "id \"%.80s\" is not a valid Scope plugin id "
		    "(letters and digits, single dashes between them, at most "
		    "%d characters)", d->id != NULL ? d->id : "(null)",
		    PLUGIN_ID_MAX);
		return -1;
	}
	if (d->label == NULL || d->label[0] == '\0') {
		xasprintf(cause, "label is empty (Scope requires one)");
		return -1;
	}
	if (!sph_utf8_valid(d->label) ||
	    (d->description != NULL && !sph_utf8_valid(d->description))) {
		xasprintf(cause, "label or description is not valid UTF-8");
		return -1;
	}
	if (d->collect == NULL) {
		xasprintf(cause, "no collect callback");
		return -1;
	}
	if ((d->flags & ~SPH_MODULE_FLAGS_KNOWN) != 0) {
		xasprintf(cause, "unknown flags 0x%x (newer than this host?)",
		    d->flags & ~SPH_MODULE_FLAGS_KNOWN);
		return -1;
	}
	return 0;
}

/* 1 if [off, off + len) lies within size bytes. */
static int
within(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/*
 * Checks that the file open on fd is a complete shared object for this
 * host before the loader maps it: a file cut short (copied in place, a
 * full disk, a build interrupted) maps without error and then faults
 * with SIGBUS at the first page past its end, a crash in every worker
 * that tries.  Returns 0 or -1 with *cause.
 */
int
module_check_elf(int fd, char **cause)
{
	ElfW(Ehdr)	 eh;
	ElfW(Phdr)	*ph;
	struct stat	 st;
	uint64_t	 size, phsize;
	ssize_t		 n;
	unsigned	 i;

	if (fstat(fd, &st) != 0) {
		xasprintf(cause, "fstat: %s", strerror(errno));
		return -1;
	}
	size = (uint64_t)st.st_size;
	if ((n = pread(fd, &eh, sizeof eh, 0)) == -1) {
		xasprintf(cause, "read: %s", strerror(errno));
		return -1;
	}
	if (n >= SELFMAG && memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		xasprintf(cause, "not an ELF file");
		return -1;
	}
	if ((size_t)n < sizeof eh) {
		xasprintf(cause, "not a complete shared object: %llu bytes, "
		    "shorter than an ELF header", (unsigned long long)size);
		return -1;
	}
	if (eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 :
	    ELFCLASS32)) {
		xasprintf(cause, "ELF class %u: not built for this host's "
		    "%zu-bit word size", eh.e_ident[EI_CLASS],
		    sizeof(void *) * 8);
		return -1;
	}
	if (eh.e_type != ET_DYN) {
		xasprintf(cause, "ELF type %u: not a shared object", eh.e_type);
		return -1;
	}
	if (eh.e_phentsize != sizeof *ph || eh.e_phnum == 0 ||
	    eh.e_phnum == PN_XNUM) {
		xasprintf(cause, "no usable program headers (%u of %u bytes)",
		    eh.e_phnum, eh.e_phentsize);
		return -1;
	}
	phsize = (uint64_t)eh.e_phnum * sizeof *ph;
	if (!within(eh.e_phoff, phsize, size)) {
		xasprintf(cause, "not a complete shared object: its program "
		    "headers end past the end of the file (%llu bytes); "
		    "truncated or still being written?",
		    (unsigned long long)size);
		return -1;
	}
	if (eh.e_shoff != 0 && !within(eh.e_shoff, (uint64_t)eh.e_shnum *
	    eh.e_shentsize, size)) {
		xasprintf(cause, "not a complete shared object: its section "
		    "headers end past the end of the file (%llu bytes); "
		    "truncated or still being written?",
		    (unsigned long long)size);
		return -1;
	}
	ph = xmalloc((size_t)phsize);
	if ((n = pread(fd, ph, (size_t)phsize, (off_t)eh.e_phoff)) !=
	    (ssize_t)phsize) {
		xasprintf(cause, "read: %s", n == -1 ? strerror(errno) :
		    "short read");
		free(ph);
		return -1;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_filesz == 0 ||
		    within(ph[i].p_offset, ph[i].p_filesz, size))
			continue;
		xasprintf(cause, "not a complete shared object: segment %u "
		    "(bytes %llu to %llu) ends past the end of the file (%llu "
		    "bytes); truncated or still being written?", i,
		    (unsigned long long)ph[i].p_offset,
		    (unsigned long long)ph[i].p_offset +
		    (unsigned long long)ph[i].p_filesz,
		    (unsigned long long)size);
		free(ph);
		return -1;
	}
	free(ph);
	return 0;
}

/*
 * dlopens path and checks its descriptor.  RTLD_NOW so a missing symbol is
 * a refusal now, not a crash at the first poll; RTLD_LOCAL so modules
 * cannot see each other's symbols.
 */
int
module_load(const char *path, struct module *m, char **cause)
{
	const struct sph_module	*d;
	const char		*err;
	void			*h;
	int			 fd, rc;

	memset(m, 0, sizeof *m);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "open: %s", strerror(errno));
		return -1;
	}
	rc = module_check_elf(fd, cause);
	close(fd);
	if (rc != 0)
		return -1;
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		xasprintf(cause, "dlopen: %s", err != NULL ? err : "failed");
		return -1;
	}
	dlerror();
	d = dlsym(h, SPH_MODULE_SYMBOL_NAME);
	if ((err = dlerror()) != NULL || d == NULL) {
		xasprintf(cause, "symbol %s not found: not a scope-plugin-host "
		    "module (%s)", SPH_MODULE_SYMBOL_NAME,
		    err != NULL ? err : "NULL");
		dlclose(h);
		return -1;
	}
	if (module_check_descriptor(d, cause) != 0) {
		dlclose(h);
		return -1;
	}
	module_fill(m, d);
	m->path = xstrdup(path);
	m->handle = h;
	return 0;
}

/*
 * Fills m from a checked descriptor d (callbacks, id, label, interval);
 * the test drivers that load a module themselves use it too.
 */
void
module_fill(struct module *m, const struct sph_module *d)
{
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", d->id);
	m->label = d->label;
	m->description = d->description != NULL ? d->description : "";
	m->interval_ms = d->interval_ms;
	m->per_request = (d->flags & SPH_MODULE_PER_REQUEST) != 0;
	m->instances_only = (d->flags & SPH_MODULE_INSTANCES_ONLY) != 0;
	m->init = d->init;
	m->collect = d->collect;
	m->control = d->control;
	m->fini = d->fini;
}

int
module_init(struct module *m, struct sph_host *host, char **cause)
{
	/* The layout this host was built with (lib/sph-host.h). */
	host->size = sizeof *host;
	m->host = host;
	if (m->init == NULL)
		return 0;
	if (m->init(host, &m->state) != 0) {
		xasprintf(cause, "init failed");
		return -1;
	}
	return 0;
}

void
module_unload(struct module *m)
{
	if (m->fini != NULL && m->host != NULL)
		m->fini(m->state);
	m->state = NULL;
	m->host = NULL;
	/* Not dlclose()d: the worker exits right after; unmapping code that
	 * a module's atexit or thread might still run buys nothing. */
	free(m->path);
	m->path = NULL;
}
