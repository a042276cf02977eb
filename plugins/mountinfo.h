/*
 * mountinfo.h - reading /proc/PID/mountinfo, shared by the bundled modules
 * that walk mounts (static, so each module stays self-contained).
 */
#ifndef PLUGINS_MOUNTINFO_H
#define PLUGINS_MOUNTINFO_H

/*
 * Decodes mountinfo's octal escapes in place: the kernel writes space,
 * tab, newline and backslash in paths as \ooo (\040 for a space).
 */
static inline void
mountinfo_unescape(char *s)
{
	char	*w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 3;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

#endif
