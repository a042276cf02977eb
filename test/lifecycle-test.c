/*
 * lifecycle-test.c - the supervisor's module state machine (lifecycle.c):
 * every one of the 49 transitions is allowed or refused as the picture in
 * docs/ARCHITECTURE.md says, mod_set_state() changes the state exactly
 * when allowed, and the graph has no trap: every state is reachable from
 * a new entry and can get back to a running worker.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "host.h"

/* spawn.c execs this; nothing here spawns. */
const char	*host_exe = "/nonexistent";

static unsigned	passed, failed;

static void
result(const char *name, int ok, const char *why)
{
	if (ok) {
		passed++;
		printf("ok   %s\n", name);
	} else {
		failed++;
		printf("FAIL %s: %s\n", name, why);
	}
}

/*
 * The allowed transitions, written out from the documented picture, not
 * from lifecycle.c's table.
 */
static const struct {
	enum mstate	from, to;
} expected[] = {
	{ M_WAITING, M_STARTING },	/* first spawn */
	{ M_WAITING, M_BACKOFF },	/* fork failed */
	{ M_WAITING, M_REFUSED },	/* the scan found it unsafe (modes) */
	{ M_STARTING, M_RUNNING },	/* READY */
	{ M_STARTING, M_REFUSED },	/* ABI, id, init, disabled */
	{ M_STARTING, M_STOPPING },	/* file changed or removed */
	{ M_STARTING, M_BACKOFF },	/* crashed, start timeout */
	{ M_STARTING, M_FAILED },	/* crashed once too often */
	{ M_RUNNING, M_STOPPING },	/* file changed/removed, socket lost */
	{ M_RUNNING, M_BACKOFF },	/* crashed, hung, too big */
	{ M_RUNNING, M_FAILED },
	{ M_RUNNING, M_REFUSED },	/* id lost to a file that sorts first */
	{ M_BACKOFF, M_STARTING },	/* timer */
	{ M_BACKOFF, M_BACKOFF },	/* fork failed again */
	{ M_BACKOFF, M_REFUSED },	/* its file became unsafe */
	{ M_FAILED, M_STARTING },	/* new file, SIGHUP */
	{ M_FAILED, M_BACKOFF },
	{ M_FAILED, M_REFUSED },	/* its file became unsafe */
	{ M_REFUSED, M_STARTING },	/* new file, SIGHUP, id freed */
	{ M_REFUSED, M_BACKOFF },
	{ M_REFUSED, M_STOPPING },	/* removed before its worker exited */
	{ M_STOPPING, M_STARTING },	/* restart on the new file */
	{ M_STOPPING, M_BACKOFF },
};

static int
is_expected(enum mstate from, enum mstate to)
{
	size_t	i;

	for (i = 0; i < sizeof expected / sizeof expected[0]; i++)
		if (expected[i].from == from && expected[i].to == to)
			return 1;
	return 0;
}

static void
test_table(void)
{
	char		 name[96], why[128];
	enum mstate	 from, to;

	for (from = 0; from < M_NSTATES; from++)
		for (to = 0; to < M_NSTATES; to++) {
			int want = is_expected(from, to);

			snprintf(name, sizeof name, "%s-%s-%s",
			    mod_state_name(from), want ? "to" : "not-to",
			    mod_state_name(to));
			snprintf(why, sizeof why, "table says %s",
			    want ? "forbidden" : "allowed");
			result(name, mod_transition_allowed(from, to) == want,
			    why);
		}
	result("out-of-range-refused",
	    !mod_transition_allowed(M_NSTATES, M_STARTING) &&
	    !mod_transition_allowed(M_STARTING, M_NSTATES) &&
	    !mod_transition_allowed((enum mstate)-1, M_STARTING),
	    "a state outside the enum was accepted");
}

/* mod_set_state() assigns exactly the allowed transitions. */
static void
test_set_state(void)
{
	struct supervisor sv;
	struct modent	 m;
	enum mstate	 from, to;
	unsigned	 wrong = 0;
	char		 why[160] = "";

	for (from = 0; from < M_NSTATES; from++)
		for (to = 0; to < M_NSTATES; to++) {
			int want = is_expected(from, to), r;

			memset(&m, 0, sizeof m);
			memset(&sv, 0, sizeof sv);
			m.sv = &sv;
			m.name = "test.so";
			m.state = from;
			r = mod_set_state(&m, to, "test");
			if ((want && (r != 0 || m.state != to)) ||
			    (!want && (r != -1 || m.state != from))) {
				if (wrong++ == 0)
					snprintf(why, sizeof why, "%s -> %s: "
					    "returned %d, state now %s",
					    mod_state_name(from),
					    mod_state_name(to), r,
					    mod_state_name(m.state));
			}
		}
	result("set-state-follows-table", wrong == 0, why);
}

