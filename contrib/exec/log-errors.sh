#!/bin/sh
# log-errors.sh - errors in a log file, for the exec module of
# scope-plugin-host (see scope-plugin-exec(8)).
#
# Counts the lines of a syslog-format file that match a pattern, among its
# last LINES lines, and shows on the host node:
#   - a metric "Log errors" (the count),
#   - a table "Log errors by program": per program, the count and the
#     latest matching message.
#
# Parameters (the module passes every param as SCOPE_PARAM_<NAME>):
#   log      the file (default /var/log/syslog)
#   pattern  an extended regular expression, case-insensitive
#            (default: error|fail|fatal|panic)
#   lines    how many of the last lines to look at (default 5000)
#
# module logerrors {
#     file exec.so
#     interval 10000
#     param command /usr/share/doc/scope-plugin-host/examples/log-errors.sh
#     param log /var/log/syslog
# }
set -eu

log=${SCOPE_PARAM_LOG:-/var/log/syslog}
pattern=${SCOPE_PARAM_PATTERN:-'error|fail|fatal|panic'}
lines=${SCOPE_PARAM_LINES:-5000}

if [ ! -r "$log" ]; then
	echo "cannot read $log" >&2
	exit 1
fi

tail -n "$lines" "$log" | awk -v pat="$pattern" '
BEGIN {
	lpat = tolower(pat)	# case-insensitive in any awk
}
tolower($0) ~ lpat {
	total++
	# "Mar  1 10:00:02 host prog[123]: message" or RFC 3339 timestamps.
	tok = ($2 ~ /^[0-9]/ && $1 !~ /^[0-9][0-9][0-9][0-9]-/) ? $5 : $3
	prog = tok
	sub(/\[[0-9]+\]:?$/, "", prog)
	sub(/:$/, "", prog)
	gsub(/[\\"]/, "", prog)
	if (prog == "" || prog ~ /___/ || length(prog) > 64)
		prog = "unknown"
	msg = substr($0, index($0, " " tok " ") + length(tok) + 2)
	gsub(/[\\"]/, "", msg)
	gsub(/[^[:print:]\t]/, "?", msg)
	if (length(msg) > 60)
		msg = substr(msg, 1, 57) "..."
	count[prog]++
	last[prog] = msg
}
END {
	printf "metric host errors %d label=\"Log errors\" format=integer priority=3\n", total
	print "table by_program \"Log errors by program\" Program Errors \"Latest error\""
	n = 0
	for (p in count) {
		if (++n > 20)
			break
		printf "row host by_program \"%s\" %d \"%s\"\n", p, count[p], last[p]
	}
}'
