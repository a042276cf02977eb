/*
 * utf8.h - the one strict UTF-8 check, shared by the SDK (labels and
 * strings a module reports) and the host (a module's descriptor).
 * Inline: the SDK checks every string a module reports, most of them a
 * few bytes long.  Private: not installed.
 */
#ifndef SPH_UTF8_H
#define SPH_UTF8_H

/*
 * 1 if the NUL-terminated s is strict UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF), else 0.
 */
static inline int
sph_utf8_valid(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned		 c, min;
	int			 more;

	while (*p != '\0') {
		c = *p++;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1; c &= 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2; c &= 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3; c &= 0x07; min = 0x10000;
		} else
			return 0;
		/* A NUL here fails the test: never reads past the string. */
		while (more-- > 0) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (*p++ & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
	}
	return 1;
}

#endif
