/*
 * frame-test.c - cases for the report framer (host/frame.c) and the
 * generator fault record it relies on (host/yajl-wrap.c): what a good
 * collect() becomes, byte for byte, and every way a collect() is refused,
 * with the output buffer left as it was.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "unit.h"

static void
str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

#define BIG_STRING "a string long enough to cross the staging buffer"
#define BIG_COUNT 20000

/* The behaviours a module's collect() can have; state points at one. */
enum behaviour {
	B_EMPTY, B_MEMBERS, B_NAN, B_UNBALANCED, B_CLOSED, B_KEY_ONLY,
	B_PLUGINS, B_FAIL, B_BAD_UTF8, B_VALUE_AS_KEY, B_BIG
};

static int
collect(void *state, yajl_gen g)
{
	enum behaviour	b = *(enum behaviour *)state;
	int		i;

	switch (b) {
	case B_EMPTY:
		break;
	case B_MEMBERS:
		str(g, "Host");
		yajl_gen_map_open(g);
		str(g, "nodes");
		yajl_gen_map_open(g);
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);
		break;
	case B_NAN:
		str(g, "Host");
		yajl_gen_double(g, NAN);	/* error ignored */
		yajl_gen_null(g);
		break;
	case B_UNBALANCED:
		str(g, "Host");
		yajl_gen_map_open(g);
		break;
	case B_CLOSED:
		yajl_gen_map_close(g);
		break;
	case B_KEY_ONLY:
		str(g, "Host");
		break;
	case B_PLUGINS:
		str(g, "Plugins");
		yajl_gen_array_open(g);
		yajl_gen_array_close(g);
		break;
	case B_FAIL:
		return 3;
	case B_BAD_UTF8:
		str(g, "Host");
		str(g, "\xc3\x28");
		break;
	case B_VALUE_AS_KEY:
		yajl_gen_integer(g, 1);
		break;
	case B_BIG:
		str(g, "Host");
		yajl_gen_array_open(g);
		for (i = 0; i < BIG_COUNT; i++)
			str(g, BIG_STRING);
		yajl_gen_array_close(g);
		break;
	}
	return 0;
}

struct fixture {
	struct module	 mod;
	enum behaviour	 b;
	struct reporter	*r;
	struct evbuffer	*out;
};

static void
fixture_init(struct fixture *f, const char *id, const char *label,
    const char *description, int controller)
{
	memset(f, 0, sizeof *f);
	snprintf(f->mod.id, sizeof f->mod.id, "%s", id);
	f->mod.label = label;
	f->mod.description = description;
	f->mod.collect = collect;
	f->mod.control = controller ? (sph_control_fn)1 : NULL;
	f->mod.state = &f->b;
	f->r = reporter_new(&f->mod, NULL);
	if ((f->out = evbuffer_new()) == NULL) {
		fprintf(stderr, "evbuffer_new failed\n");
		exit(1);
	}
}

static void
fixture_free(struct fixture *f)
{
	reporter_free(f->r);
	evbuffer_free(f->out);
}

/* Builds with behaviour b; *text is the whole output buffer then. */
static int
build(struct fixture *f, enum behaviour b, char **cause, char **text)
{
	size_t	len;
	int	rc;

	f->b = b;
	*cause = NULL;
	rc = reporter_build(f->r, f->out, cause);
	len = evbuffer_get_length(f->out);
	*text = xmalloc(len + 1);
	if (len > 0)
		memcpy(*text, evbuffer_pullup(f->out, -1), len);
	(*text)[len] = '\0';
	return rc;
}

#define PLUGINS_ENTRY(id, label, desc, ifaces) \
	"\"Plugins\":[{\"id\":\"" id "\",\"label\":\"" label "\"," \
	"\"description\":\"" desc "\",\"interfaces\":[" ifaces "]," \
	"\"api_version\":\"1\"}]}"

