/*
 * output.c - what a worker writes: its module's stdout and stderr, and
 * the worker's own log lines, each through a pipe of its own that the
 * supervisor reads, non-blocking, in its event loop.  Each line is
 * logged with the module's id; nothing reaches the host's own stdout.
 *
 * A module that prints in a loop must not fill the disk or drown the
 * other modules' lines: each module has a budget of lines and bytes a
 * second with a burst (a token bucket, kept across its restarts), one
 * for stdout and stderr together and one for log lines.  What is over it
 * is dropped and counted; the count is logged every OUTPUT_REPORT_MS at
 * most while dropping goes on, and when the worker's pipes close.  A
 * line longer than OUTPUT_LINE_MAX is cut, with a marker.  Control
 * characters are escaped: a line cannot forge another.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "host.h"

#define OUTPUT_LINE_MAX		2048	/* bytes kept of one line */
#define OUTPUT_RATE_LINES	100	/* a second, then a burst of: */
#define OUTPUT_BURST_LINES	1000
#define OUTPUT_RATE_BYTES	(64 * 1024)
#define OUTPUT_BURST_BYTES	(256 * 1024)
#define OUTPUT_REPORT_MS	10000	/* drop counts at most this often */
#define OUTPUT_READ_MAX		(256 * 1024) /* per wakeup: others get a turn */

static const char *const stream_names[OUT_NSTREAMS] = {
	[OUT_STDOUT] = "stdout",
	[OUT_STDERR] = "stderr",
	[OUT_LOG] = "log",
};

struct outpipe {
	struct output	*out;
	enum out_stream	 kind;
	int		 fd;		/* -1: closed */
	struct event	*ev;
	char		 line[OUTPUT_LINE_MAX];
	size_t		 len;
	size_t		 cut;		/* bytes dropped from this line */
};

struct output {
	struct modent	*m;
	struct outpipe	 p[OUT_NSTREAMS];
	struct event	*report_ev;	/* drop counts pending */
};

/* The budget a stream draws on: stdout and stderr share one. */
static struct outbudget *
budget_of(struct output *o, enum out_stream kind)
{
	return &o->m->budget[kind == OUT_LOG ? 1 : 0];
}

static void
budget_report(struct output *o, struct outbudget *b, int final)
{
	const char	*what = b == &o->m->budget[1] ? "log lines" :
			    "lines of output";

	if (b->dropped_lines == 0)
		return;
	log_warn("module %s: %llu %s dropped (%llu bytes) over the budget "
	    "of %u lines and %u KiB a second%s", mod_name(o->m),
	    (unsigned long long)b->dropped_lines, what,
	    (unsigned long long)b->dropped_bytes, OUTPUT_RATE_LINES,
	    OUTPUT_RATE_BYTES / 1024, final ? " (worker exited)" : "");
	b->dropped_lines = b->dropped_bytes = 0;
	b->reported_ms = now_ms();
}

static void
report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct output	*o = arg;

	(void)fd;
	(void)what;
	budget_report(o, &o->m->budget[0], 0);
	budget_report(o, &o->m->budget[1], 0);
}

/* Takes one line of len bytes from the budget; 0 if it is over. */
static int
budget_take(struct output *o, struct outbudget *b, size_t len)
{
	uint64_t	now = now_ns();
	double		dt;

	if (b->at_ns == 0) {
		b->lines = OUTPUT_BURST_LINES;
		b->bytes = OUTPUT_BURST_BYTES;
	} else {
		dt = (double)(now - b->at_ns) / 1e9;
		b->lines += dt * OUTPUT_RATE_LINES;
		b->bytes += dt * OUTPUT_RATE_BYTES;
		if (b->lines > OUTPUT_BURST_LINES)
			b->lines = OUTPUT_BURST_LINES;
		if (b->bytes > OUTPUT_BURST_BYTES)
			b->bytes = OUTPUT_BURST_BYTES;
	}
	b->at_ns = now;
	if (b->lines >= 1 && b->bytes >= (double)len) {
		b->lines -= 1;
		b->bytes -= (double)len;
		return 1;
	}
	if (b->dropped_lines++ == 0) {
		struct timeval	tv = { OUTPUT_REPORT_MS / 1000, 0 };

		if (now_ms() - b->reported_ms >= OUTPUT_REPORT_MS)
			tv.tv_sec = 0;
		if (!evtimer_pending(o->report_ev, NULL))
			evtimer_add(o->report_ev, &tv);
	}
	b->dropped_bytes += len;
	return 0;
}

