/*
 * notify.c - the systemd notify protocol (sd_notify(3)): one datagram per
 * state change to $NOTIFY_SOCKET.  Small enough not to need libsystemd.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* The one notify socket of this process, -1 when not under systemd. */
static int			notify_fd = -1;
static struct sockaddr_un	notify_addr;
static socklen_t		notify_len;

/*
 * Reads and unsets $NOTIFY_SOCKET (workers must not inherit it).  Returns
 * 0, or -1 when it is set but unusable (logged).
 */
int
notify_init(void)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	size_t		 len;

	if (path == NULL || *path == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof notify_addr.sun_path) {
		log_warn("NOTIFY_SOCKET=%s: not a unix socket path", path);
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	memset(&notify_addr, 0, sizeof notify_addr);
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';	/* abstract namespace */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd == -1) {
		log_warn("NOTIFY_SOCKET: socket: %s", strerror(errno));
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

/* Sends one state message, e.g. "READY=1\nSTATUS=6 modules". */
void
notify_send(const char *msg)
{
	if (notify_fd == -1)
		return;
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_addr, notify_len) == -1)
		log_warn("NOTIFY_SOCKET: send: %s", strerror(errno));
}

void
notify_close(void)
{
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}
