/*
 * check.c - --check: run every module once, each in its own worker, and
 * judge its report as Scope's probe would.  Serves nothing.
 */
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

struct seen_id {
	char	 id[PLUGIN_ID_MAX + 1];
	char	*file;
};

/*
 * What to answer a worker's hello: 0 after sending its settings, else
 * the verdict (0 failed, 2 skipped) with *detail.  inst is the instance
 * the worker runs as, or NULL for the file's own module.
 */
static int
check_hello(const struct options *o, const struct modfile *f,
    const char *inst, int chan, const struct msg_hello *h, char **detail)
{
	const struct module_block	*b;
	struct module_settings		 ms;
	struct msg_identity		 ident;
	const char			*id = inst != NULL ? inst : h->id;

	char				*list;

	if (inst == NULL && h->instances_only) {
		channel_refuse(chan, WORKER_INSTANCES_ONLY);
		if ((list = options_instances(o, f->name)) != NULL)
			xasprintf(detail, "%s (%s)", WORKER_INSTANCES_ONLY, list);
		else
			xasprintf(detail, "%s, and none is configured",
			    WORKER_INSTANCES_ONLY);
		free(list);
		return 2;
	}
	if (inst == NULL && (b = options_block(o, id)) != NULL &&
	    b->file != NULL) {
		xasprintf(detail, "id \"%s\" belongs to the instance of %s "
		    "defined at %s; ids must be unique", id, b->file, b->where);
		channel_refuse(chan, *detail);
		return 0;
	}
	options_module(o, id, h->interval_ms, &ms);
	if (!ms.enabled) {
		channel_refuse(chan, WORKER_DISABLED);
		*detail = xstrdup(WORKER_DISABLED);
		return 2;
	}
	if (channel_identity(o, id, h, &ident, detail) != 0 ||
	    channel_send_module(chan, o, &ident, &ms, detail) != 0)
		return 0;
	return -1;
}

/*
 * Waits for the worker's verdict; returns 1 ok, 0 failed, 2 disabled by
 * the configuration, with *detail.
 */
static int
check_one(const struct options *o, const struct modfile *f, const char *inst,
    char *id, size_t idlen, char **detail)
{
	struct msg	 m;
	/* Module output to stderr: stdout is the verdicts'. */
	struct spawn_args a = { .path = f->path, .statsfd = -1, .alarmfd = -1,
	    .cgroup_fd = -1, .io = { STDERR_FILENO, -1, -1 } };
	uint64_t	 limit = now_ms() + o->start_timeout_ms + o->deadline_ms;
	char		*cause = NULL;
	int		 chan, status, verdict = -1, r;
	pid_t		 pid;

	*detail = NULL;
	id[0] = '\0';
	if ((pid = spawn_worker(o, &a, &chan, &cause)) == -1) {
		*detail = cause;
		return 0;
	}
	while (verdict == -1) {
		struct pollfd	pfd = { .fd = chan, .events = POLLIN };
		uint64_t	now = now_ms();

		if (now >= limit) {
			xasprintf(detail, "no verdict within %llu ms (hung in "
			    "load, init or collect)",
			    (unsigned long long)(o->start_timeout_ms + o->deadline_ms));
			kill(pid, SIGKILL);
			verdict = 0;
			break;
		}
		r = poll(&pfd, 1, (int)(limit - now));
		if (r == -1 && errno != EINTR) {
			xasprintf(detail, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			verdict = 0;
			break;
		}
		if (r <= 0)
			continue;
		r = channel_recv(chan, &m);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r != 1)
			break;	/* the worker died: waitpid says how */
		if (m.fd >= 0)
			close(m.fd);
		if (m.hdr.type == MSG_HELLO) {
			snprintf(id, idlen, "%s", inst != NULL ? inst :
			    m.u.hello.id);
			verdict = check_hello(o, f, inst, chan, &m.u.hello,
			    detail);
			if (verdict == 0)
				kill(pid, SIGKILL);
		} else if (m.hdr.type == MSG_REFUSE) {
			xasprintf(detail, "refused: %s", m.u.refuse.reason);
			verdict = 0;
		} else if (m.hdr.type == MSG_CHECK) {
			*detail = xstrdup(m.u.check.detail);
			verdict = m.u.check.ok;
		}
	}
	close(chan);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (verdict == -1) {
		if (WIFSIGNALED(status))
			xasprintf(detail, "worker crashed: killed by signal %d",
			    WTERMSIG(status));
		else
			xasprintf(detail, "worker exited with status %d before "
			    "a verdict", WEXITSTATUS(status));
		verdict = 0;
	}
	return verdict;
}