/*
 * Shutdown is final: once it began, no state that leads to a new worker
 * (starting, restarting) can be entered, from anywhere; stopping can.
 */
static void
test_shutdown_final(void)
{
	struct supervisor sv;
	struct modent	 m;
	enum mstate	 from;
	char		 why[160] = "";

	memset(&sv, 0, sizeof sv);
	sv.shutting_down = 1;
	for (from = 0; from < M_NSTATES; from++) {
		memset(&m, 0, sizeof m);
		m.sv = &sv;
		m.name = "test.so";
		m.state = from;
		if ((mod_set_state(&m, M_STARTING, "test") == 0 ||
		    mod_set_state(&m, M_BACKOFF, "test") == 0) && why[0] == '\0')
			snprintf(why, sizeof why, "%s -> %s during shutdown",
			    mod_state_name(from), mod_state_name(m.state));
		m.state = from;
		if (mod_transition_allowed(from, M_STOPPING) &&
		    mod_set_state(&m, M_STOPPING, "test") != 0 && why[0] == '\0')
			snprintf(why, sizeof why, "%s -> stopping refused "
			    "during shutdown", mod_state_name(from));
	}
	result("nothing-starts-during-shutdown", why[0] == '\0', why);
}

/*
 * Marks in set every state reachable from start (forward) or from which
 * start can be reached (backward), along allowed transitions.
 */
static void
closure(enum mstate start, int forward, int set[M_NSTATES])
{
	enum mstate	a, b;
	int		changed = 1;

	memset(set, 0, M_NSTATES * sizeof set[0]);
	set[start] = 1;
	while (changed) {
		changed = 0;
		for (a = 0; a < M_NSTATES; a++)
			for (b = 0; b < M_NSTATES; b++)
				if (set[a] && !set[b] && (forward ?
				    mod_transition_allowed(a, b) :
				    mod_transition_allowed(b, a)))
					set[b] = changed = 1;
	}
}

/*
 * Every state is reachable from a new entry; from every state a module
 * can get back to serving (no trap); nothing goes back to waiting.
 */
static void
test_graph(void)
{
	int		 seen[M_NSTATES], back[M_NSTATES];
	enum mstate	 s;
	char		 unreachable[96] = "", trap[96] = "", to_new[96] = "";

	closure(M_WAITING, 1, seen);
	closure(M_RUNNING, 0, back);
	for (s = 0; s < M_NSTATES; s++) {
		if (!seen[s] && unreachable[0] == '\0')
			snprintf(unreachable, sizeof unreachable,
			    "%s unreachable", mod_state_name(s));
		if (!back[s] && trap[0] == '\0')
			snprintf(trap, sizeof trap, "%s never serves again",
			    mod_state_name(s));
		if (mod_transition_allowed(s, M_WAITING) && to_new[0] == '\0')
			snprintf(to_new, sizeof to_new, "%s -> waiting allowed",
			    mod_state_name(s));
	}
	result("every-state-reachable", unreachable[0] == '\0', unreachable);
	result("no-trap-state", trap[0] == '\0', trap);
	result("waiting-is-initial-only", to_new[0] == '\0', to_new);
}

/* The names are what `status` and SIGUSR1 show; scripts read them. */
static void
test_names(void)
{
	static const char *const want[M_NSTATES] = {
		[M_WAITING] = "waiting", [M_STARTING] = "starting",
		[M_RUNNING] = "running", [M_BACKOFF] = "restarting",
		[M_FAILED] = "failed", [M_REFUSED] = "refused",
		[M_STOPPING] = "stopping",
	};
	enum mstate	s;
	char		why[96] = "";

	for (s = 0; s < M_NSTATES; s++)
		if (strcmp(mod_state_name(s), want[s]) != 0 && why[0] == '\0')
			snprintf(why, sizeof why, "state %d is \"%s\", not \"%s\"",
			    (int)s, mod_state_name(s), want[s]);
	result("state-names", why[0] == '\0', why);
	result("invalid-state-name",
	    strcmp(mod_state_name(M_NSTATES), "invalid") == 0,
	    mod_state_name(M_NSTATES));
}

int
main(void)
{
	/* The refusals log an error each; the results say it all. */
	log_open("lifecycle-test", 0, LOG_CRIT);
	test_table();
	test_set_state();
	test_shutdown_final();
	test_graph();
	test_names();
	printf("%u passed, %u failed\n", passed, failed);
	return failed > 0 ? 1 : 0;
}
