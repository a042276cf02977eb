/*
 * channel-test.c - the supervisor <-> worker channel (channel.c): every
 * message type round trip over a real SOCK_SEQPACKET pair, text too long
 * for its field refused when the message is made, and short, long or
 * garbled packets refused when one arrives.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "unit.h"

static void
pair(int sp[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) != 0 ||
	    set_nonblock(sp[1]) != 0) {
		perror("socketpair");
		exit(2);
	}
}

/* Open descriptors of this process (to see that none leak). */
static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	int		 n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Sends payload as type and receives it back into m; 1 if it came. */
static int
round_trip(int sp[2], enum msg_type type, const void *payload, size_t len,
    int pass_fd, struct msg *m)
{
	memset(m, 0xa5, sizeof *m);
	if (channel_send(sp[0], type, payload, len, pass_fd) != 0) {
		printf("     send: %s\n", strerror(errno));
		return 0;
	}
	if (channel_recv(sp[1], m) != 1) {
		printf("     recv: %s\n", strerror(errno));
		return 0;
	}
	return m->hdr.type == (uint32_t)type && m->hdr.len == len;
}

static void
test_round_trips(void)
{
	struct worker_settings	 ws;
	struct module_settings	 ms;
	struct msg_hello	 h;
	struct msg_param	 p;
	struct msg_check	 c;
	struct msg_conn		 cn;
	struct msg		 m;
	struct stat		 a, b;
	char			 big[MSG_TEXT_MAX];
	int			 sp[2], ok, fds[2];

	pair(sp);

	memset(&ws, 0, sizeof ws);
	ws.log_level = 7;
	ws.use_syslog = 1;
	ws.check_mode = 1;
	ok = round_trip(sp, MSG_WORKER, &ws, sizeof ws, -1, &m);
	result("worker", ok && m.fd == -1 && memcmp(&m.u.worker, &ws,
	    sizeof ws) == 0, "settings differ");

	/* Text exactly as long as its field allows arrives whole. */
	memset(&h, 0, sizeof h);
	memset(big, 'd', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	channel_text(h.id, sizeof h.id, "fx-good");
	channel_text(h.label, sizeof h.label, "Good \xc3\xa9");
	ok = channel_text(h.description, sizeof h.description, big) == 0;
	h.interval_ms = 86400000;
	h.controller = 1;
	h.instances_only = 1;
	ok = ok && round_trip(sp, MSG_HELLO, &h, sizeof h, -1, &m);
	result("hello", ok && strcmp(m.u.hello.id, "fx-good") == 0 &&
	    strcmp(m.u.hello.label, "Good \xc3\xa9") == 0 &&
	    strlen(m.u.hello.description) == MSG_TEXT_MAX - 1 &&
	    m.u.hello.interval_ms == 86400000 && m.u.hello.controller == 1 &&
	    m.u.hello.instances_only == 1, "fields differ");

	ok = round_trip(sp, MSG_IDENTITY, identity("ntp"),
	    sizeof(struct msg_identity), -1, &m);
	result("identity", ok && strcmp(m.u.identity.id, "ntp") == 0 &&
	    strcmp(m.u.identity.label, "Test") == 0 &&
	    m.u.identity.description[0] == '\0', "fields differ");

	memset(&p, 0, sizeof p);
	channel_text(p.key, sizeof p.key, "proc_root");
	channel_text(p.value, sizeof p.value, "a b  c");
	ok = round_trip(sp, MSG_PARAM, &p, sizeof p, -1, &m);
	result("param", ok && strcmp(m.u.param.key, "proc_root") == 0 &&
	    strcmp(m.u.param.value, "a b  c") == 0, "fields differ");

	memset(&ms, 0, sizeof ms);
	ms.enabled = 1;
	ms.interval_ms = 2000;
	ms.budget_ms = 100;
	ms.deadline_ms = 3000;
	ms.memory_limit_mb = 64;
	ms.max_conns = 7;
	ms.read_timeout_ms = 500;
	ms.idle_timeout_ms = 600;
	ok = round_trip(sp, MSG_MODULE, &ms, sizeof ms, -1, &m);
	result("module", ok && memcmp(&m.u.module, &ms, sizeof ms) == 0,
	    "settings differ");

	if (pipe(fds) != 0) {
		perror("pipe");
		exit(2);
	}
	cn.slot = 7;
	ok = round_trip(sp, MSG_CONN, &cn, sizeof cn, fds[0], &m);
	result("conn", ok && m.fd >= 0 && m.fd != fds[0] && m.u.conn.slot == 7 &&
	    fstat(m.fd, &a) == 0 && fstat(fds[0], &b) == 0 &&
	    a.st_ino == b.st_ino && (fcntl(m.fd, F_GETFD) & FD_CLOEXEC),
	    "no descriptor, or another one");
	if (ok && m.fd >= 0)
		close(m.fd);
	close(fds[0]);
	close(fds[1]);

	ok = round_trip(sp, MSG_READY, NULL, 0, -1, &m);
	result("ready", ok && m.fd == -1, "not a READY");

	memset(&c, 0, sizeof c);
	c.ok = 1;
	channel_text(c.id, sizeof c.id, "fx-good");
	channel_text(c.detail, sizeof c.detail, "\"Good\" reporter, 12 bytes");
	ok = round_trip(sp, MSG_CHECK, &c, sizeof c, -1, &m);
	result("check", ok && m.u.check.ok == 1 &&
	    strcmp(m.u.check.id, "fx-good") == 0 &&
	    strcmp(m.u.check.detail, "\"Good\" reporter, 12 bytes") == 0,
	    "fields differ");

	ok = channel_refuse(sp[0], big) == 0 && channel_recv(sp[1], &m) == 1;
	result("refuse", ok && m.hdr.type == MSG_REFUSE &&
	    strcmp(m.u.refuse.reason, big) == 0, "reason differs");

	/* End of file is 0, not an error. */
	close(sp[0]);
	result("eof", channel_recv(sp[1], &m) == 0, "not 0 at EOF");
	close(sp[1]);
}

static void
test_oversized(void)
{
	struct options		 o;
	struct module_settings	 ms;
	struct msg		 m;
	char			 dst[8], *big, *param, *cause = NULL;
	int			 sp[2], r;

	pair(sp);
	memcpy(dst, "xxxxxxx", 8);
	r = channel_text(dst, sizeof dst, "12345678");
	result("text-too-long", r == -1 && errno == EMSGSIZE &&
	    strcmp(dst, "xxxxxxx") == 0, "accepted or cut");
	result("text-fits", channel_text(dst, sizeof dst, "1234567") == 0 &&
	    strcmp(dst, "1234567") == 0, "refused");

	big = xmalloc(MSG_TEXT_MAX + 1);
	memset(big, 'r', MSG_TEXT_MAX);
	big[MSG_TEXT_MAX] = '\0';
	r = channel_refuse(sp[0], big);
	result("refuse-too-long", r == -1 && errno == EMSGSIZE &&
	    channel_recv(sp[1], &m) == -1 && errno == EAGAIN,
	    "sent (cut) or wrong error");

	/* A payload that is not its type's size is not sent. */
	r = channel_send(sp[0], MSG_READY, &m.u, 4, -1);
	result("send-longer-than-type", r == -1 && errno == EMSGSIZE, "sent");
	r = channel_send(sp[0], MSG_HELLO, &m.u, 4, -1);
	result("send-shorter-than-type", r == -1 && errno == EINVAL, "sent");
	r = channel_send(sp[0], MSG_REFUSE, big, MSG_TEXT_MAX + 1, -1);
	result("send-too-big", r == -1 && errno == EMSGSIZE, "sent");
	r = channel_send(sp[0], (enum msg_type)99, NULL, 0, -1);
	result("send-unknown-type", r == -1 && errno == EINVAL, "sent");

	/* A parameter too long for the channel: an error naming it. */
	options_defaults(&o);
	xasprintf(&param, "m.k=%.*s", PARAM_VALUE_MAX + 1, big);
	o.params = xcalloc(2, sizeof *o.params);
	o.params[0] = param;
	o.nparams = 1;
	options_module(&o, "m", 0, &ms);
	r = channel_send_module(sp[0], &o, identity("m"), &ms, &cause);
	/* The identity went; nothing after it. */
	result("param-too-long", r == -1 && cause != NULL &&
	    strstr(cause, "param k: value longer than") != NULL &&
	    channel_recv(sp[1], &m) == 1 && m.hdr.type == MSG_IDENTITY &&
	    channel_recv(sp[1], &m) == -1 && errno == EAGAIN,
	    cause != NULL ? cause : "accepted");
	free(cause);
	options_free(&o);
	free(big);
	close(sp[0]);
	close(sp[1]);
}

/*
 * More parameters than the socket buffer holds: sent while the worker
 * reads them, an error (not a hang) when nobody reads.
 */
static void
test_many_params(void)
{
	struct module_settings	 ms;
	struct options		 o;
	struct msg		 m;
	char			*cause = NULL;
	int			 sp[2], i, n, status;
	pid_t			 pid;

	options_defaults(&o);
	o.nparams = 100;
	o.params = xcalloc(o.nparams + 1, sizeof *o.params);
	for (i = 0; i < 100; i++)
		xasprintf(&o.params[i], "m.k%d=%04000d", i, i);
	options_module(&o, "m", 0, &ms);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) != 0 ||
	    set_nonblock(sp[0]) != 0) {
		perror("socketpair");
		exit(2);
	}
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(sp[0]);
		if (channel_recv(sp[1], &m) != 1 || m.hdr.type != MSG_IDENTITY ||
		    strcmp(m.u.identity.id, "m") != 0)
			_exit(1);
		for (n = 0; channel_recv(sp[1], &m) == 1 &&
		    m.hdr.type == MSG_PARAM; n++)
			;
		_exit(n == 100 && m.hdr.type == MSG_MODULE ? 0 : 1);
	}
	close(sp[1]);
	i = channel_send_module(sp[0], &o, identity("m"), &ms, &cause);
	close(sp[0]);
	while (waitpid(pid, &status, 0) == -1)
		;
	result("many-params", i == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, cause != NULL ? cause :
	    "the reader did not get all 100");
	free(cause);
	cause = NULL;

	pair(sp);
	set_nonblock(sp[0]);
	i = channel_send_module(sp[0], &o, identity("m"), &ms, &cause);
	result("many-params-nobody-reads", i == -1 && cause != NULL &&
	    strstr(cause, "did not read its settings") != NULL,
	    cause != NULL ? cause : "sent");
	free(cause);
	close(sp[0]);
	close(sp[1]);
	options_free(&o);
}

