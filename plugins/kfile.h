/*
 * kfile.h - a kernel file kept open between collects and re-read from
 * offset 0 with pread(): /proc and /sys regenerate a file's contents when
 * it is read from the start, so a module that samples the same file every
 * second needs one open() in its life, not one per sample.  Compiled into
 * each bundled module that uses it (kfile.c).
 */
#ifndef PLUGINS_KFILE_H
#define PLUGINS_KFILE_H

#include <sys/types.h>

#include "scope-plugin.h"

struct kfile {
	int	fd;		/* -1: not open */
	char	path[4096];	/* what fd is open on */
};

/* Set up kf closed; call once before the first kfile_read(). */
void	kfile_init(struct kfile *kf);

/*
 * As sph_root_read() (the whole of "<root>/<rel>" into buf,
 * NUL-terminated; the length, or -1 with errno: ENOENT, EFBIG with buf
 * holding the first len - 1 bytes), through the descriptor kept in kf.
 * The file is opened again when the root parameter now names another
 * path (tests switch fixture trees) and, once, when reading the kept
 * descriptor fails (a file that went away and came back).
 */
ssize_t	kfile_read(struct sph_host *host, struct kfile *kf,
	    const char *param, const char *def, const char *rel, char *buf,
	    size_t len);

/* Close kf's descriptor, if open. */
void	kfile_close(struct kfile *kf);

#endif