struct check_run {
	const struct options	*o;
	struct seen_id		*seen;
	size_t			 nseen;
	unsigned		 ok, bad;
};

/*
 * Checks file f as its own module (inst NULL) or as instance inst.  A
 * file the scan refused as unsafe fails unloaded, and so does each of
 * its instances, as the host would refuse them.
 */
static void
check_entry(struct check_run *cr, const struct modfile *f, const char *inst)
{
	char	*detail, id[PLUGIN_ID_MAX + 1];
	size_t	 j;
	int	 pass;

	if (f->refused != NULL) {
		printf("%-4s %s%s%s: %s\n", "FAIL", f->name,
		    inst != NULL ? " " : "", inst != NULL ? inst : "",
		    f->refused);
		cr->bad++;
		return;
	}
	pass = check_one(cr->o, f, inst, id, sizeof id, &detail);
	if (pass == 2) {
		printf("%-4s %s%s%s: %s\n", "skip", f->name,
		    inst != NULL ? " " : "", inst != NULL ? inst : "", detail);
		free(detail);
		return;
	}
	if (pass && id[0] != '\0') {
		for (j = 0; j < cr->nseen; j++)
			if (strcmp(cr->seen[j].id, id) == 0)
				break;
		if (j < cr->nseen) {
			free(detail);
			xasprintf(&detail, "id \"%s\" is already used by %s", id,
			    cr->seen[j].file);
			pass = 0;
		} else {
			snprintf(cr->seen[cr->nseen].id,
			    sizeof cr->seen[cr->nseen].id, "%s", id);
			cr->seen[cr->nseen++].file = f->name;
		}
	}
	printf("%-4s %s%s%s: %s\n", pass ? "ok" : "FAIL", f->name,
	    id[0] != '\0' ? " " : "", id, detail);
	free(detail);
	if (pass)
		cr->ok++;
	else
		cr->bad++;
}

/* Every module file, then each of its instances, as the host would serve them. */
int
check_main(const struct options *o)
{
	struct check_run cr;
	struct modfile	*files;
	size_t		 n, i, j;
	unsigned	 unsafe = 0;
	char		*cause = NULL;

	if (scan_dir(o, &files, &n, &cause) != 0) {
		fprintf(stderr, "%s: %s\n", HOST_NAME, cause);
		free(cause);
		return 2;
	}
	memset(&cr, 0, sizeof cr);
	cr.o = o;
	cr.seen = xcalloc(n + o->nblocks + 1, sizeof *cr.seen);
	for (i = 0; i < n; i++) {
		unsafe += files[i].refused != NULL;
		check_entry(&cr, &files[i], NULL);
		for (j = 0; j < o->nblocks; j++)
			if (o->blocks[j].file != NULL &&
			    strcmp(o->blocks[j].file, files[i].name) == 0)
				check_entry(&cr, &files[i], o->blocks[j].id);
	}
	/* A module directory refused as unsafe with no module in it. */
	if (scan_refused() > unsafe) {
		printf("FAIL module directory %s refused as unsafe to load (see "
		    "the log above)\n", o->module_dir);
		cr.bad++;
	}
	if (n == 0 && scan_refused() == 0)
		printf("no modules (*.so) in %s\n", o->module_dir);
	else
		printf("check: %u module%s ok, %u failing\n", cr.ok,
		    cr.ok == 1 ? "" : "s", cr.bad);
	fflush(stdout);
	free(cr.seen);
	scan_free(files, n);
	return cr.bad > 0 ? 1 : 0;
}
