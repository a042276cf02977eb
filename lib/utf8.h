/*
 * utf8.h - the one strict UTF-8 check, shared by the SDK (labels and
 * strings a module reports) and the host (a module's descriptor).
 * Private: not installed.
 */
#ifndef SPH_UTF8_H
#define SPH_UTF8_H

#include <stddef.h>

/*
 * 1 if s[0..len) is strict UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF), else 0.
 */
int	sph_utf8_valid(const unsigned char *s, size_t len);

#endif
