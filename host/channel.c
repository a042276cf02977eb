/*
 * channel.c - the supervisor <-> worker channel: a SOCK_SEQPACKET pair,
 * one typed message per packet (host.h lists them and the order they come
 * in).  Both ends check every message against its type: the exact payload
 * size, text NUL-terminated inside its field, flags 0 or 1.  Anything else
 * is refused as EBADMSG, and text too long for its field is refused as
 * EMSGSIZE when the message is made: nothing is ever cut short.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* Payload size of each type; -1: no such type. */
static ssize_t
msg_payload_size(uint32_t type)
{
	switch (type) {
	case MSG_WORKER:
		return sizeof(struct worker_settings);
	case MSG_HELLO:
		return sizeof(struct msg_hello);
	case MSG_IDENTITY:
		return sizeof(struct msg_identity);
	case MSG_PARAM:
		return sizeof(struct msg_param);
	case MSG_MODULE:
		return sizeof(struct module_settings);
	case MSG_CHECK:
		return sizeof(struct msg_check);
	case MSG_REFUSE:
		return sizeof(struct msg_refuse);
	case MSG_CONN:
		return sizeof(struct msg_conn);
	case MSG_READY:
		return 0;
	}
	return -1;
}

/* A text field holds its terminating NUL. */
static int
text_ok(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

#define TEXT_OK(f) text_ok((f), sizeof (f))

/* The fields of a decoded payload are what its type allows. */
static int
msg_fields_ok(const struct msg *m)
{
	switch (m->hdr.type) {
	case MSG_WORKER:
		return m->u.worker.log_level >= 0 && m->u.worker.log_level <= 7 &&
		    m->u.worker.use_syslog <= 1 && m->u.worker.check_mode <= 1;
	case MSG_HELLO:
		return TEXT_OK(m->u.hello.id) && TEXT_OK(m->u.hello.label) &&
		    TEXT_OK(m->u.hello.description) &&
		    m->u.hello.controller <= 1 && m->u.hello.instances_only <= 1;
	case MSG_IDENTITY:
		return TEXT_OK(m->u.identity.id) && TEXT_OK(m->u.identity.label) &&
		    TEXT_OK(m->u.identity.description);
	case MSG_PARAM:
		return TEXT_OK(m->u.param.key) && TEXT_OK(m->u.param.value);
	case MSG_MODULE:
		return m->u.module.enabled <= 1;
	case MSG_CHECK:
		return m->u.check.ok <= 1 && TEXT_OK(m->u.check.id) &&
		    TEXT_OK(m->u.check.detail);
	case MSG_REFUSE:
		return TEXT_OK(m->u.refuse.reason);
	}
	return 1;
}

/*
 * Copies src into the text field dst of size bytes, zero-filling the rest
 * (no stray bytes cross the channel).  Returns -1 (EMSGSIZE) if it does
 * not fit.
 */
int
channel_text(char *dst, size_t size, const char *src)
{
	size_t	len = strlen(src);

	if (len >= size) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(dst, src, len);
	memset(dst + len, 0, size - len);
	return 0;
}

/*
 * Sends one packet of the iovcnt buffers, with pass_fd if >= 0.  Returns
 * 0 or -1 with errno (EMSGSIZE if the packet went out short).
 */
int
channel_sendv(int fd, struct iovec *iov, int iovcnt, int pass_fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct msghdr	 mh;
	size_t		 len = 0;
	ssize_t		 n;
	int		 i;

	memset(&mh, 0, sizeof mh);
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)iovcnt;
	if (pass_fd >= 0) {
		struct cmsghdr	*cm;

		memset(&cmsgbuf, 0, sizeof cmsgbuf);
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = sizeof cmsgbuf.buf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * Sends one message of the given type: payload must be that type's
 * struct, len its size.  pass_fd >= 0 rides along.  Returns 0 or -1 with
 * errno: EMSGSIZE for a payload longer than the type's, EINVAL for an
 * unknown type or a shorter payload.
 */
int
channel_send(int fd, enum msg_type type, const void *payload, size_t len,
    int pass_fd)
{
	struct msg_hdr	 hdr;
	struct iovec	 iov[2];
	ssize_t		 want = msg_payload_size(type);

	if (want < 0 || (size_t)want != len) {
		errno = want >= 0 && len > (size_t)want ? EMSGSIZE : EINVAL;
		return -1;
	}
	memset(&hdr, 0, sizeof hdr);
	hdr.type = type;
	hdr.len = (uint32_t)len;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	return channel_sendv(fd, iov, len > 0 ? 2 : 1, pass_fd);
}

/*
 * Decodes one packet of n bytes into m (m->fd is left alone).  Returns 0,
 * or -1 with errno EBADMSG for an unknown type, a length that is not the
 * type's or a field out of its bounds.
 */
int
channel_decode(const void *buf, size_t n, struct msg *m)
{
	ssize_t	want;

	if (n < sizeof m->hdr)
		goto bad;
	memcpy(&m->hdr, buf, sizeof m->hdr);
	want = msg_payload_size(m->hdr.type);
	if (want < 0 || m->hdr.len != (size_t)want ||
	    n - sizeof m->hdr != (size_t)want)
		goto bad;
	memcpy(&m->u, (const char *)buf + sizeof m->hdr, (size_t)want);
	if (!msg_fields_ok(m))
		goto bad;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

/*
 * Receives one message.  Returns 1, 0 on end of file, -1 on error or a
 * malformed message (errno EBADMSG; a descriptor that came with it is
 * closed).  Only MSG_CONN may carry a descriptor, and it must.
 */
int
channel_recv(int fd, struct msg *m)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	/* One byte more than the largest message: longer ones show. */
	union {
		char		 bytes[MSG_MAX_SIZE + 1];
		uint64_t	 align;
	}		 buf;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;

	memset(&mh, 0, sizeof mh);
	iov.iov_base = buf.bytes;
	iov.iov_len = sizeof buf.bytes;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cmsgbuf.buf;
	mh.msg_controllen = sizeof cmsgbuf.buf;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return (int)n;

	m->fd = -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && m->fd == -1)
			memcpy(&m->fd, CMSG_DATA(cm), sizeof(int));
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    channel_decode(buf.bytes, (size_t)n, m) != 0 ||
	    (m->hdr.type == MSG_CONN) != (m->fd >= 0))
		goto bad;
	return 1;

bad:
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	errno = EBADMSG;
	return -1;
}

