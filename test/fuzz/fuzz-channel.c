/*
 * fuzz-channel.c - libFuzzer target for channel_decode(), which reads
 * what a worker (running module code) sends the supervisor.
 *
 * Invariants: no crash, no read past size; on success the length in the
 * header is what came, the payload is copied as it came, and every text
 * field ends inside its array; on failure errno is EBADMSG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* channel.c's senders need these; the decoder does not. */
const struct module_block *
options_block(const struct options *o, const char *id)
{
	(void)o;
	(void)id;
	return NULL;
}

int
options_each_param(const struct options *o, const char *id,
    int (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	(void)o;
	(void)id;
	(void)fn;
	(void)arg;
	return 0;
}

#define ENDS(f) (memchr((f), '\0', sizeof (f)) != NULL)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg	m;

	if (channel_decode(data, size, &m) != 0) {
		if (errno != EBADMSG)
			abort();
		return 0;
	}
	if (m.hdr.len + sizeof m.hdr != size ||
	    memcmp(&m.u, data + sizeof m.hdr, m.hdr.len) != 0)
		abort();
	switch (m.hdr.type) {
	case MSG_HELLO:
		if (!ENDS(m.u.hello.id) || !ENDS(m.u.hello.label) ||
		    !ENDS(m.u.hello.description) || m.u.hello.controller > 1 ||
		    m.u.hello.instances_only > 1)
			abort();
		break;
	case MSG_IDENTITY:
		if (!ENDS(m.u.identity.id) || !ENDS(m.u.identity.label) ||
		    !ENDS(m.u.identity.description))
			abort();
		break;
	case MSG_PARAM:
		if (!ENDS(m.u.param.key) || !ENDS(m.u.param.value))
			abort();
		break;
	case MSG_CHECK:
		if (!ENDS(m.u.check.id) || !ENDS(m.u.check.detail))
			abort();
		break;
	case MSG_REFUSE:
		if (!ENDS(m.u.refuse.reason))
			abort();
		break;
	case MSG_WORKER:
		if (m.u.worker.log_level < 0 || m.u.worker.log_level > 7)
			abort();
		break;
	}
	return 0;
}
