/* paths.c - read kernel files through an operator-chosen root (tests). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sph-host.h"

int
sph_root_path(struct sph_host *host, const char *param, const char *def,
    const char *rel, char *buf, size_t len)
{
	const char	*root;
	int		 n;

	if ((root = sph_param(host, param)) == NULL)
		root = def;
	while (*rel == '/')
		rel++;
	n = snprintf(buf, len, "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

ssize_t
sph_root_read(struct sph_host *host, const char *param, const char *def,
    const char *rel, char *buf, size_t len)
{
	char	path[4096];
	size_t	off = 0;
	ssize_t	n;
	int	fd, saved;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (sph_root_path(host, param, def, rel, path, sizeof path) != 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	/* procfs files must be read in one go, loop for regular files. */
	for (;;) {
		if (off == len - 1) {
			/* Full: is there more? */
			char	c;

			n = read(fd, &c, 1);
			if (n > 0) {
				close(fd);
				buf[off] = '\0';
				errno = EFBIG;
				return -1;
			}
			if (n == 0)
				break;
		} else
			n = read(fd, buf + off, len - 1 - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
}