/* Sends raw bytes (and maybe a descriptor) as one packet. */
static void
send_raw(int fd, const void *buf, size_t len, int pass_fd)
{
	struct iovec	iov = { (void *)buf, len };

	if (channel_sendv(fd, &iov, 1, pass_fd) != 0) {
		perror("sendmsg");
		exit(2);
	}
}

/*
 * A packet of len bytes: header (type, hlen), then payload if not NULL,
 * else bytes of fill.  It must be refused as EBADMSG, with nothing leaked.
 */
static void
garbled(int sp[2], const char *name, uint32_t type, uint32_t hlen,
    size_t len, int fill, const void *payload, int pass_fd)
{
	struct msg_hdr	 hdr = { type, hlen };
	struct msg	 m;
	char		*buf;
	int		 r, before = count_fds();

	buf = xcalloc(1, len + sizeof hdr);
	memset(buf, fill, len);
	if (payload != NULL && len > sizeof hdr)
		memcpy(buf + sizeof hdr, payload, len - sizeof hdr);
	memcpy(buf, &hdr, len < sizeof hdr ? len : sizeof hdr);
	send_raw(sp[0], buf, len, pass_fd);
	free(buf);
	r = channel_recv(sp[1], &m);
	result(name, r == -1 && errno == EBADMSG && m.fd == -1 &&
	    count_fds() == before, r == 1 ? "accepted" :
	    "wrong error or a descriptor leaked");
}

