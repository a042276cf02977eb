/*
 * config.c - the configuration file, scope-plugin-host.conf(5): its keys
 * are the rows of the settings table (options.c).  Global settings go
 * into struct options, module blocks become the same overrides as --set,
 * parameters the same "id.key=value" strings as --param.  A global
 * "param" is stored with the id "*", which options_lookup() falls back to.
 * Each module block is also kept as a struct module_block: its file (an
 * instance), label and description.
 *
 * The file is applied first and the command line again on top of it, so
 * flags win, at start-up and at every reload (SIGHUP).  Every error is
 * collected as "file:line: message".
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "host.h"
#include "utf8.h"

#define CONFIG_LINE_MAX 4095
#define CONFIG_ERRORS_MAX 100
#define CONFIG_SIZE_MAX (1 << 20)	/* bytes: far beyond any real file */

/* A copy of s that options_free() releases. */
static const char *
config_keep(struct options *o, const char *s)
{
	o->owned = xrealloc(o->owned, (o->nowned + 1) * sizeof *o->owned);
	return o->owned[o->nowned++] = xstrdup(s);
}


/* A key (or "param NAME") seen in a scope, or a module block. */
struct seen {
	char		*name;
	unsigned	 line;
};

struct seenlist {
	struct seen	*v;
	size_t		 n;
};

struct cstate {
	struct options	*o;
	const char	*file;
	unsigned	 line;
	char		**errors;
	size_t		 nerrors;

	int		 depth;		/* open module blocks (1 unless broken) */
	unsigned	 open_line;	/* of the outermost open block */
	char		 id[PLUGIN_ID_MAX + 1];	/* "" : block with a bad id */
	struct module_block *block;	/* of id, while it is open */

	struct seenlist	 gseen;		/* keys of the global scope */
	struct seenlist	 mseen;		/* keys of the open block */
	struct seenlist	 blocks;	/* module ids with a block */
};

static void
config_error(struct cstate *cs, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends s to a NULL-terminated list of *n errors. */
static void
errors_add(char ***errors, size_t *n, char *s)
{
	*errors = xrealloc(*errors, (*n + 2) * sizeof **errors);
	(*errors)[(*n)++] = s;
	(*errors)[*n] = NULL;
}

static void
config_error(struct cstate *cs, unsigned line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *s;

	if (cs->nerrors > CONFIG_ERRORS_MAX)
		return;
	if (cs->nerrors == CONFIG_ERRORS_MAX) {
		xasprintf(&s, "%s:%u: too many errors, giving up", cs->file,
		    line);
	} else {
		va_start(ap, fmt);
		xvasprintf(&msg, fmt, ap);
		va_end(ap);
		if (line == 0)
			xasprintf(&s, "%s: %s", cs->file, msg);
		else
			xasprintf(&s, "%s:%u: %s", cs->file, line, msg);
		free(msg);
	}
	errors_add(&cs->errors, &cs->nerrors, s);
}

static const struct seen *
seen_find(const struct seenlist *l, const char *name)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

static void
seen_add(struct seenlist *l, const char *name, unsigned line)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n].name = xstrdup(name);
	l->v[l->n++].line = line;
}

