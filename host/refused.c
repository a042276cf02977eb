/*
 * refused.c - a refused module (not one the operator disabled, nor a
 * module that only serves instances) keeps a socket named after its file,
 * or after its id if it is an instance (the configuration gave that), on
 * which the supervisor's fallback answers every poll at once with 503 and
 * the refusal: Scope lists it, in red, with the reason, instead of
 * showing nothing.
 *
 * Such a socket is second to any module serving or starting with that id:
 * it never takes one (refused_sock_open), gives it up when a module wants
 * it (refused_sock_yield, from HELLO) and gets it when it frees
 * (refused_socks_retry, at every rescan).  While a refused module is tried
 * again (a new file, SIGHUP) under an id other than its file's, the
 * refusal's socket stays until the module serves or is refused again
 * (refused_sock_keep), so Scope does not see it vanish and come back.
 * A file's name never shows a refusal on an id the configuration gives
 * to an instance; an instance dropped by a reload takes its refusal's
 * socket along (reconcile.c frees the entry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* HELLO with another id: m's refusal socket waits aside (see above). */
void
refused_sock_keep(struct modent *m)
{
	refused_sock_drop(m);
	m->refusal_kept = m->sock;
	m->sock = NULL;
	m->refused_sock = 0;
}

/* The module serves (or is gone): the refusal kept aside goes. */
void
refused_sock_drop(struct modent *m)
{
	if (m->refusal_kept == NULL)
		return;
	plugsock_close(m->refusal_kept);
	m->refusal_kept = NULL;
}

/*
 * The id m's refusal is shown on: an instance's own, else the one its
 * file name gives unless an instance is configured with it.  Returns 0,
 * or -1 if there is none.
 */
static int
refusal_id(const struct supervisor *sv, const struct modent *m,
    char id[PLUGIN_ID_MAX + 1])
{
	const struct module_block	*b;

	if (m->inst != NULL) {
		snprintf(id, PLUGIN_ID_MAX + 1, "%s", m->inst);
		return 0;
	}
	if (plugin_id_from_file(m->name, id) != 0)
		return -1;
	if ((b = options_block(sv->o, id)) != NULL && b->file != NULL)
		return -1;
	return 0;
}

/* Opens (or keeps) m's refusal socket; releases any other socket of m. */
void
refused_sock_open(struct supervisor *sv, struct modent *m)
{
	char	id[PLUGIN_ID_MAX + 1], *cause = NULL;

	if (m->state != M_REFUSED || sv->shutting_down || m->reason == NULL ||
	    channel_refusal_quiet(m->reason) || refusal_id(sv, m, id) != 0) {
		mod_release_socket(m);
		return;
	}
	/* Refused again: back to the socket kept aside, if it is this one. */
	if (m->refusal_kept != NULL && strcmp(m->refusal_kept->id, id) == 0) {
		if (m->sock != NULL)
			plugsock_close(m->sock);
		m->sock = m->refusal_kept;
		m->refusal_kept = NULL;
	}
	refused_sock_drop(m);
	if (m->sock == NULL || strcmp(m->sock->id, id) != 0) {
		mod_release_socket(m);
		if (mod_find_sock(sv, id, m) != NULL)
			return;
		if ((m->sock = plugsock_open(sv->o, id, &cause)) == NULL) {
			if (!m->refused_sock_warned)
				log_warn("module %s: no socket to show its "
				    "refusal on: %s", m->inst != NULL ? m->inst :
				    m->name, cause);
			m->refused_sock_warned = 1;
			free(cause);
			return;
		}
		log_debug("module %s: refusal shown on %s", m->inst != NULL ?
		    m->inst : m->name, m->sock->path);
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

	if (r == NULL)
		return;
	if (r->refusal_kept != NULL && strcmp(r->refusal_kept->id, id) == 0) {
		log_debug("module %s: socket %s goes to %s", r->name, id,
		    m->name);
		refused_sock_drop(r);
	} else if (r->refused_sock) {
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
