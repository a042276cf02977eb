/* scan.c - list the module directory and watch it for changes. */
#include <sys/inotify.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
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
 * Module file safety (docs/SECURITY.md).  A module runs as whoever its
 * worker runs as, root by default, so as root a module file is only
 * loaded if nobody but root could have written it: the file, the
 * directory it is in and every directory above must be owned by root and
 * not writable by group or others (sshd's StrictModes).  Directories
 * above the module directory may be world-writable if sticky (/tmp):
 * nobody else can rename our entries there.  A symlink is only followed
 * if it resolves inside the module directory, unless --allow-symlinks.
 * Each refusal is logged once per file version, not at every rescan.
 */
static unsigned	 nrefused;	/* files refused by the last scan */

struct refusal {
	char		*path;
	char		*reason;
	dev_t		 dev;
	ino_t		 ino;
	struct timespec	 mtime;
	struct timespec	 ctime;	/* chmod and chown change it */
	int		 seen;
};
static struct refusal	*refusals;
static size_t		 nrefusals;

/* Files refused as unsafe by the last scan_dir. */
unsigned
scan_refused(void)
{
	return nrefused;
}

/* Logs a refusal unless this very version of path was refused for it. */
static void
refuse_once(const char *what, const char *path, const struct stat *st,
    const char *reason)
{
	struct refusal	*r;
	size_t		 i;

	for (i = 0; i < nrefusals; i++) {
		r = &refusals[i];
		if (strcmp(r->path, path) != 0)
			continue;
		r->seen = 1;
		if (strcmp(r->reason, reason) == 0 && r->dev == st->st_dev &&
		    r->ino == st->st_ino &&
		    r->mtime.tv_sec == st->st_mtim.tv_sec &&
		    r->mtime.tv_nsec == st->st_mtim.tv_nsec &&
		    r->ctime.tv_sec == st->st_ctim.tv_sec &&
		    r->ctime.tv_nsec == st->st_ctim.tv_nsec)
			return;
		free(r->reason);
		goto update;
	}
	refusals = xrealloc(refusals, (nrefusals + 1) * sizeof *refusals);
	r = &refusals[nrefusals++];
	r->path = xstrdup(path);
	r->seen = 1;
update:
	r->reason = xstrdup(reason);
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->mtime = st->st_mtim;
	r->ctime = st->st_ctim;
	log_err("%s: refused: %s", what, reason);
}

/* Forgets refusals of files that are gone or fine now. */
static void
refusals_prune(void)
{
	size_t	i = 0;

	while (i < nrefusals) {
		if (refusals[i].seen) {
			refusals[i++].seen = 0;
			continue;
		}
		free(refusals[i].path);
		free(refusals[i].reason);
		refusals[i] = refusals[--nrefusals];
	}
}

/* Why st (of path) is unsafe to trust as root, or NULL. */
static char *
unsafe_mode(const char *path, const struct stat *st, int sticky_ok)
{
	char	*why = NULL;

	if (st->st_uid != 0)
		xasprintf(&why, "%s is owned by uid %ld, not root", path,
		    (long)st->st_uid);
	else if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !(sticky_ok && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX)))
		xasprintf(&why, "%s is writable by %s (mode %04o)", path,
		    (st->st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
	return why;
}

/* Checks the directory real (a realpath) and every directory above it. */
static char *
unsafe_dir(const char *real)
{
	char		*p = xstrdup(real), *slash, *why = NULL;
	struct stat	 st;
	int		 first = 1;

	for (;;) {
		if (stat(p[0] != '\0' ? p : "/", &st) != 0)
			xasprintf(&why, "stat %s: %s", p[0] != '\0' ? p : "/",
			    strerror(errno));
		else
			why = unsafe_mode(p[0] != '\0' ? p : "/", &st, !first);
		if (why != NULL || p[0] == '\0')
			break;
		first = 0;
		if ((slash = strrchr(p, '/')) == NULL)
			break;
		*slash = '\0';
	}
	free(p);
	return why;
}

static int
strict(const struct options *o)
{
	return o->strict_modes && geteuid() == 0;
}

/*
 * Why the module file name in dir (whose realpath is realdir) must not be
 * loaded, or NULL.  st is the stat of what it resolves to.
 */
static char *
unsafe_file(const struct options *o, const char *realdir, int dfd,
    const char *name, const struct stat *st)
{
	char		*path, real[PATH_MAX], *why = NULL, *slash;
	struct stat	 lst;
	size_t		 rlen = strlen(realdir);
	int		 inside;

	xasprintf(&path, "%s/%s", o->module_dir, name);
	if (fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
		xasprintf(&why, "lstat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISLNK(lst.st_mode)) {
		if (strict(o))
			why = unsafe_mode(path, st, 0);
		goto out;
	}
	if (realpath(path, real) == NULL) {
		xasprintf(&why, "realpath %s: %s", path, strerror(errno));
		goto out;
	}
	inside = strncmp(real, realdir, rlen) == 0 &&
	    (real[rlen] == '/' || (rlen == 1 && realdir[0] == '/'));
	if (!inside && !o->allow_symlinks) {
		xasprintf(&why, "%s is a symlink to %s, outside the module "
		    "directory (--allow-symlinks to follow it)", path, real);
		goto out;
	}
	if (!strict(o))
		goto out;
	if ((why = unsafe_mode(real, st, 0)) != NULL)
		goto out;
	/* The target's own directory (and up) must be safe too. */
	if ((slash = strrchr(real, '/')) != NULL) {
		*slash = '\0';
		if (strcmp(real, realdir) != 0)
			why = unsafe_dir(real);
	}
out:
	free(path);
	return why;
}

/* Adds a file to the list; refused (taken) says why it must not be loaded. */
static void
list_add(struct modfile **files, size_t *n, size_t *cap, const char *dir,
    const char *name, const struct stat *st, char *refused)
{
	struct modfile	*f;

	if (*n == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		*files = xrealloc(*files, *cap * sizeof **files);
	}
	f = &(*files)[(*n)++];
	f->name = xstrdup(name);
	xasprintf(&f->path, "%s/%s", dir, name);
	f->st = *st;
	f->refused = refused;
}

/*
 * Lists the regular files named *.so in the module directory, sorted by
 * name.  Those unsafe to load (or all, when the directory is) are listed
 * with the reason in refused, logged once per file version.  Returns 0 or
 * -1 with *cause
 * when the directory cannot be read.
 */
int
scan_dir(const struct options *o, struct modfile **out, size_t *nout,
    char **cause)
{
	struct modfile	*files = NULL;
	struct dirent	*de;
	struct stat	 st;
	size_t		 n = 0, cap = 0;
	char		 realdir[PATH_MAX], *why, *what, *dir_why = NULL;
	const char	*dir = o->module_dir;
	DIR		*d;
	int		 dfd;

	*out = NULL;
	*nout = 0;
	nrefused = 0;
	if (realpath(dir, realdir) == NULL) {
		xasprintf(cause, "module directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		xasprintf(cause, "module directory %s: %s", dir, strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	if (strict(o) && (why = unsafe_dir(realdir)) != NULL) {
		/* Anyone who can write there can plant code we would run. */
		char	*full;

		if (fstat(dfd, &st) != 0)
			memset(&st, 0, sizeof st);
		xasprintf(&what, "module directory %s", dir);
		xasprintf(&full, "%s; loading no module from it (strict modes; "
		    "--no-strict-modes to allow)", why);
		refuse_once(what, realdir, &st, full);
		free(why);
		free(what);
		nrefused = 1;
		/* Its files are still listed, refused for this reason. */
		dir_why = full;
	}
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
		if (dir_why != NULL) {
			list_add(&files, &n, &cap, dir, de->d_name, &st,
			    xstrdup(dir_why));
			continue;
		}
		if ((why = unsafe_file(o, realdir, dfd, de->d_name, &st)) !=
		    NULL) {
			char	*path, *full;

			xasprintf(&path, "%s/%s", dir, de->d_name);
			xasprintf(&what, "module %s", de->d_name);
			xasprintf(&full, "%s%s", why, strict(o) &&
			    strstr(why, "symlink") == NULL ?
			    " (strict modes; --no-strict-modes to allow)" : "");
			refuse_once(what, path, &st, full);
			free(what);
			free(path);
			free(why);
			nrefused++;
			list_add(&files, &n, &cap, dir, de->d_name, &st, full);
			continue;
		}
		list_add(&files, &n, &cap, dir, de->d_name, &st, NULL);
	}
	free(dir_why);
	closedir(d);
	refusals_prune();
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
		free(files[i].refused);
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
