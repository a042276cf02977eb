/*
 * sensors.c - hardware temperatures and fan speeds, on the Host node
 * (Scope shows none).
 *
 * Reads the kernel's hwmon devices, <sys_root>/class/hwmon/hwmon<N>/ (or,
 * for old drivers, their device/ subdirectory): the chip's "name" and
 * every temp<N>_input (millidegrees Celsius) with its temp<N>_label,
 * temp<N>_max and temp<N>_crit, and every fan<N>_input (RPM) with its
 * fan<N>_label.  Reports:
 *   - table "Sensors": Sensor ("<chip> <label>", or "<chip> temp<N>"
 *     without a label), Reading ("45.0 °C", "1200 RPM"), High and
 *     Critical (the chip's thresholds, when it has them);
 *   - metric sensors_hottest "Hottest sensor (°C)": the highest
 *     temperature, plotted 0 .. its critical threshold (or 100 °C).
 * A sensor that cannot be read (a device asleep, a driver error) is
 * left out of that report.  A machine without hwmon (most VMs) gets
 * nothing, and one log line.  At most MAX_CHIPS chips and MAX_INPUTS
 * inputs of each kind per chip.  Parameters: sys_root (default /sys).
 */
#include <dirent.h>
#include <stdlib.h>

#include "common.h"

#define MAX_CHIPS	64
#define MAX_INPUTS	32
#define PREFIX		"sensor-"

struct sensors {
	struct sph_host	*host;
	int		 told;		/* logged that there is no hwmon */
};

/* A number in <dir>/<file>, or -1 (errno set). */
static int
read_long(struct sph_host *host, const char *dir, const char *file,
    long *v)
{
	char	 rel[512], buf[64], *end;

	if (snprintf(rel, sizeof rel, "%s/%s", dir, file) >= (int)sizeof rel) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sph_root_read(host, "sys_root", "/sys", rel, buf, sizeof buf) == -1)
		return -1;
	errno = 0;
	*v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0')) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* A one-line text in <dir>/<file> (newline dropped), or -1. */