static void
seen_clear(struct seenlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Returns 0 when name is new in the current scope, else reports it. */
static int
config_once(struct cstate *cs, const char *name, const char *what)
{
	struct seenlist		*l = cs->depth > 0 ? &cs->mseen : &cs->gseen;
	const struct seen	*s;

	if ((s = seen_find(l, name)) != NULL) {
		config_error(cs, cs->line, "%s given twice in the same %s "
		    "(first on line %u)", what, cs->depth > 0 ? "module block" :
		    "global scope", s->line);
		return -1;
	}
	seen_add(l, name, cs->line);
	return 0;
}

static void
config_push(char ***list, size_t *n, const char *id, const char *key,
    const char *value)
{
	*list = xrealloc(*list, (*n + 2) * sizeof **list);
	xasprintf(&(*list)[(*n)++], "%s.%s=%s", id, key, value);
	(*list)[*n] = NULL;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits off the first word of *s; *s then points past the blanks after it. */
static char *
next_word(char **s)
{
	char	*w = *s, *p = *s;

	while (*p != '\0' && !is_blank(*p))
		p++;
	if (*p != '\0') {
		*p++ = '\0';
		while (is_blank(*p))
			p++;
	}
	*s = p;
	return w;
}

static void
config_module(struct cstate *cs, char *rest)
{
	const struct seen	*s;
	char			*id = next_word(&rest);
	size_t			 len = strlen(id);
	int			 ok = 1;

	if (*id == '\0') {
		config_error(cs, cs->line, "module needs an id and \"{\"");
		return;
	}
	/* A malformed opening still opens a block, so its "}" matches. */
	if (strcmp(rest, "{") != 0) {
		if (*rest == '\0' && len > 1 && id[len - 1] == '{') {
			config_error(cs, cs->line, "put a blank between the "
			    "module id and \"{\"");
			id[--len] = '\0';
		} else if (*rest == '\0')
			config_error(cs, cs->line, "expected \"{\" after the "
			    "module id");
		else
			config_error(cs, cs->line, "expected only \"{\" after "
			    "the module id, got \"%s\"", rest);
		ok = 0;
	}
	if (cs->depth > 0) {
		config_error(cs, cs->line, "module block inside the block "
		    "opened on line %u (blocks do not nest)", cs->open_line);
		ok = 0;
	}
	if (len > PLUGIN_ID_MAX || !valid_plugin_id(id)) {
		config_error(cs, cs->line, "invalid module id \"%s\" (ASCII "
		    "letters and digits in runs separated by single dashes, at "
		    "most %d)", id, PLUGIN_ID_MAX);
		ok = 0;
	} else if ((s = seen_find(&cs->blocks, id)) != NULL) {
		config_error(cs, cs->line, "second block for module \"%s\" "
		    "(first on line %u)", id, s->line);
		ok = 0;
	} else
		seen_add(&cs->blocks, id, cs->line);

	if (cs->depth++ == 0)
		cs->open_line = cs->line;
	seen_clear(&cs->mseen);
	snprintf(cs->id, sizeof cs->id, "%s", ok ? id : "");
	cs->block = NULL;
	if (ok) {
		struct options	*o = cs->o;

		o->blocks = xrealloc(o->blocks, (o->nblocks + 1) *
		    sizeof *o->blocks);
		cs->block = &o->blocks[o->nblocks++];
		memset(cs->block, 0, sizeof *cs->block);
		snprintf(cs->block->id, sizeof cs->block->id, "%s", id);
		xasprintf(&cs->block->where, "%s:%u", cs->file, cs->line);
	}
}

/*
 * The keys of a module block that are not settings of the table: file
 * (the block defines an instance of that module), label, description.
 * Returns 0 if key is not one of them.
 */
static int
config_block_key(struct cstate *cs, const char *key, const char *value)
{
	size_t	 len = strlen(value), max;
	char	*what, **field;
	int	 r;

	if (strcmp(key, "file") == 0)
		max = 0;
	else if (strcmp(key, "label") == 0)
		max = MSG_LABEL_MAX - 1;
	else if (strcmp(key, "description") == 0)
		max = MSG_TEXT_MAX - 1;
	else
		return 0;
	if (cs->depth == 0) {
		config_error(cs, cs->line, "\"%s\" is allowed only in a module "
		    "block", key);
		return 1;
	}
	if (*value == '\0' && strcmp(key, "description") != 0) {
		config_error(cs, cs->line, "\"%s\" needs a value", key);
		return 1;
	}
	xasprintf(&what, "\"%s\"", key);
	r = config_once(cs, key, what);
	free(what);
	if (r != 0)
		return 1;
	if (max == 0) {
		/* A file of the module directory, as the scan finds it. */
		if (strchr(value, '/') != NULL || value[0] == '.' || len <= 3 ||
		    strcmp(value + len - 3, ".so") != 0) {
			config_error(cs, cs->line, "file: expected the name of "
			    "a module in the module directory (NAME.so, no "
			    "\"/\"), got \"%s\"", value);
			return 1;
		}
		field = cs->block != NULL ? &cs->block->file : NULL;
	} else {
		if (len > max) {
			config_error(cs, cs->line, "%s: longer than %zu bytes",
			    key, max);
			return 1;
		}
		if (!sph_utf8_valid(value)) {
			config_error(cs, cs->line, "%s: not valid UTF-8", key);
			return 1;
		}
		field = cs->block == NULL ? NULL : key[0] == 'l' ?
		    &cs->block->label : &cs->block->description;
	}
	if (field != NULL) {
		*field = xstrdup(value);
		if (max == 0)
			xasprintf(&cs->block->file_where, "%s:%u", cs->file,
			    cs->line);
	}
	return 1;
}

static void
config_param(struct cstate *cs, char *rest)
{
	char		*name = next_word(&rest), *dup, *what, *why;
	const char	*p;

	if (*name == '\0') {
		config_error(cs, cs->line, "param needs a name and a value");
		return;
	}
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    *p == '.')
			continue;
		config_error(cs, cs->line, "invalid param name \"%s\" (letters, "
		    "digits, \"_\", \"-\" and \".\")", name);
		return;
	}
	xasprintf(&dup, "param %s", name);
	xasprintf(&what, "param \"%s\"", name);
	if (options_param_check(name, strlen(name), rest, &why) != 0) {
		config_error(cs, cs->line, "%s", why);
		free(why);
	} else if (config_once(cs, dup, what) == 0) {
		if (cs->depth == 0)
			config_push(&cs->o->params, &cs->o->nparams, "*", name,
			    rest);
		else if (cs->id[0] != '\0')
			config_push(&cs->o->params, &cs->o->nparams, cs->id,
			    name, rest);
	}
	free(dup);
	free(what);
}


