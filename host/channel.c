/*
 * channel.c - the supervisor <-> worker channel: a SOCK_SEQPACKET pair,
 * one message per packet: a type byte, then NUL-terminated fields.  A
 * descriptor may ride along (SCM_RIGHTS).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* channel_send(fd, type, pass_fd, nfields, "a", "b", ...) */
int
channel_send(int fd, enum msg_type type, int pass_fd, int nfields, ...)
{
	char		 buf[MSG_MAX_SIZE];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	size_t		 len = 1;
	va_list		 ap;
	ssize_t		 n;
	int		 i;

	buf[0] = (char)type;
	va_start(ap, nfields);
	for (i = 0; i < nfields; i++) {
		const char	*f = va_arg(ap, const char *);
		size_t		 flen = strlen(f);

		if (len + flen + 1 > sizeof buf) {
			/* Truncate long fields rather than lose the message. */
			flen = sizeof buf - len - 1;
		}
		memcpy(buf + len, f, flen);
		len += flen;
		buf[len++] = '\0';
		if (len >= sizeof buf)
			break;
	}
	va_end(ap);

	memset(&mh, 0, sizeof mh);
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
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
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Receives one message.  Returns 1, 0 on end of file, -1 on error or a
 * malformed message (errno EBADMSG).
 */
int
channel_recv(int fd, struct msg *m)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;
	size_t		 pos;

	memset(&mh, 0, sizeof mh);
	iov.iov_base = m->buf;
	iov.iov_len = sizeof m->buf;
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
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&m->fd, CMSG_DATA(cm), sizeof(int));
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (n > 1 && m->buf[n - 1] != '\0'))
		goto bad;
	m->type = (enum msg_type)(unsigned char)m->buf[0];
	m->nfields = 0;
	pos = 1;
	while (pos < (size_t)n && m->nfields < MSG_MAX_FIELDS) {
		m->fields[m->nfields++] = m->buf + pos;
		pos += strlen(m->buf + pos) + 1;
	}
	for (int i = m->nfields; i < MSG_MAX_FIELDS; i++)
		m->fields[i] = "";
	return 1;

bad:
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	errno = EBADMSG;
	return -1;
}
