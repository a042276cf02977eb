#!/bin/sh
# clock-offset.sh - the system clock's offset from NTP time, from chronyd,
# for the exec module of scope-plugin-host (see scope-plugin-exec(8)):
# a metric "Clock offset" in milliseconds and the reference source and
# stratum as host metadata.
#
# module clock {
#     file exec.so
#     label Clock
#     interval 10000
#     param command /usr/share/doc/scope-plugin-host/examples/clock-offset.sh
# }
set -eu

# chronyc -c tracking: CSV; field 2 the reference name, 3 its stratum,
# 5 the system time's offset from NTP time in seconds, as chronyc reports it.
out=$(chronyc -c tracking) || { echo "chronyc tracking failed" >&2; exit 1; }
echo "$out" | awk -F, '{
	printf "metric host clock_offset_ms %.3f label=\"Clock offset (ms)\" priority=4\n", $5 * 1000
	printf "info host ntp_source \"%s (stratum %d)\" label=\"NTP source\"\n", $2, $3
}'
