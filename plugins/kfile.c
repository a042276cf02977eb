/*
 * kfile.c - kernel files kept open and re-read with pread() at offset 0
 * (see kfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "kfile.h"

void
kfile_init(struct kfile *kf)
{
	kf->fd = -1;
	kf->path[0] = '\0';
}

void
kfile_close(struct kfile *kf)
{
	if (kf->fd >= 0)
		close(kf->fd);
	kfile_init(kf);
}

/* pread() the whole file from offset 0; as sph_root_read()'s loop. */
static ssize_t
read_all(int fd, char *buf, size_t len)
{
	size_t	off = 0;
	ssize_t	n;
	char	c;

	for (;;) {
		if (off == len - 1) {
			/* Full: is there more? */
			if ((n = pread(fd, &c, 1, (off_t)off)) > 0) {
				buf[off] = '\0';
				errno = EFBIG;
				return -1;
			}
		} else
			n = pread(fd, buf + off, len - 1 - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	return (ssize_t)off;
}

ssize_t
kfile_read(struct sph_host *host, struct kfile *kf, const char *param,
    const char *def, const char *rel, char *buf, size_t len)
{
	char	path[sizeof kf->path];
	ssize_t	n;
	int	tries;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (sph_root_path(host, param, def, rel, path, sizeof path) != 0)
		return -1;
	if (kf->fd >= 0 && strcmp(path, kf->path) != 0)
		kfile_close(kf);
	for (tries = 0; tries < 2; tries++) {
		if (kf->fd < 0) {
			if ((kf->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
				return -1;
			memcpy(kf->path, path, sizeof path);
		}
		if ((n = read_all(kf->fd, buf, len)) >= 0 || errno == EFBIG)
			return n;
		/* A stale descriptor: open the file again, once. */
		kfile_close(kf);
	}
	return -1;
}
