/*
 * fuzz-containers.c - libFuzzer target for the containers module's
 * parsers of cgroup names and files (plugins/containers.c, included so
 * that its static functions can be reached).
 *
 * The input is one cgroup name or file content; every parser sees it.
 * Invariants: no crash, no read past the input; a container id is 64
 * lower-case hex digits, a pod uid 8-4-4-4-12 of them; a pressure is a
 * percentage; cores are finite and not negative; hierarchy names are
 * NUL-terminated, without '/'; the people-formatted values fit and are
 * NUL-terminated.
 */
#include "../../plugins/containers.c"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_hex(const char *s, size_t n)
{
	if (strlen(s) != n || !is_hex(s, n))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*buf, id[ID_LEN + 1], uid[UID_LEN + 1];
	char		 names[H_MAX][256], out[128];
	uint64_t	 a, b;
	double		 x;
	int		 c, h;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	for (c = C_NONE; c <= C_POD; c++) {
		if (container_name(buf, (enum ctx)c, id))
			check_hex(id, ID_LEN);
		if (pod_name(buf, (enum ctx)c, uid)) {
			if (strlen(uid) != UID_LEN || uid[8] != '-' ||
			    uid[13] != '-' || uid[18] != '-' || uid[23] != '-')
				abort();
		}
		(void)dir_ctx(buf, (enum ctx)c);
	}
	if (parse_psi(buf, &x) == 0 && !(x >= 0 && x <= 100))
		abort();
	if (parse_cpu_max(buf, &x) == 0) {
		if (!(x >= 0) || x != x)
			abort();
		fmt_num(out, sizeof out, x, 2);
	}
	(void)key_u64(buf, "oom_kill", &a);
	(void)parse_u64(buf, &a);

	/* The destructive parsers, each on its own copy. */
	memcpy(buf, data, size);
	if (parse_io(1, buf, &a, &b) == 0) {
		fmt_bytes(out, sizeof out, (double)a, "/s");
		fmt_bytes(out, sizeof out, (double)b, "/s");
		fmt_duration(out, sizeof out, a);
		if (strlen(out) >= sizeof out)
			abort();
	}
	memcpy(buf, data, size);
	(void)parse_io(0, buf, &a, &b);
	memcpy(buf, data, size);
	memset(names, 0, sizeof names);
	parse_mountinfo(buf, "/sys/fs/cgroup", names);
	for (h = 0; h < H_MAX; h++)
		if (memchr(names[h], '\0', sizeof names[h]) == NULL ||
		    strchr(names[h], '/') != NULL)
			abort();
	free(buf);
	return 0;
}