static void
config_setting(struct cstate *cs, const char *key, const char *value)
{
	const struct setting	*k = options_find(key);
	unsigned		 u = 0;
	int			 r;
	char			*what, *why;

	if (k == NULL || (k->where & (SET_GLOBAL | SET_MODULE)) == 0 ||
	    k->type == ST_PARAM) {
		config_error(cs, cs->line, "unknown key \"%s\"", key);
		return;
	}
	if (cs->depth > 0 && (k->where & SET_MODULE) == 0) {
		config_error(cs, cs->line, "\"%s\" is a global setting, not "
		    "allowed in a module block", key);
		return;
	}
	if (cs->depth == 0 && (k->where & SET_GLOBAL) == 0) {
		config_error(cs, cs->line, "\"%s\" is allowed only in a module "
		    "block", key);
		return;
	}
	if (*value == '\0') {
		config_error(cs, cs->line, "\"%s\" needs a value", key);
		return;
	}
	xasprintf(&what, "\"%s\"", key);
	r = config_once(cs, key, what);
	free(what);
	if (r != 0)
		return;

	switch (k->type) {
	case ST_PATH:
		if (*value != '/') {
			config_error(cs, cs->line, "%s: expected an absolute "
			    "path, got \"%s\"", key, value);
			return;
		}
		*(const char **)((char *)cs->o + k->off) = config_keep(cs->o, value);
		return;
	case ST_NAME:
		/* A user or group name (or number); resolved with the flags. */
		if (value[strcspn(value, " \t:/")] != '\0') {
			config_error(cs, cs->line, "%s: expected a user or group "
			    "name, got \"%s\"", key, value);
			return;
		}
		*(const char **)((char *)cs->o + k->off) = config_keep(cs->o, value);
		return;
	case ST_BOOL:
		if (strcmp(value, "yes") == 0)
			u = 1;
		else if (strcmp(value, "no") != 0) {
			config_error(cs, cs->line, "%s: expected yes or no, got "
			    "\"%s\"", key, value);
			return;
		}
		break;
	default:
		if (options_value(k, value, &u, &why) != 0) {
			config_error(cs, cs->line, "%s: %s", key, why);
			free(why);
			return;
		}
		break;
	}
	if (cs->depth == 0)
		options_set(cs->o, k, u);
	else if (cs->id[0] != '\0')
		options_override(cs->o, cs->id, k, u);
}