static void
test_garbled(void)
{
	struct worker_settings ws;
	struct module_settings ms;
	struct msg_hello h;
	struct msg_check c;
	struct msg_conn	 cn = { 1 };
	struct msg_hdr	 hdr;
	struct msg	 m;
	char		*buf;
	int		 sp[2], fds[2];
	size_t		 hello = sizeof(struct msg_hdr) + sizeof(struct msg_hello);
	size_t		 worker = sizeof(struct msg_hdr) +
			     sizeof(struct worker_settings);

	pair(sp);
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(2);
	}
	garbled(sp, "short-header", MSG_READY, 0, 3, 0, NULL, -1);
	garbled(sp, "unknown-type", 99, 0, sizeof hdr, 0, NULL, -1);
	garbled(sp, "type-zero", 0, 0, sizeof hdr, 0, NULL, -1);
	garbled(sp, "length-lies", MSG_READY, 4, sizeof hdr, 0, NULL, -1);
	garbled(sp, "short-payload", MSG_HELLO, sizeof(struct msg_hello),
	    hello - 1, 0, NULL, -1);
	garbled(sp, "long-payload", MSG_READY, 0, sizeof hdr + 1, 0, NULL, -1);
	/* id, label and description full of 'A': no NUL inside. */
	garbled(sp, "text-unterminated", MSG_HELLO, sizeof(struct msg_hello),
	    hello, 'A', NULL, -1);
	memset(&ws, 0, sizeof ws);
	ws.log_level = 8;
	garbled(sp, "level-out-of-range", MSG_WORKER, sizeof ws, worker, 0,
	    &ws, -1);
	ws.log_level = 6;
	ws.use_syslog = 2;
	garbled(sp, "flag-not-bool", MSG_WORKER, sizeof ws, worker, 0, &ws, -1);
	memset(&h, 0, sizeof h);
	h.controller = 2;
	garbled(sp, "hello-controller-2", MSG_HELLO, sizeof h, hello, 0, &h, -1);
	h.controller = 1;
	h.instances_only = 2;
	garbled(sp, "hello-instances-only-2", MSG_HELLO, sizeof h, hello, 0, &h,
	    -1);
	garbled(sp, "identity-unterminated", MSG_IDENTITY,
	    sizeof(struct msg_identity), sizeof hdr +
	    sizeof(struct msg_identity), 'A', NULL, -1);
	memset(&ms, 0, sizeof ms);
	ms.enabled = 2;
	garbled(sp, "module-enabled-2", MSG_MODULE, sizeof ms,
	    sizeof hdr + sizeof ms, 0, &ms, -1);
	memset(&c, 0, sizeof c);
	c.ok = 2;
	garbled(sp, "check-ok-2", MSG_CHECK, sizeof c, sizeof hdr + sizeof c, 0,
	    &c, -1);
	memset(&c, 'x', sizeof c);
	c.ok = 1;
	garbled(sp, "check-unterminated", MSG_CHECK, sizeof c,
	    sizeof hdr + sizeof c, 0, &c, -1);
	garbled(sp, "oversized-packet", MSG_REFUSE, sizeof(struct msg_refuse),
	    MSG_MAX_SIZE + 100, 0, NULL, -1);
	garbled(sp, "conn-without-fd", MSG_CONN, sizeof cn, sizeof hdr + sizeof cn,
	    0, &cn, -1);
	garbled(sp, "fd-on-ready", MSG_READY, 0, sizeof hdr, 0, NULL, fds[0]);
	garbled(sp, "fd-on-bad-packet", 99, 0, sizeof hdr, 0, NULL, fds[0]);
	close(fds[0]);
	close(fds[1]);

	/* After garbage, a good message still comes through. */
	result("good-after-garbage", channel_send(sp[0], MSG_READY, NULL, 0,
	    -1) == 0 && channel_recv(sp[1], &m) == 1 &&
	    m.hdr.type == MSG_READY, "channel out of step");

	/* channel_decode() alone, as a fuzzer would call it. */
	buf = xcalloc(1, MSG_MAX_SIZE);
	hdr.type = MSG_REFUSE;
	hdr.len = sizeof(struct msg_refuse);
	memcpy(buf, &hdr, sizeof hdr);
	memcpy(buf + sizeof hdr, "why", 4);
	result("decode", channel_decode(buf, sizeof hdr + hdr.len, &m) == 0 &&
	    strcmp(m.u.refuse.reason, "why") == 0, "refused a good packet");
	result("decode-empty", channel_decode(buf, 0, &m) == -1 &&
	    errno == EBADMSG, "accepted nothing");
	free(buf);
	close(sp[0]);
	close(sp[1]);
}

int
main(void)
{
	test_round_trips();
	test_oversized();
	test_many_params();
	test_garbled();
	return unit_summary();
}