/* One complete line (without its newline) of stream p. */
static void
line_out(struct outpipe *p)
{
	struct output	*o = p->out;
	char		 text[OUTPUT_LINE_MAX * 4 + 64];
	const char	*s = p->line;
	size_t		 n = p->len, i, t = 0;
	int		 level;

	if (!budget_take(o, budget_of(o, p->kind), p->len + p->cut)) {
		p->len = p->cut = 0;
		return;
	}
	level = p->kind == OUT_STDERR ? LOG_WARNING : LOG_INFO;
	/* The worker's lines are "<level>text" (log.c). */
	if (p->kind == OUT_LOG && n >= 3 && s[0] == '<' && s[1] >= '0' &&
	    s[1] <= '7' && s[2] == '>') {
		level = s[1] - '0';
		s += 3;
		n -= 3;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			t += (size_t)snprintf(text + t, sizeof text - t,
			    "\\x%02x", c);
		else
			text[t++] = (char)c;
	}
	text[t] = '\0';
	if (p->cut > 0)
		snprintf(text + t, sizeof text - t, " [line cut: %zu more "
		    "bytes]", p->cut);
	if (p->kind == OUT_LOG)
		log_pid_msg(level, o->m->pid, "module %s: %s", mod_name(o->m),
		    text);
	else
		log_pid_msg(level, o->m->pid, "module %s: %s: %s",
		    mod_name(o->m), stream_names[p->kind], text);
	p->len = p->cut = 0;
}

static void
pipe_close(struct outpipe *p)
{
	if (p->fd == -1)
		return;
	if (p->len > 0 || p->cut > 0)
		line_out(p);
	event_free(p->ev);
	p->ev = NULL;
	close(p->fd);
	p->fd = -1;
}

/* Reads what is there, at most max bytes; -1 at EOF or an error. */
static int
pipe_read(struct outpipe *p, size_t max)
{
	char		 buf[16384], *s, *nl;
	size_t		 total = 0, take;
	ssize_t		 n;

	while (total < max) {
		n = read(p->fd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		total += (size_t)n;
		for (s = buf; s < buf + n; s = nl + 1) {
			nl = memchr(s, '\n', (size_t)(buf + n - s));
			take = (size_t)((nl != NULL ? nl : buf + n) - s);
			if (p->len + take > sizeof p->line) {
				p->cut += p->len + take - sizeof p->line;
				take = sizeof p->line - p->len;
			}
			memcpy(p->line + p->len, s, take);
			p->len += take;
			if (nl == NULL)
				break;
			line_out(p);
		}
	}
	return 0;
}

static void
pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outpipe	*p = arg;

	(void)fd;
	(void)what;
	if (pipe_read(p, OUTPUT_READ_MAX) == -1)
		pipe_close(p);
}

/*
 * Pipes for a new worker: rd[] for us (non-blocking), wr[] for the
 * worker's stdout, stderr and log.  0, or -1 with *cause.
 */
int
output_pipes(int *rd, int *wr, char **cause)
{
	int	i, fds[2];

	for (i = 0; i < OUT_NSTREAMS; i++)
		rd[i] = wr[i] = -1;
	for (i = 0; i < OUT_NSTREAMS; i++) {
		if (pipe2(fds, O_CLOEXEC) != 0 || set_nonblock(fds[0]) != 0) {
			xasprintf(cause, "pipe: %s", strerror(errno));
			output_close_fds(rd);
			output_close_fds(wr);
			return -1;
		}
		rd[i] = fds[0];
		wr[i] = fds[1];
	}
	return 0;
}

void
output_close_fds(int *fds)
{
	int	i;

	for (i = 0; i < OUT_NSTREAMS; i++)
		if (fds[i] != -1) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* Starts reading the worker of m's pipes (ours from now on). */
struct output *
output_new(struct supervisor *sv, struct modent *m, int *rd)
{
	struct output	*o;
	int		 i;

	o = xcalloc(1, sizeof *o);
	o->m = m;
	if ((o->report_ev = evtimer_new(sv->base, report_cb, o)) == NULL)
		fatal("evtimer_new: out of memory");
	for (i = 0; i < OUT_NSTREAMS; i++) {
		struct outpipe *p = &o->p[i];

		p->out = o;
		p->kind = (enum out_stream)i;
		p->fd = rd[i];
		p->ev = event_new(sv->base, p->fd, EV_READ | EV_PERSIST,
		    pipe_cb, p);
		if (p->ev == NULL || event_add(p->ev, NULL) != 0)
			fatal("event_add: worker output");
	}
	return o;
}

/*
 * The worker is gone: logs what it left in the pipes (its last words
 * before a crash), and what was dropped, and closes them.  What its
 * descendants write after this is lost with them.
 */
void
output_free(struct output *o)
{
	int	i;

	if (o == NULL)
		return;
	for (i = 0; i < OUT_NSTREAMS; i++) {
		if (o->p[i].fd != -1)
			pipe_read(&o->p[i], OUTPUT_READ_MAX);
		pipe_close(&o->p[i]);
	}
	budget_report(o, &o->m->budget[0], 1);
	budget_report(o, &o->m->budget[1], 1);
	event_free(o->report_ev);
	free(o);
}
