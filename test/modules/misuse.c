/*
 * misuse.c - a fixture module whose collect() misuses the report SDK in
 * the way selected by its "case" parameter; modrun must fail on it.
 */
#include <math.h>
#include <string.h>

#include "scope-plugin.h"

static struct sph_host *misuse_host;

static int
misuse_init(struct sph_host *host, void **state)
{
	misuse_host = host;
	*state = NULL;
	return 0;
}

static int
misuse_collect(void *state, yajl_gen gen)
{
	struct sph_report	*r;
	const char		*c;

	(void)state;
	if ((c = sph_param(misuse_host, "case")) == NULL)
		c = "none";
	if (strcmp(c, "plugins") == 0) {
		/* Bypass the SDK: a raw "Plugins" member of its own. */
		yajl_gen_string(gen, (const unsigned char *)"Plugins", 7);
		yajl_gen_array_open(gen);
		yajl_gen_array_close(gen);
		return 0;
	}
	if (strcmp(c, "unbalanced") == 0) {
		yajl_gen_string(gen, (const unsigned char *)"Host", 4);
		yajl_gen_map_open(gen);
		return 0;
	}
	if ((r = sph_report_begin(misuse_host, gen)) == NULL)
		return -1;
	sph_topology(r, "Host");
	sph_node_host(r);
	if (strcmp(c, "nan") == 0)
		sph_metric(r, "m", NAN, 0, 1);
	else if (strcmp(c, "topology") == 0)
		sph_topology(r, "host");
	else if (strcmp(c, "table") == 0) {
		sph_table_template(r, "t", "T", "t-", SPH_TABLE_MULTICOLUMN,
		    (const struct sph_table_column[]){ { "c", "C",
		    SPH_DATATYPE_TEXT } }, 1);
		sph_latest(r, "t-row", "v");
	} else
		sph_latest(r, "ok", "v");
	return sph_report_end(r);
}

SPH_MODULE(
	.id = "misuse",
	.label = "Misuse",
	.description = "Fixture: breaks the report on request",
	.init = misuse_init,
	.collect = misuse_collect,
);
