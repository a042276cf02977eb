/*
 * sockets.c - the socket directory Scope scans, the lock that keeps a second
 * host off it, and one listening socket per module at <dir>/<id>/<id>.sock.
 *
 * The supervisor owns these sockets across worker restarts.  It never
 * removes the socket directory itself (the probe needs it to exist before
 * it starts: docs/ARCHITECTURE.md, "What Scope's probe expects" 1) and
 * never unlinks a path that is not a socket.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/*
 * Modes (docs/SECURITY.md), set explicitly whatever the umask: the socket
 * directory, when we create it, 0755 (the probe, any user, must traverse
 * it); each <id>/ 0755, or 0750 with --socket-group; each socket 0660,
 * owner root (us), group ours or --socket-group's.  Only the owner and the
 * group can connect(2): that is what write permission on a socket means.
 */
#define SOCKET_DIR_MODE 0755
#define SOCKET_SUBDIR_MODE 0755
#define SOCKET_SUBDIR_GROUP_MODE 0750
#define SOCKET_MODE 0660

/* Gives path our owner and the socket group (if any) and mode. */
static int
sockets_own(const struct options *o, const char *path, mode_t mode,
    char **cause)
{
	if (o->socket_group != NULL &&
	    chown(path, (uid_t)-1, o->socket_gid) != 0) {
		xasprintf(cause, "chown %s to group %s: %s", path, o->socket_group,
		    strerror(errno));
		return -1;
	}
	if (chmod(path, mode) != 0) {
		xasprintf(cause, "chmod %s %04o: %s", path, (unsigned)mode,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* mkdir -p, for the socket directory only; what it creates gets mode. */
static int
mkdir_parents(const char *path, mode_t mode, char **cause)
{
	char	*p = xstrdup(path), *s;
	struct stat st;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, mode) == 0) {
			/* Not the umask's choice: the probe must get in. */
			if (chmod(p, mode) != 0)
				log_warn("chmod %s %04o: %s", p, (unsigned)mode,
				    strerror(errno));
		} else if (errno != EEXIST) {
			xasprintf(cause, "mkdir %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*s = saved;
		if (saved == '\0')
			break;
	}
	free(p);
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		xasprintf(cause, "%s: not a directory", path);
		return -1;
	}
	return 0;
}

/*
 * Creates the socket directory if needed and takes its lock.  Returns 0
 * with *lockfd held for the life of the process, or -1.
 */
int
sockets_prepare(const char *dir, int *lockfd, char **cause)
{
	char	*path, pid[32], other[32];
	ssize_t	 n;
	int	 fd;

	struct stat st;

	if (mkdir_parents(dir, SOCKET_DIR_MODE, cause) != 0)
		return -1;
	/* Whoever else can write here can swap our <id>/ directories. */
	if (stat(dir, &st) == 0 && ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))))
		log_warn("socket directory %s: owned by uid %ld, mode %04o: "
		    "others can replace the plugin sockets in it; make it %04o "
		    "and owned by root", dir, (long)st.st_uid,
		    (unsigned)(st.st_mode & 07777), SOCKET_DIR_MODE);
	xasprintf(&path, "%s/%s", dir, SOCKETS_LOCK_NAME);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		xasprintf(cause, "open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;
		n = pread(fd, other, sizeof other - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		if (saved == EWOULDBLOCK)
			xasprintf(cause, "another scope-plugin-host (pid %s) is "
			    "serving %s", other[0] != '\0' ? other : "?", dir);
		else
			xasprintf(cause, "flock %s: %s", path, strerror(saved));
		close(fd);
		free(path);
		return -1;
	}
	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		log_warn("%s: cannot record pid: %s", path, strerror(errno));
	free(path);
	*lockfd = fd;
	return 0;
}

