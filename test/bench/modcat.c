/*
 * modcat.c - print the report a benchmark module produces, framed by the
 * host's own framer (host/frame.c: the module's members, the Plugins
 * entry, the closing brace).  run.sh uses it to give the floor server
 * byte-for-byte the body the daemon serves, and to check the fixtures
 * without the daemon.
 *
 *   modcat MODULE.so > body.json
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "sph-host.h"

int
main(int argc, char **argv)
{
	const struct sph_module	*m;
	struct sph_host		 host;
	struct module		 mod;
	struct reporter		*r;
	struct evbuffer		*out;
	void			*dl, *state = NULL;
	char			*cause = NULL;
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
	if (module_check_descriptor(m, &cause) != 0) {
		fprintf(stderr, "modcat: %s: %s\n", argv[1], cause);
		return 1;
	}
	memset(&host, 0, sizeof host);
	host.size = sizeof host;
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
	module_fill(&mod, m);
	mod.state = state;
	r = reporter_new(&mod, NULL);
	if ((out = evbuffer_new()) == NULL)
		return 1;
	if (reporter_build(r, out, &cause) != 0) {
		fprintf(stderr, "modcat: %s: %s\n", m->id, cause);
		return 1;
	}
	len = evbuffer_get_length(out);
	if (fwrite(evbuffer_pullup(out, -1), 1, len, stdout) != len ||
	    fflush(stdout) != 0) {
		perror("modcat: stdout");
		return 1;
	}
	evbuffer_free(out);
	reporter_free(r);
	if (m->fini != NULL)
		m->fini(state);
	return 0;
}