/* One line, without its newline, NUL-checked and trimmed. */
static void
config_line(struct cstate *cs, char *s)
{
	char	*end, *key;

	while (is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank(end[-1]))
		*--end = '\0';
	if (*s == '\0' || *s == '#')
		return;

	key = next_word(&s);
	if (strcmp(key, "}") == 0) {
		if (*s != '\0')
			config_error(cs, cs->line, "\"}\" must be alone on its "
			    "line");
		else if (cs->depth == 0)
			config_error(cs, cs->line, "\"}\" without a module block");
		else if (--cs->depth == 0) {
			seen_clear(&cs->mseen);
			cs->id[0] = '\0';
			cs->block = NULL;
		} else {
			cs->id[0] = '\0';	/* back in a broken outer block */
			cs->block = NULL;
		}
	} else if (strcmp(key, "module") == 0)
		config_module(cs, s);
	else if (strcmp(key, "param") == 0)
		config_param(cs, s);
	else if (!config_block_key(cs, key, s))
		config_setting(cs, key, s);
}

/*
 * Parses an open file into o.  Returns 0, or -1 with every error in
 * *errors (a NULL-terminated list of "file:line: message", *nerrors long).
 */
int
config_parse_file(struct options *o, FILE *f, const char *file,
    char ***errors, size_t *nerrors)
{
	struct cstate	 cs;
	char		*buf = NULL;
	size_t		 size = 0;
	ssize_t		 len;

	memset(&cs, 0, sizeof cs);
	cs.o = o;
	cs.file = file;
	while ((len = getline(&buf, &size, f)) != -1) {
		cs.line++;
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (memchr(buf, '\0', (size_t)len) != NULL)
			config_error(&cs, cs.line, "NUL byte in the line");
		else if (len > CONFIG_LINE_MAX)
			config_error(&cs, cs.line, "line longer than %d bytes",
			    CONFIG_LINE_MAX);
		else
			config_line(&cs, buf);
	}
	if (ferror(f))
		config_error(&cs, 0, "read error after line %u: %s", cs.line,
		    strerror(errno));
	else if (cs.depth > 0)
		config_error(&cs, cs.open_line, "module block not closed at "
		    "the end of the file");
	free(buf);
	seen_clear(&cs.gseen);
	seen_clear(&cs.mseen);
	seen_clear(&cs.blocks);
	*errors = cs.errors;
	*nerrors = cs.nerrors;
	return cs.nerrors > 0 ? -1 : 0;
}

/*
 * Reads path into o.  A missing file is not an error unless must_exist.
 * Returns 1 when the file was read, 0 when it was absent, -1 on errors.
 */
