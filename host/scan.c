/* scan.c - list the module directory and watch it for changes. */
#include <sys/inotify.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

static int
modfile_cmp(const void *a, const void *b)
{
	return strcmp(((const struct modfile *)a)->name,
	    ((const struct modfile *)b)->name);
}

static int
is_module_name(const char *name)
{
	size_t	n = strlen(name);

	return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".so") == 0;
}

/*
 * Lists the regular files named *.so in dir, sorted by name.  Returns 0
 * or -1 with *cause when the directory cannot be read.
 */
int
scan_dir(const char *dir, struct modfile **out, size_t *nout, char **cause)
{
	struct modfile	*files = NULL;
	struct dirent	*de;
	struct stat	 st;
	size_t		 n = 0, cap = 0;
	DIR		*d;
	int		 dfd;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(dir)) == NULL) {
		xasprintf(cause, "module directory %s: %s", dir, strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (!is_module_name(de->d_name))
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) != 0) {
			if (errno != ENOENT)
				log_warn("module %s/%s: stat: %s", dir, de->d_name,
				    strerror(errno));
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			files = xrealloc(files, cap * sizeof *files);
		}
		files[n].name = xstrdup(de->d_name);
		xasprintf(&files[n].path, "%s/%s", dir, de->d_name);
		files[n].st = st;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(files, n, sizeof *files, modfile_cmp);
	*out = files;
	*nout = n;
	return 0;
}

void
scan_free(struct modfile *files, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(files[i].name);
		free(files[i].path);
	}
	free(files);
}

/* Same version of a file: a rename over it or a rewrite changes one of these. */
int
scan_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* An inotify descriptor watching dir, or -1 (the periodic rescan remains). */
int
watch_open(const char *dir, char **cause)
{
	int	fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		xasprintf(cause, "inotify_init1: %s", strerror(errno));
		return -1;
	}
	if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
	    IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ONLYDIR) == -1) {
		xasprintf(cause, "inotify_add_watch %s: %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Reads every pending event.  Returns 1 if a change may concern modules,
 * 0 if not, -1 if the watch is gone (directory removed or moved).
 */
int
watch_drain(int fd)
{
	char	buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t	n;
	int	changed = 0, gone = 0;

	for (;;) {
		char *p;

		n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (p = buf; p < buf + n; ) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				gone = 1;
			else if (ev->mask & IN_Q_OVERFLOW)
				changed = 1;
			else if (ev->len > 0 && is_module_name(ev->name))
				changed = 1;
			p += sizeof *ev + ev->len;
		}
	}
	return gone ? -1 : changed;
}
