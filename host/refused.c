/*
 * refused.c - a refused module (not one the operator disabled) keeps a
 * socket named after its file, on which the supervisor's fallback answers
 * every poll at once with 503 and the refusal: Scope lists it, in red,
 * with the reason, instead of showing nothing.
 *
 * Such a socket is second to any module serving or starting with that id:
 * it never takes one (refused_sock_open), gives it up when a module wants
 * it (refused_sock_yield, from HELLO) and gets it when it frees
 * (refused_socks_retry, at every rescan).
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* Opens (or keeps) m's refusal socket; releases any other socket of m. */
void
refused_sock_open(struct supervisor *sv, struct modent *m)
{
	char	id[PLUGIN_ID_MAX + 1], *cause = NULL;

	if (m->state != M_REFUSED || sv->shutting_down || m->reason == NULL ||
	    strcmp(m->reason, WORKER_DISABLED) == 0 ||
	    plugin_id_from_file(m->name, id) != 0) {
		mod_release_socket(m);
		return;
	}
	if (m->sock == NULL || strcmp(m->sock->id, id) != 0) {
		mod_release_socket(m);
		if (mod_find_sock(sv, id, m) != NULL)
			return;
		if ((m->sock = plugsock_open(sv->o, id, &cause)) == NULL) {
			if (!m->refused_sock_warned)
				log_warn("module %s: no socket to show its "
				    "refusal on: %s", m->name, cause);
			m->refused_sock_warned = 1;
			free(cause);
			return;
		}
		log_debug("module %s: refusal shown on %s", m->name,
		    m->sock->path);
	}
	m->refused_sock = 1;
	fallback_on(sv, m);
}

/* m is about to serve id: a refusal shown on that socket moves out. */
void
refused_sock_yield(struct supervisor *sv, const char *id,
    const struct modent *m)
{
	struct modent	*r = mod_find_sock(sv, id, m);

	if (r != NULL && r->refused_sock) {
		log_debug("module %s: socket %s goes to %s", r->name, id,
		    m->name);
		mod_release_socket(r);
	}
}

/* Refused modules whose socket was taken or could not be made try again. */
void
refused_socks_retry(struct supervisor *sv)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m->state == M_REFUSED && m->sock == NULL)
			refused_sock_open(sv, m);
}