int
config_load(struct options *o, const char *path, int must_exist,
    char ***errors, size_t *nerrors)
{
	FILE		*f = NULL;
	struct stat	 st;
	char		*e = NULL;
	int		 fd, r;

	*errors = NULL;
	*nerrors = 0;
	/*
	 * The supervisor reads the file on SIGHUP in its event loop: a FIFO
	 * (open would block), a device such as /dev/zero (an endless line)
	 * or a runaway file would stall every socket, so only a regular file
	 * of a sane size is read.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT && !must_exist)
			return 0;
		xasprintf(&e, "%s: cannot open the configuration file: %s",
		    path, strerror(errno));
	} else if (fstat(fd, &st) != 0)
		xasprintf(&e, "%s: fstat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		xasprintf(&e, "%s: the configuration file is not a regular "
		    "file", path);
	else if (st.st_size > CONFIG_SIZE_MAX)
		xasprintf(&e, "%s: the configuration file is larger than "
		    "%d bytes", path, CONFIG_SIZE_MAX);
	else if ((f = fdopen(fd, "r")) == NULL)
		xasprintf(&e, "%s: fdopen: %s", path, strerror(errno));
	if (e != NULL) {
		if (fd != -1)
			close(fd);
		errors_add(errors, nerrors, e);
		return -1;
	}
	r = config_parse_file(o, f, path, errors, nerrors);
	fclose(f);
	return r == 0 ? 1 : -1;
}

void
config_free_errors(char **errors, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(errors[i]);
	free(errors);
}

/* The file o reads: --config, or the default one. */
const char *
config_path(const struct options *o)
{
	return o->config_file != NULL ? o->config_file :
	    SPH_SYSCONFDIR "/" HOST_NAME ".conf";
}

/*
 * Checks what only the final settings tell: the file of each instance
 * must be in the module directory (flags may have changed it).  Adds an
 * error per problem; returns how many.
 */
static size_t
config_check_blocks(const struct options *o, char ***errors, size_t *nerrors)
{
	const struct module_block	*b;
	struct stat			 st;
	size_t				 i, n = 0;
	char				*path, *e;

	for (i = 0; i < o->nblocks; i++) {
		b = &o->blocks[i];
		if (b->file == NULL)
			continue;
		xasprintf(&path, "%s/%s", o->module_dir, b->file);
		e = NULL;
		if (stat(path, &st) != 0)
			xasprintf(&e, "%s: module %s: file %s: %s in the module "
			    "directory %s", b->file_where, b->id, b->file,
			    errno == ENOENT ? "no such file" : strerror(errno),
			    o->module_dir);
		else if (!S_ISREG(st.st_mode))
			xasprintf(&e, "%s: module %s: file %s: not a regular "
			    "file", b->file_where, b->id, path);
		free(path);
		if (e != NULL) {
			errors_add(errors, nerrors, e);
			n++;
		}
	}
	return n;
}

/*
 * Reads the file of cur again into *out, with cur's command line applied
 * on top as at start-up (SIGHUP).  Returns 1 when the file was read, 0
 * when the default file is absent (the defaults and the flags, as at
 * start-up), or -1 with every error in *errors (*out is then empty).
 */
int
config_reread(const struct options *cur, struct options *out, char ***errors,
    size_t *nerrors)
{
	char	*cause = NULL, *worker = NULL;
	int	 r;

	options_defaults(out);
	if ((r = config_load(out, config_path(cur), cur->config_file != NULL,
	    errors, nerrors)) == -1) {
		options_free(out);
		return -1;
	}
	if (options_parse(out, cur->argc, cur->argv, &worker, &cause) != 0) {
		/* Valid at start-up; a user or group may be gone since. */
		errors_add(errors, nerrors, cause != NULL ? cause :
		    xstrdup("the command line changed meaning"));
		options_free(out);
		return -1;
	}
	out->argc = cur->argc;
	out->argv = cur->argv;
	if (config_check_blocks(out, errors, nerrors) > 0) {
		options_free(out);
		return -1;
	}
	return r;
}

/*
 * Called after a first options_parse() of argv into o: reads the file it
 * names (--config) or the default one, then applies argv again on top, so
 * that flags override the file.  Returns 0, or -1 after printing every
 * error to stderr.
 */
int
config_setup(struct options *o, int argc, char **argv)
{
	struct options	 fo;
	const char	*path = config_path(o);
	char		**errors, *cause = NULL, *worker = NULL;
	size_t		 nerrors, i;
	int		 r;

	o->argc = argc;
	o->argv = argv;
	if (o->no_config)
		return 0;
	options_defaults(&fo);
	r = config_load(&fo, path, o->config_file != NULL, &errors, &nerrors);
	if (r == 1 && options_parse(&fo, argc, argv, &worker, &cause) != 0) {
		/* Parsed once already: cannot happen, but say so if it does. */
		fprintf(stderr, "%s: %s\n", HOST_NAME, cause != NULL ? cause :
		    "command line changed meaning after the configuration");
		free(cause);
		options_free(&fo);
		return -1;
	}
	if (r == 1 && config_check_blocks(&fo, &errors, &nerrors) > 0)
		r = -1;
	if (r == -1) {
		for (i = 0; i < nerrors; i++)
			fprintf(stderr, "%s\n", errors[i]);
		fprintf(stderr, "%s: %zu error%s in %s; nothing started\n",
		    HOST_NAME, nerrors, nerrors == 1 ? "" : "s", path);
		config_free_errors(errors, nerrors);
		return -1;
	}
	if (r == 0) {
		options_free(&fo);
		return 0;
	}
	options_free(o);
	*o = fo;
	o->argc = argc;
	o->argv = argv;
	if (o->check_mode)
		printf("ok   config %s\n", path);
	return 0;
}