static int
read_text(struct sph_host *host, const char *dir, const char *file,
    char *out, size_t len)
{
	char		 rel[512];
	unsigned char	*p;

	if (snprintf(rel, sizeof rel, "%s/%s", dir, file) >= (int)sizeof rel ||
	    sph_root_read(host, "sys_root", "/sys", rel, out, len) == -1)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	/* Labels are bytes from drivers: keep printable ASCII. */
	for (p = (unsigned char *)out; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return out[0] != '\0' ? 0 : -1;
}

/* "12.5 °C" from millidegrees. */
static void
fmt_temp(char *buf, size_t len, long milli)
{
	snprintf(buf, len, "%.1f \xc2\xb0" "C", (double)milli / 1000);
}

struct hot {
	long	 temp;		/* millidegrees */
	long	 crit;
	int	 any;		/* a temperature */
	int	 rows;		/* temperatures and fans */
};

/*
 * Input <kind><i> of the chip in dir (kind "temp", i 1: temp1_input):
 * its value into *v, its row id into row and its name cell, "<chip>
 * <label>" (or "<chip> temp1" without a label), into the table.  -1 when
 * the input is absent or unreadable.
 */
static int
sensor_row(struct sph_host *host, struct sph_report *r, const char *dir,
    const char *chipname, const char *hwmon, const char *kind, int i,
    long *v, char *row, size_t rowlen)
{
	char	file[64], label[128];

	snprintf(file, sizeof file, "%s%d_input", kind, i);
	if (read_long(host, dir, file, v) != 0)
		return -1;
	snprintf(row, rowlen, "%s-%s%d", hwmon, kind, i);
	snprintf(file, sizeof file, "%s%d_label", kind, i);
	if (read_text(host, dir, file, label, sizeof label) != 0)
		snprintf(label, sizeof label, "%s%d", kind, i);
	sph_table_cellf(r, PREFIX, row, SPH_TABLE_NAME_COLUMN, "%s %s",
	    chipname, label);
	return 0;
}

/* Threshold temp<i>_<what> into column col; its millidegrees or 0. */
static long
threshold(struct sph_host *host, struct sph_report *r, const char *dir,
    int i, const char *what, const char *row, const char *col)
{
	char	file[64], cell[32];
	long	t;

	snprintf(file, sizeof file, "temp%d_%s", i, what);
	if (read_long(host, dir, file, &t) != 0 || t <= 0)
		return 0;
	fmt_temp(cell, sizeof cell, t);
	sph_table_cell(r, PREFIX, row, col, cell);
	return t;
}

/* The temperatures and fans of one chip directory into the table. */
static void
chip(struct sph_host *host, struct sph_report *r, const char *dir,
    const char *hwmon, struct hot *hot)
{
	char	 name[64], row[96], cell[32];
	long	 v, crit;
	int	 i;

	if (read_text(host, dir, "name", name, sizeof name) != 0)
		snprintf(name, sizeof name, "%s", hwmon);
	for (i = 1; i <= MAX_INPUTS; i++) {
		if (sensor_row(host, r, dir, name, hwmon, "temp", i, &v, row,
		    sizeof row) != 0)
			continue;
		fmt_temp(cell, sizeof cell, v);
		sph_table_cell(r, PREFIX, row, "value", cell);
		threshold(host, r, dir, i, "max", row, "high");
		crit = threshold(host, r, dir, i, "crit", row, "crit");
		hot->rows++;
		if (!hot->any || v > hot->temp) {
			hot->temp = v;
			hot->crit = crit;
			hot->any = 1;
		}
	}
	for (i = 1; i <= MAX_INPUTS; i++) {
		if (sensor_row(host, r, dir, name, hwmon, "fan", i, &v, row,
		    sizeof row) != 0)
			continue;
		sph_table_cellf(r, PREFIX, row, "value", "%ld RPM", v);
		hot->rows++;
	}
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
sensors_init(struct sph_host *host, void **state)
{
	struct sensors	*s;

	if ((s = state_alloc(host, sizeof *s)) == NULL)
		return -1;
	s->host = host;
	*state = s;
	return 0;
}

static int
sensors_collect(void *state, yajl_gen gen)
{
	static const struct sph_table_column cols[] = {
		{ "value", "Reading", SPH_DATATYPE_TEXT },
		{ "high", "High", SPH_DATATYPE_TEXT },
		{ "crit", "Critical", SPH_DATATYPE_TEXT },
	};
	struct sensors		*s = state;
	struct sph_report	*r;
	struct hot		 hot = { 0, 0, 0, 0 };
	struct dirent		*de;
	DIR			*d;
	char			 path[4096], dir[512], *names[MAX_CHIPS];
	size_t			 n = 0, i;
	long			 v;

	if (sph_root_path(s->host, "sys_root", "/sys", "class/hwmon", path,
	    sizeof path) != 0 || (d = opendir(path)) == NULL) {
		if (errno != ENOENT) {
			sph_log(s->host, SPH_LOG_ERR, "%s: %s", path,
			    strerror(errno));
			return -1;
		}
		if (!s->told)
			sph_log(s->host, SPH_LOG_INFO, "%s: no hwmon devices: "
			    "nothing to show", path);
		s->told = 1;
		d = NULL;
	}
	while (d != NULL && n < MAX_CHIPS && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "hwmon", 5) != 0 ||
		    strlen(de->d_name) > 64)
			continue;
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	if (d != NULL)
		closedir(d);
	qsort(names, n, sizeof *names, name_cmp);

	if ((r = sph_report_begin(s->host, gen)) == NULL) {
		for (i = 0; i < n; i++)
			free(names[i]);
		return -1;
	}
	sph_topology(r, "Host");
	sph_node_host(r);
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof dir, "class/hwmon/%s", names[i]);
		chip(s->host, r, dir, names[i], &hot);
		/* Old drivers keep their files one level down. */
		snprintf(dir, sizeof dir, "class/hwmon/%s/device", names[i]);
		if (read_long(s->host, dir, "temp1_input", &v) == 0 ||
		    read_long(s->host, dir, "fan1_input", &v) == 0)
			chip(s->host, r, dir, names[i], &hot);
		free(names[i]);
	}
	if (hot.rows > 0)
		sph_table_template_named(r, "sensors", "Sensors", PREFIX,
		    "Sensor", cols, 3);
	if (hot.any) {
		sph_metric_template(r, "sensors_hottest",
		    "Hottest sensor (\xc2\xb0" "C)", SPH_FORMAT_NONE, 7.4);
		sph_metric(r, "sensors_hottest", (double)hot.temp / 1000, 0,
		    (double)(hot.crit > hot.temp ? hot.crit :
		    (hot.temp > 100000 ? hot.temp : 100000)) / 1000);
	}
	return sph_report_end(r);
}

static void
sensors_fini(void *state)
{
	free(state);
}

SPH_MODULE(
	.id = "sensors",
	.label = "Sensors",
	.description = "Adds hardware temperatures and fan speeds to hosts",
	.init = sensors_init,
	.collect = sensors_collect,
	.fini = sensors_fini,
);
