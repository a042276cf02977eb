#!/bin/sh
# nocode-shots.sh [BUILD_DIR]: retake the README's pictures of the exec and
# prometheus modules in the real Scope UI, each instance configured as the
# README shows it:
#   docs/images/exec-log-errors.png         contrib/exec/log-errors.sh on a
#                                           sample log (instance "logerrors")
#   docs/images/prometheus-node-exporter.png contrib/prometheus/node-exporter.conf
#                                           against prometheus-node-exporter,
#                                           started here on a free port
# Needs the Scope harness ($SCOPE_HARNESS, else ../shared/scope beside the
# tree), chromium and prometheus-node-exporter.  PORT: the Scope app's port
# (default 14990).  BUILD_DIR: a configured and built tree (default
# _build/plain).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build/plain}" && pwd)
harness=${SCOPE_HARNESS:-$top/../shared/scope}
[ -x "$harness/scope-app" ] || { echo "nocode-shots: no Scope harness at $harness" >&2; exit 1; }
exporter=$(command -v prometheus-node-exporter || command -v node_exporter) ||
	{ echo "nocode-shots: prometheus-node-exporter not installed" >&2; exit 1; }
export PORT=${PORT:-14990}

t=$(mktemp -d)
hpid= epid=
cleanup() {
	STATE=$t/app "$harness/scope-app" stop >/dev/null 2>&1 || :
	[ -z "$hpid" ] || kill "$hpid" 2>/dev/null || :
	[ -z "$epid" ] || kill "$epid" 2>/dev/null || :
	wait 2>/dev/null || :
	rm -rf "$t"
}
trap cleanup EXIT INT TERM

mkdir "$t/mods"
cp "$build/plugins/.libs/exec.so" "$build/plugins/.libs/prometheus.so" "$t/mods/"
node="$(hostname);<host>"

# shoot NAME CONF: serve the instances of CONF under Scope, wait until
# WANT (a metric label) is in the host's details panel, take the picture.
shoot() {
	name=$1 conf=$2 want=$3
	rm -rf "$t/sock" "$t/app"
	"$build/scope-plugin-host" -f --config "$conf" --module-dir "$t/mods" \
	    --socket-dir "$t/sock" >"$t/$name.log" 2>&1 &
	hpid=$!
	STATE=$t/app "$harness/scope-app" start "$t/sock" >/dev/null
	i=0
	until STATE=$t/app "$harness/scope-app" details hosts "$node" 2>/dev/null |
	    grep -qF "\"$want\""; do
		i=$((i + 1))
		if [ "$i" -gt 60 ]; then
			echo "nocode-shots: no \"$want\" in the panel after 60 s" >&2
			tail -5 "$t/$name.log" >&2
			exit 1
		fi
		sleep 1
	done
	sleep 3	# a few samples for the sparklines
	STATE=$t/app "$harness/scope-app" status
	STATE=$t/app WINDOW=1400x1000 "$harness/scope-app" shot \
	    "$top/docs/images/$name.png" hosts "$node"
	echo "screenshot $top/docs/images/$name.png"
	STATE=$t/app "$harness/scope-app" stop >/dev/null
	kill "$hpid"
	wait "$hpid" || :
	hpid=
}

# The exec example on a sample syslog.
cat >"$t/syslog" <<'EOF'
Dec  1 10:00:01 web1 sshd[1234]: error: Failed password for root from 10.0.0.7 port 2222 ssh2
Dec  1 10:00:02 web1 sshd[1234]: error: Failed password for admin from 10.0.0.7 port 2223 ssh2
Dec  1 10:00:03 web1 kernel: [ 12.3] EXT4-fs error (device sda1): reading directory lblock 0
Dec  1 10:00:04 web1 systemd[1]: Started Daily apt download activities.
2026-12-01T10:00:05.123456+00:00 web1 nginx[55]: connect() failed (111: Connection refused) while connecting to upstream
2026-12-01T10:00:06.000000+00:00 web1 dockerd[812]: level=error msg="Handler for GET /containers/json returned error"
EOF
cat >"$t/exec.conf" <<EOF
module logerrors {
    file exec.so
    label Log errors
    interval 1000
    param command $top/contrib/exec/log-errors.sh
    param log $t/syslog
}
EOF
shoot exec-log-errors "$t/exec.conf" "Log errors"

# The node_exporter mapping as shipped, on a free port.
eport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$exporter" --web.listen-address="127.0.0.1:$eport" >"$t/exporter.log" 2>&1 &
epid=$!
sed -e "s|http://127.0.0.1:9100/metrics|http://127.0.0.1:$eport/metrics|" \
    -e 's|^\( *interval\) .*|\1 1000|' \
    "$top/contrib/prometheus/node-exporter.conf" >"$t/node.conf"
shoot prometheus-node-exporter "$t/node.conf" "Processes started /s"
