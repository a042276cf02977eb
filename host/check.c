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
 * Waits for the worker's verdict; returns 1 ok, 0 failed, 2 disabled by
 * the configuration, with *detail.
 */
static int
check_one(const struct options *o, const struct modfile *f, char *id,
    size_t idlen, char **detail)
{
	struct msg	 m;
	struct module_settings ms;
	uint64_t	 limit = now_ms() + o->start_timeout_ms + o->deadline_ms;
	char		*cause = NULL;
	int		 chan, status, verdict = -1, r;
	pid_t		 pid;

	*detail = NULL;
	id[0] = '\0';
	if ((pid = spawn_worker(o, f->path, -1, &chan, &cause)) == -1) {
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
			snprintf(id, idlen, "%s", m.u.hello.id);
			options_module(o, id, m.u.hello.interval_ms, &ms);
			if (!ms.enabled) {
				channel_refuse(chan, WORKER_DISABLED);
				*detail = xstrdup(WORKER_DISABLED);
				verdict = 2;
			} else if (channel_send_module(chan, o, id, &ms,
			    &cause) != 0) {
				*detail = cause;
				kill(pid, SIGKILL);
				verdict = 0;
			}
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

int
check_main(const struct options *o)
{
	struct modfile	*files;
	struct seen_id	*seen;
	size_t		 n, i, j, nseen = 0;
	unsigned	 ok = 0, bad = 0, unsafe = 0;
	char		*cause = NULL, *detail, id[PLUGIN_ID_MAX + 1];

	if (scan_dir(o, &files, &n, &cause) != 0) {
		fprintf(stderr, "%s: %s\n", HOST_NAME, cause);
		free(cause);
		return 2;
	}
	seen = xcalloc(n + 1, sizeof *seen);
	for (i = 0; i < n; i++) {
		int pass;

		if (files[i].refused != NULL) {
			printf("%-4s %s: %s\n", "FAIL", files[i].name,
			    files[i].refused);
			bad++;
			unsafe++;
			continue;
		}
		pass = check_one(o, &files[i], id, sizeof id, &detail);

		if (pass == 2) {
			printf("%-4s %s: %s\n", "skip", files[i].name, detail);
			free(detail);
			continue;
		}
		if (pass && id[0] != '\0') {
			for (j = 0; j < nseen; j++)
				if (strcmp(seen[j].id, id) == 0)
					break;
			if (j < nseen) {
				free(detail);
				xasprintf(&detail, "id \"%s\" is already used by %s",
				    id, seen[j].file);
				pass = 0;
			} else {
				snprintf(seen[nseen].id, sizeof seen[nseen].id,
				    "%s", id);
				seen[nseen++].file = files[i].name;
			}
		}
		printf("%-4s %s%s%s: %s\n", pass ? "ok" : "FAIL", files[i].name,
		    id[0] != '\0' ? " " : "", id, detail);
		free(detail);
		if (pass)
			ok++;
		else
			bad++;
	}
	/* A module directory refused as unsafe with no module in it. */
	if (scan_refused() > unsafe) {
		printf("FAIL module directory %s refused as unsafe to load (see "
		    "the log above)\n", o->module_dir);
		bad++;
	}
	if (n == 0 && scan_refused() == 0)
		printf("no modules (*.so) in %s\n", o->module_dir);
	else
		printf("check: %u module%s ok, %u failing\n", ok, ok == 1 ? "" : "s",
		    bad);
	fflush(stdout);
	free(seen);
	scan_free(files, n);
	return bad > 0 ? 1 : 0;
}