static void
test_good(void)
{
	struct fixture	 f;
	const char	*tail;
	char		*cause, *text, *vcause = NULL;
	size_t		 want;
	int		 rc;

	fixture_init(&f, "fx", "Fx", "a \"test\" module", 0);
	rc = build(&f, B_EMPTY, &cause, &text);
	result("empty", rc == 0 && strcmp(text, "{" PLUGINS_ENTRY("fx", "Fx",
	    "a \\\"test\\\" module", "\"reporter\"")) == 0, text);
	free(text);
	evbuffer_drain(f.out, evbuffer_get_length(f.out));
	rc = build(&f, B_MEMBERS, &cause, &text);
	result("members", rc == 0 && strcmp(text, "{\"Host\":{\"nodes\":{}},"
	    PLUGINS_ENTRY("fx", "Fx", "a \\\"test\\\" module", "\"reporter\""))
	    == 0, text);
	rc = validate_report(text, strlen(text), "fx", 0, &vcause);
	result("members-valid", rc == 0, vcause);
	free(vcause);
	free(text);
	/* A second report is appended to what out already holds. */
	rc = build(&f, B_EMPTY, &cause, &text);
	result("appends", rc == 0 && strncmp(text, "{\"Host\"", 7) == 0 &&
	    strstr(text, "}{\"Plugins\"") != NULL, text);
	free(text);
	fixture_free(&f);

	fixture_init(&f, "fx-ctl", "Ctl", "", 1);
	rc = build(&f, B_EMPTY, &cause, &text);
	result("controller", rc == 0 && strcmp(text, "{" PLUGINS_ENTRY("fx-ctl",
	    "Ctl", "", "\"reporter\",\"controller\"")) == 0, text);
	free(text);
	fixture_free(&f);

	/* Past the staging buffer, the bytes go straight through. */
	fixture_init(&f, "fx", "Fx", "", 0);
	rc = build(&f, B_BIG, &cause, &text);
	tail = "]," PLUGINS_ENTRY("fx", "Fx", "", "\"reporter\"");
	want = strlen("{\"Host\":[") + BIG_COUNT * (strlen(BIG_STRING) + 3) -
	    1 + strlen(tail);
	result("big", rc == 0 && strlen(text) == want &&
	    strncmp(text, "{\"Host\":[\"" BIG_STRING "\",", 11) == 0 &&
	    strcmp(text + want - strlen(tail), tail) == 0, cause);
	free(cause);
	free(text);
	fixture_free(&f);
}

struct refusal {
	const char	*name;
	enum behaviour	 b;
	const char	*want;		/* substring of the cause */
};

static const struct refusal refusals[] = {
	{ "nan-ignored", B_NAN, "collect: yajl_gen_double: invalid number" },
	{ "unbalanced", B_UNBALANCED, "unbalanced (1 container open)" },
	{ "closed", B_CLOSED, "closed the report object" },
	{ "key-only", B_KEY_ONLY, "a key without a value" },
	{ "own-plugins", B_PLUGINS, "its own \"Plugins\" key" },
	{ "collect-fails", B_FAIL, "collect returned 3" },
	{ "bad-utf8", B_BAD_UTF8, "yajl_gen_string: invalid UTF-8" },
	{ "value-as-key", B_VALUE_AS_KEY, "yajl_gen_integer: a key that is "
	    "not a string" },
};

static void
test_refusals(void)
{
	struct fixture	 f;
	char		*cause, *text;
	size_t		 i;
	int		 rc;

	fixture_init(&f, "fx", "Fx", "", 0);
	for (i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		/* Whatever out held stays, and nothing is added. */
		evbuffer_drain(f.out, evbuffer_get_length(f.out));
		evbuffer_add(f.out, "kept", 4);
		rc = build(&f, refusals[i].b, &cause, &text);
		result(refusals[i].name, rc == -1 && cause != NULL &&
		    strstr(cause, refusals[i].want) != NULL &&
		    strcmp(text, "kept") == 0, cause != NULL ? cause : "no cause");
		free(cause);
		free(text);
		/* The fault is forgotten: the next good collect goes through. */
		evbuffer_drain(f.out, evbuffer_get_length(f.out));
		rc = build(&f, B_MEMBERS, &cause, &text);
		result("good-after-refusal", rc == 0 &&
		    strncmp(text, "{\"Host\"", 7) == 0, cause);
		free(cause);
		free(text);
	}
	fixture_free(&f);
}

/* Faults are recorded per generator: one framer's does not fail another. */
static void
test_per_generator(void)
{
	struct fixture	 a, b;
	char		*cause, *text;
	int		 status = 0, rc;
	yajl_gen	 g;

	fixture_init(&a, "fx-a", "A", "", 0);
	fixture_init(&b, "fx-b", "B", "", 0);
	rc = build(&a, B_NAN, &cause, &text);
	result("a-refused", rc == -1, NULL);
	free(cause);
	free(text);
	rc = build(&b, B_MEMBERS, &cause, &text);
	result("b-unaffected", rc == 0, cause);
	free(cause);
	free(text);
	fixture_free(&a);
	fixture_free(&b);

	/* An unwatched generator records nothing; a watched one the first. */
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		result("gen-alloc", 0, NULL);
		return;
	}
	yajl_gen_integer(g, 1);
	yajl_gen_integer(g, 2);
	result("unwatched", yajl_wrap_fault(g, &status) == NULL, NULL);
	yajl_wrap_watch(g);
	yajl_gen_map_open(g);
	yajl_gen_double(g, INFINITY);
	result("first-fault", yajl_wrap_fault(g, &status) != NULL &&
	    strcmp(yajl_wrap_fault(g, &status), "yajl_gen_map_open") == 0 &&
	    status == yajl_gen_generation_complete, NULL);
	yajl_wrap_clear(g);
	result("cleared", yajl_wrap_fault(g, NULL) == NULL, NULL);
	yajl_wrap_unwatch(g);
	yajl_gen_free(g);
}

int
main(void)
{
	test_good();
	test_refusals();
	test_per_generator();
	return unit_summary();
}