/* MSG_REFUSE with reason; -1 (EMSGSIZE) if the reason does not fit. */
int
channel_refuse(int fd, const char *reason)
{
	struct msg_refuse	r;

	if (channel_text(r.reason, sizeof r.reason, reason) != 0)
		return -1;
	return channel_send(fd, MSG_REFUSE, &r, sizeof r, -1);
}

/*
 * channel_send() on a non-blocking descriptor whose peer is reading: when
 * the socket buffer is full (a few dozen parameters), wait for room, but
 * not more than CHANNEL_SEND_WAIT_MS in all (ETIMEDOUT).
 */
#define CHANNEL_SEND_WAIT_MS 1000
static int
send_wait(int fd, enum msg_type type, const void *payload, size_t len,
    uint64_t until)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	uint64_t	now;

	for (;;) {
		if (channel_send(fd, type, payload, len, -1) == 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if ((now = now_ms()) >= until) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, (int)(until - now)) == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * A refusal that is the operator's choice, not an error: logged at info
 * level, never as "refused".
 */
int
channel_refusal_quiet(const char *reason)
{
	return strncmp(reason, WORKER_DISABLED, strlen(WORKER_DISABLED)) == 0 ||
	    strncmp(reason, WORKER_INSTANCES_ONLY,
	    strlen(WORKER_INSTANCES_ONLY)) == 0;
}

/*
 * What a worker serves as (MSG_IDENTITY): the plugin id id (an
 * instance's, or the one its module said hello with), the label and
 * description of id's module block if it sets them, else the module's.
 * Returns 0, or -1 with *cause when a text does not fit.
 */
int
channel_identity(const struct options *o, const char *id,
    const struct msg_hello *h, struct msg_identity *out, char **cause)
{
	const struct module_block	*b = options_block(o, id);
	const char			*label = h->label, *desc = h->description;

	if (b != NULL && b->label != NULL)
		label = b->label;
	if (b != NULL && b->description != NULL)
		desc = b->description;
	memset(out, 0, sizeof *out);
	if (channel_text(out->id, sizeof out->id, id) != 0 ||
	    channel_text(out->label, sizeof out->label, label) != 0 ||
	    channel_text(out->description, sizeof out->description,
	    desc) != 0) {
		xasprintf(cause, "module %s: id, label or description too long "
		    "for the channel", id);
		return -1;
	}
	return 0;
}

struct param_send {
	int		 fd;
	uint64_t	 until;
	char		**cause;
};

static int
param_send(const char *key, size_t klen, const char *value, void *arg)
{
	struct param_send	*ps = arg;
	struct msg_param	 p;

	memset(&p, 0, sizeof p);
	if (klen > PARAM_KEY_MAX) {
		xasprintf(ps->cause, "param %.*s: name longer than %d bytes",
		    (int)klen, key, PARAM_KEY_MAX);
		return -1;
	}
	memcpy(p.key, key, klen);
	if (channel_text(p.value, sizeof p.value, value) != 0) {
		xasprintf(ps->cause, "param %s: value longer than %d bytes",
		    p.key, PARAM_VALUE_MAX);
		return -1;
	}
	return send_wait(ps->fd, MSG_PARAM, &p, sizeof p, ps->until) != 0 ?
	    -2 : 0;
}

/*
 * Sends module id its settings: ident (what to serve as), one MSG_PARAM
 * per parameter that applies to id (its own value, else the value for
 * every module), then ms as MSG_MODULE.  The worker reads them as they
 * come.  Returns 0, or -1 with *cause.
 */
int
channel_send_module(int fd, const struct options *o,
    const struct msg_identity *ident, const struct module_settings *ms,
    char **cause)
{
	struct param_send	 ps;
	int			 r;

	ps.fd = fd;
	ps.until = now_ms() + CHANNEL_SEND_WAIT_MS;
	ps.cause = cause;
	if (send_wait(fd, MSG_IDENTITY, ident, sizeof *ident, ps.until) != 0)
		goto fail;
	if ((r = options_each_param(o, ident->id, param_send, &ps)) == -1)
		return -1;
	if (r != 0)
		goto fail;
	if (send_wait(fd, MSG_MODULE, ms, sizeof *ms, ps.until) != 0)
		goto fail;
	return 0;

fail:
	if (errno == ETIMEDOUT)
		xasprintf(cause, "channel: the worker did not read its settings "
		    "within %d ms", CHANNEL_SEND_WAIT_MS);
	else
		xasprintf(cause, "channel: settings: %s", strerror(errno));
	return -1;
}
