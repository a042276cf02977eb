/*
 * modcat.c - print the report a benchmark module produces, framed the way
 * the host frames it (the module's members, then the Plugins entry).
 * run.sh uses it to give the floor server byte-for-byte the body the
 * module makes, and to check the fixtures without the daemon.
 *
 *   modcat MODULE.so > body.json
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <scope-plugin.h>
#include "sph-host.h"

#define GEN_STR(g, s) \
	yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

int
main(int argc, char **argv)
{
	const struct sph_module	*m;
	struct sph_host		 host;
	void			*dl, *state = NULL;
	yajl_gen		 g;
	const unsigned char	*buf;
	size_t			 len;

	if (argc != 2) {
		fprintf(stderr, "usage: modcat MODULE.so\n");
		return 2;
	}
	if ((dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "modcat: %s\n", dlerror());
		return 1;
	}
	m = dlsym(dl, SPH_MODULE_SYMBOL_NAME);
	if (m == NULL || m->abi_version >> 16 != SPH_ABI_MAJOR ||
	    m->collect == NULL || m->id == NULL || m->label == NULL) {
		fprintf(stderr, "modcat: %s: not a usable module\n", argv[1]);
		return 1;
	}
	memset(&host, 0, sizeof host);
	host.id = m->id;
	/*
	 * Calling into libscope-plugin makes it a direct dependency, loaded
	 * before the module (whose own DT_NEEDED our rpath would not cover).
	 */
	if (sph_module_id(&host) == NULL)
		return 1;
	host.probe_id = "5f2a9c";
	if (m->init != NULL && m->init(&host, &state) != 0) {
		fprintf(stderr, "modcat: %s: init failed\n", m->id);
		return 1;
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL)
		return 1;
	yajl_gen_map_open(g);
	if (m->collect(state, g) != 0) {
		fprintf(stderr, "modcat: %s: collect failed\n", m->id);
		return 1;
	}
	GEN_STR(g, "Plugins");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	GEN_STR(g, "id");
	GEN_STR(g, m->id);
	GEN_STR(g, "label");
	GEN_STR(g, m->label);
	GEN_STR(g, "description");
	GEN_STR(g, m->description != NULL ? m->description : "");
	GEN_STR(g, "interfaces");
	yajl_gen_array_open(g);
	GEN_STR(g, "reporter");
	if (m->control != NULL)
		GEN_STR(g, "controller");
	yajl_gen_array_close(g);
	GEN_STR(g, "api_version");
	GEN_STR(g, "1");
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	if (yajl_gen_map_close(g) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		fprintf(stderr, "modcat: %s: unbalanced report\n", m->id);
		return 1;
	}
	fwrite(buf, 1, len, stdout);
	if (m->fini != NULL)
		m->fini(state);
	yajl_gen_free(g);
	return 0;
}