static int
sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* 1: something listens there; 0: nobody (stale); -1: cannot tell. */
static int
socket_alive(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, r;

	if (sun_fill(&sun, path) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	if (r == 0)
		r = 1;
	else if (errno == ECONNREFUSED || errno == ENOENT)
		r = 0;
	else
		r = -1;
	close(fd);
	return r;
}

/*
 * Removes <dir>/<id>/<id>.sock files nobody listens on: left by a host
 * that was killed.  The probe would otherwise show them as failing forever.
 */
void
sockets_clean_stale(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;

	if ((d = opendir(dir)) == NULL) {
		log_warn("opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char	*sub, *path;

		if (!valid_plugin_id(de->d_name))
			continue;
		xasprintf(&sub, "%s/%s", dir, de->d_name);
		xasprintf(&path, "%s/%s.sock", sub, de->d_name);
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    socket_alive(path) == 0) {
			if (unlink(path) == 0) {
				log_info("removed stale socket %s", path);
				if (rmdir(sub) != 0 && errno != ENOTEMPTY &&
				    errno != EEXIST)
					log_debug("rmdir %s: %s", sub,
					    strerror(errno));
			} else
				log_warn("unlink stale %s: %s", path,
				    strerror(errno));
		}
		free(sub);
		free(path);
	}
	closedir(d);
}

/* Creates and listens on <socket-dir>/<id>/<id>.sock. */
struct plugsock *
plugsock_open(const struct options *o, const char *id, char **cause)
{
	const char		*dir = o->socket_dir;
	struct plugsock		*ps;
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 submode;
	int			 fd;

	ps = xcalloc(1, sizeof *ps);
	snprintf(ps->id, sizeof ps->id, "%s", id);
	ps->fd = -1;
	xasprintf(&ps->dir, "%s/%s", dir, id);
	xasprintf(&ps->path, "%s/%s.sock", ps->dir, id);
	if (sun_fill(&sun, ps->path) != 0) {
		xasprintf(cause, "socket path %s is longer than %zu bytes",
		    ps->path, sizeof sun.sun_path - 1);
		goto fail;
	}
	submode = o->socket_group != NULL ? SOCKET_SUBDIR_GROUP_MODE :
	    SOCKET_SUBDIR_MODE;
	/* Someone may have removed the whole directory since we started. */
	if (access(dir, F_OK) != 0 && errno == ENOENT &&
	    mkdir_parents(dir, SOCKET_DIR_MODE, cause) != 0)
		goto fail;
	if (mkdir(ps->dir, 0700) != 0 && errno != EEXIST) {
		xasprintf(cause, "mkdir %s: %s", ps->dir, strerror(errno));
		goto fail;
	}
	if (lstat(ps->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		xasprintf(cause, "%s exists and is not a directory", ps->dir);
		goto fail;
	}
	/* A directory someone else made could hold their own socket. */
	if (st.st_uid != geteuid()) {
		xasprintf(cause, "%s exists and is owned by uid %ld, not us; not "
		    "using it", ps->dir, (long)st.st_uid);
		goto fail;
	}
	if (sockets_own(o, ps->dir, submode, cause) != 0)
		goto fail;
	if (lstat(ps->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			xasprintf(cause, "%s exists and is not a socket; not "
			    "touching it", ps->path);
			goto fail;
		}
		switch (socket_alive(ps->path)) {
		case 1:
			xasprintf(cause, "%s is in use by another process",
			    ps->path);
			goto fail;
		case 0:
			if (unlink(ps->path) != 0) {
				xasprintf(cause, "unlink stale %s: %s", ps->path,
				    strerror(errno));
				goto fail;
			}
			log_info("removed stale socket %s", ps->path);
			break;
		default:
			xasprintf(cause, "%s exists and cannot be probed",
			    ps->path);
			goto fail;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		goto fail;
	}
	ps->fd = fd;
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		xasprintf(cause, "bind %s: %s", ps->path, strerror(errno));
		goto fail;
	}
	/* Before listen(): until then a connect() is refused anyway. */
	if (sockets_own(o, ps->path, SOCKET_MODE, cause) != 0) {
		unlink(ps->path);
		goto fail;
	}
	/* A deep backlog: a burst of clients must not get EAGAIN from connect(). */
	if (listen(fd, SOMAXCONN) != 0) {
		xasprintf(cause, "listen %s: %s", ps->path, strerror(errno));
		unlink(ps->path);
		goto fail;
	}
	return ps;

fail:
	if (ps->fd != -1)
		close(ps->fd);
	rmdir(ps->dir);
	free(ps->dir);
	free(ps->path);
	free(ps);
	return NULL;
}

/* Unlinks the socket and its directory (if empty) and frees ps. */
void
plugsock_close(struct plugsock *ps)
{
	struct stat	st;

	if (ps == NULL)
		return;
	if (ps->accept_ev != NULL)
		event_free(ps->accept_ev);
	if (ps->retry_ev != NULL)
		event_free(ps->retry_ev);
	if (lstat(ps->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unlink(ps->path) != 0)
		log_warn("unlink %s: %s", ps->path, strerror(errno));
	if (rmdir(ps->dir) != 0 && errno != ENOENT)
		log_warn("rmdir %s: %s", ps->dir, strerror(errno));
	close(ps->fd);
	free(ps->dir);
	free(ps->path);
	free(ps);
}
