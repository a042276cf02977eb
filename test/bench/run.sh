#!/usr/bin/env bash
# run.sh - scope-plugin-host benchmark suite (see docs/BENCHMARKS.md).
#
# Runs every scenario against four servers and prints one table:
#   ours    scope-plugin-host serving the bench modules
#   floor   test/bench/floor: fixed precomputed response (the lower bound)
#   go      test/bench/peer.go: net/http + json.Marshal per request
#   python  test/bench/peer.py: http.server + json.dumps per request
# All on unix sockets in a private temporary directory; every process
# started here is stopped on exit.  Run from the top build directory
# (`make bench` does), or pass --build.
set -u

prog=${0##*/}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
build=.
host=
host_args=${BENCH_HOST_ARGS:-}
runs=3
duration=1.5
warmup=0.5
idle=60
modules=100
poll=60
collects=200
procs=300
raw=
columns="ours floor go python"
scenarios="load many poll collect"

usage() {
	cat <<EOF
usage: $prog [options]
  --build DIR       top build directory (default: .)
  --srcdir DIR      top source directory (default: from this script's path)
  --host PATH       daemon binary (default: BUILD/scope-plugin-host)
  --host-args ARGS  extra daemon arguments (or \$BENCH_HOST_ARGS)
  --runs N          runs per measurement, median reported (default 3)
  --duration S      seconds measured per load run (default 1.5)
  --warmup S        warmup seconds before each load run (default 0.5)
  --idle S          idle CPU measurement in seconds (default 60)
  --modules N       modules/processes in the startup scenario (default 100)
  --poll S          seconds of Scope's polling pattern (default 60)
  --collects N      collects per module in the collect benchmark (default 200)
  --procs N         during poll and collect, top the machine up to N
                    processes with sleeping ones (default 300; 0: as is)
  --columns LIST    subset of "ours floor go python" (space separated)
  --scenarios LIST  subset of "load many poll collect" (many includes idle)
  --raw FILE        also write every raw measurement to FILE
BENCH_QUICK=1 makes it about a minute: --runs 1 --duration 1 --warmup 0.3
--idle 10 --modules 20 --poll 20 --collects 50 (later options still
override).
EOF
	exit 2
}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	runs=1 duration=1 warmup=0.3 idle=10 modules=20 poll=20 collects=50
fi
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--srcdir) srcdir=$2; shift ;;
	--host) host=$2; shift ;;
	--host-args) host_args=$2; shift ;;
	--runs) runs=$2; shift ;;
	--duration) duration=$2; shift ;;
	--warmup) warmup=$2; shift ;;
	--idle) idle=$2; shift ;;
	--modules) modules=$2; shift ;;
	--columns) columns=$2; shift ;;
	--scenarios) scenarios=$2; shift ;;
	--poll) poll=$2; shift ;;
	--collects) collects=$2; shift ;;
	--procs) procs=$2; shift ;;
	--raw) raw=$2; shift ;;
	-h|--help) usage ;;
	*) echo "$prog: unknown option $1" >&2; usage ;;
	esac
	[ $# -gt 0 ] || usage
	shift
done
case $runs$modules$poll$collects$procs in *[!0-9]*) usage ;; esac
[ "$runs" -ge 1 ] && [ "$modules" -ge 1 ] && [ "$collects" -ge 1 ] &&
    [ "$procs" -le 5000 ] || usage
for scn in $scenarios; do
	case $scn in load|many|poll|collect) ;; *) usage ;; esac
done

build=$(cd "$build" && pwd) || exit 1
srcdir=$(cd "$srcdir" && pwd) || exit 1
[ -n "$host" ] || host=$build/scope-plugin-host
bench=$build/test/bench
loadgen=${BENCH_LOADGEN:-$bench/loadgen}
floor=${BENCH_FLOOR:-$bench/floor}
modcat=${BENCH_MODCAT:-$bench/modcat}
moddir=${BENCH_MODDIR:-$bench/.libs}
for f in "$loadgen" "$floor" "$modcat"; do
	if [ ! -x "$f" ]; then
		echo "$prog: $f missing: build it first (make bench)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sph-bench.XXXXXX") || exit 1
PIDS=()
declare -A R NOTE

log() { printf '%s: %s\n' "$prog" "$*" >&2; }

# Stop the given pids: TERM, up to 3 s grace, then KILL.  Bounded.
stop_pids() {
	local p i alive
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null
	for i in $(seq 30); do
		alive=0
		for p in "$@"; do
			kill -0 "$p" 2>/dev/null && { alive=1; break; }
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null
	for p in "$@"; do
		wait "$p" 2>/dev/null
	done
	return 0
}

# Children of a pid, from /proc (no procps needed).
children() {
	local want=$1 f stat rest
	for f in /proc/[0-9]*/stat; do
		{ read -r stat < "$f"; } 2>/dev/null || continue
		rest=${stat##*) }
		set -- $rest	# state ppid ...
		if [ "${2:-}" = "$want" ]; then
			f=${f#/proc/}
			echo "${f%/stat}"
		fi
	done
}

cleanup() {
	local p kids=()
	# The daemon's workers first, in case the daemon does not stop them.
	for p in ${DAEMONS:-}; do
		kids+=($(children "$p"))
	done
	stop_pids "${PIDS[@]}" "${kids[@]}"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# spawn NAME CMD...: start in the background, log to $tmp/log/NAME.
spawn() {
	local name=$1
	shift
	"$@" > "$tmp/log/$name" 2>&1 &
	PIDS+=($!)
	SPAWNED=$!
}
mkdir -p "$tmp/log"

forget() {	# drop pids from PIDS once stopped
	local p q keep=()
	for p in "${PIDS[@]}"; do
		for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
		keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# result LINE KEY: value of KEY=... in a RESULT line.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

has_col() { case " $columns " in *" $1 "*) return 0 ;; esac; return 1; }
has_scn() { case " $scenarios " in *" $1 "*) return 0 ;; esac; return 1; }

raw_log() { printf '%s\n' "$*" >> "$tmp/raw"; }

# ---- what can run ----------------------------------------------------------
ours=0
if has_col ours; then
	if [ -x "$host" ]; then
		ours=1
	else
		NOTE[ours]="daemon not built ($host): ours column pending"
	fi
fi
if has_col go; then
	if command -v go > /dev/null 2>&1; then
		log "building peer.go"
		if ! (cd "$tmp" && go build -o "$tmp/peer-go" "$srcdir/test/bench/peer.go") \
		    > "$tmp/log/go-build" 2>&1; then
			NOTE[go]="SKIP go: go build failed: $(tail -1 "$tmp/log/go-build")"
		fi
	else
		NOTE[go]="SKIP go: no go toolchain (apt-get install golang-go)"
	fi
fi
if has_col python && ! command -v python3 > /dev/null 2>&1; then
	NOTE[python]="SKIP python: python3 not found"
fi
can() { has_col "$1" && [ -z "${NOTE[$1]:-}" ]; }

BENCH_MODS="mod-trivial mod-cached mod-realistic mod-realistic-cached
    mod-trivial-perreq mod-realistic-perreq"
for m in $BENCH_MODS; do
	if [ ! -f "$moddir/$m.so" ]; then
		echo "$prog: $moddir/$m.so missing: build it first (make bench)" >&2
		exit 1
	fi
done
"$modcat" "$moddir/mod-trivial.so" > "$tmp/trivial.json" &&
    "$modcat" "$moddir/mod-realistic.so" > "$tmp/realistic.json" || {
	echo "$prog: modcat failed" >&2
	exit 1
}
# The bundled iowait module, for the load row against the Go peer serving
# the same report (peer.go -shape iowait); the floor serves its body too.
iowait_so=$build/plugins/.libs/iowait.so
if [ ! -f "$iowait_so" ]; then
	NOTE[iowait]="iowait row pending: $iowait_so not built"
	iowait_so=
elif ! "$modcat" "$iowait_so" > "$tmp/iowait.json"; then
	NOTE[iowait]="iowait row pending: modcat $iowait_so failed"
	iowait_so=
fi

wait_ready() {	# TIMEOUT SOCKET...
	local t=$1
	shift
	"$loadgen" --wait --timeout "$t" "$@" > /dev/null
}

start_daemon() {	# NAME MODDIR SOCKDIR
	spawn "$1" "$host" --foreground --module-dir "$2" --socket-dir "$3" \
	    $host_args
	DAEMONS="${DAEMONS:-} $SPAWNED"
}

stop_daemon() {
	local kids
	kids=$(children "$1")
	stop_pids "$1"
	# Workers should be gone with the supervisor; make sure.
	[ -z "$kids" ] || stop_pids $kids
	forget "$1"
}

# ---- load scenarios ----------------------------------------------------------
# id, shape, mode, conns, label.  mode: call (a collect per request, which
# the host coalesces across concurrent requests), cached (interval mode) or
# perreq (ours only: the module sets SPH_MODULE_PER_REQUEST, one collect
# per request; measured with the call row of the same id without its
# trailing p, runs alternating between the two: an A/B in the same
# minutes, which is what shows whether coalescing costs 1-conn latency).
SCENARIOS="
t1	trivial	call	1	trivial, 1 conn
t1p	trivial	perreq	1	trivial per-request, 1 conn
t16	trivial	call	16	trivial, 16 conns
r1	realistic	call	1	realistic, 1 conn
r1p	realistic	perreq	1	realistic per-request, 1 conn
r16	realistic	call	16	realistic, 16 conns
tc16	trivial	cached	16	trivial cached, 16 conns
rc16	realistic	cached	16	realistic cached, 16 conns
i16	iowait	call	16	iowait, 16 conns
"
has_row() { printf '%s\n' "$SCENARIOS" | cut -f1 | grep -qx "$1"; }

modid() {	# shape mode -> module (plugin) id
	case $1.$2 in
	trivial.call) echo bench-trivial ;;
	trivial.cached) echo bench-cached ;;
	trivial.perreq) echo bench-trivial-perreq ;;
	realistic.call) echo bench-realistic ;;
	realistic.cached) echo bench-realistic-cached ;;
	realistic.perreq) echo bench-realistic-perreq ;;
	iowait.call) echo iowait ;;
	esac
}

# serves COL SHAPE MODE: whether COL has a server for that row.  The floor
# serves per-call bodies only (its cached rows repeat them); per-request is
# a host setting (the peers always work per request); Python has no iowait.
serves() {
	case $1.$2.$3 in
	*.iowait.*) [ -n "$iowait_so" ] || return 1 ;;
	esac
	case $1.$2.$3 in
	ours.*|floor.*.call) return 0 ;;
	go.*.perreq|python.*.perreq|python.iowait.*|floor.*) return 1 ;;
	esac
	return 0
}

# load_servers COL: "shape mode" of every server COL runs, once each.
load_servers() {
	local key shape mode conns label
	while IFS=$'\t' read -r key shape mode conns label; do
		[ -n "$key" ] && serves "$1" "$shape" "$mode" && echo "$shape $mode"
	done <<< "$SCENARIOS" | sort -u
}

sock_for() {	# col shape mode
	local id
	id=$(modid "$2" "$3")
	case $1 in
	ours) echo "$tmp/ours-sock/$id/$id.sock" ;;
	floor) echo "$tmp/floor/$2.sock" ;;
	*) echo "$tmp/$1/$id.sock" ;;
	esac
}

load_pids=()
start_load_servers() {
	local shape mode s m
	if [ $ours = 1 ]; then
		mkdir -p "$tmp/ours-mods" "$tmp/ours-sock"
		for m in $BENCH_MODS; do
			cp "$moddir/$m.so" "$tmp/ours-mods/" || exit 1
		done
		if [ -n "$iowait_so" ]; then
			cp "$iowait_so" "$tmp/ours-mods/" || exit 1
		fi
		start_daemon ours-load "$tmp/ours-mods" "$tmp/ours-sock"
		load_pids+=($SPAWNED)
	fi
	for col in floor go python; do
		can $col || continue
		mkdir -p "$tmp/$col"
		while read -r shape mode; do
			s=$(sock_for $col $shape $mode)
			case $col in
			floor)
				set -- "$floor" --socket "$s" --body-file "$tmp/$shape.json" ;;
			go)
				set -- "$tmp/peer-go" -socket "$s" -id "$(modid $shape $mode)" \
				    -shape $shape
				[ $mode = cached ] && set -- "$@" -cached ;;
			python)
				set -- python3 "$srcdir/test/bench/peer.py" --socket "$s" \
				    --id "$(modid $shape $mode)" --shape $shape
				[ $mode = cached ] && set -- "$@" --cached ;;
			esac
			spawn "$col-$shape-$mode" "$@"
			load_pids+=($SPAWNED)
		done < <(load_servers $col)
	done
	for col in $columns; do
		[ $col = ours ] && [ $ours = 0 ] && continue
		can $col || [ $col = ours ] || continue
		s=$(load_servers $col | while read -r shape mode; do
			sock_for $col $shape $mode
		done)
		if ! wait_ready 20 $s; then
			log "$col: sockets not answering after 20 s; column skipped"
			[ $col = ours ] && tail -5 "$tmp/log/ours-load" >&2
			NOTE[$col]="SKIP $col: servers did not come up (see the log above)"
			[ $col = ours ] && ours=0
		fi
	done
}

# measure COL CONNS KEY SOCKET [KEY SOCKET]...: --runs runs of each cell;
# with several cells the runs alternate between them (A, B, A, B, ...), so
# that a busy minute on the machine falls on both sides of the comparison.
measure() {
	local col=$1 conns=$2 i j k out e m
	local -a keys=() socks=()
	local -A v
	shift 2
	while [ $# -ge 2 ]; do
		keys+=("$1") socks+=("$2")
		R[$1.err.$col]=0
		shift 2
	done
	for ((i = 0; i < runs; i++)); do
		for j in "${!keys[@]}"; do
			k=${keys[$j]}
			out=$("$loadgen" --socket "${socks[$j]}" --conns "$conns" \
			    --duration "$duration" --warmup "$warmup" --quiet 2>&1 |
			    grep '^RESULT')
			raw_log "$k $col run=$i $out"
			v[$k.rps]="${v[$k.rps]:-} $(field "$out" rps)"
			v[$k.p50]="${v[$k.p50]:-} $(field "$out" p50_us)"
			v[$k.p99]="${v[$k.p99]:-} $(field "$out" p99_us)"
			e=$(field "$out" errors)
			R[$k.err.$col]=$(( ${R[$k.err.$col]} + ${e:-1} ))
			R[$k.bytes.$col]=$(field "$out" bytes)
		done
	done
	for k in "${keys[@]}"; do
		for m in rps p50 p99; do
			R[$k.$m.$col]=$(printf '%s\n' ${v[$k.$m]} | median)
		done
	done
}

t_start=$(date +%s)
if has_scn load; then
log "load scenarios: $runs x ${duration}s (+${warmup}s warmup) per cell"
start_load_servers
while IFS=$'\t' read -r key shape mode conns label; do
	[ -n "$key" ] || continue
	# A per-request row is measured with its call row, below.
	[ $mode = perreq ] && continue
	for col in $columns; do
		if [ $col = ours ]; then
			[ $ours = 1 ] || continue
		else
			can $col || continue
		fi
		if [ $col = floor ] && [ $mode = cached ]; then
			# The floor always serves a precomputed body: same as per-call.
			for m in rps p50 p99 err bytes; do
				R[$key.$m.floor]=${R[${key/c/}.$m.floor]:-}
			done
			continue
		fi
		serves $col $shape $mode || continue
		set -- $key "$(sock_for $col $shape $mode)"
		if [ $col = ours ] && has_row ${key}p; then
			set -- "$@" ${key}p "$(sock_for ours $shape perreq)"
		fi
		measure $col $conns "$@"
	done
done <<< "$SCENARIOS"
for p in "${load_pids[@]}"; do
	case " ${DAEMONS:-} " in *" $p "*) stop_daemon "$p" ;; esac
done
stop_pids "${load_pids[@]}"
forget "${load_pids[@]}"
fi

# ---- N modules / processes at once ------------------------------------------
# Ours: N distinct modules (compiled from mod-trivial.c with -DBENCH_ID)
# under one daemon.  Peers: N separate plugin processes, one per socket,
# which is what running N plugins costs without a host.
build_many() {
	local cc=${CC:-cc} libdir=$build/.libs
	mkdir -p "$tmp/many-mods"
	# Export only the descriptor, as MODULE_LDFLAGS does for built modules.
	printf '{ global: sph_module_descriptor; local: *; };\n' > "$tmp/module.map"
	log "compiling $modules copies of mod-trivial.c"
	seq 1 "$modules" | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} \
	    $cc -O2 -std=c11 -fPIC -shared -DBENCH_ID='"bench-{}"' ${YAJL_CFLAGS:-} \
	    -I"$srcdir/include" -Wl,--version-script="$tmp/module.map" \
	    -o "$tmp/many-mods/bench-{}.so" \
	    "$srcdir/test/bench/mod-trivial.c" -L"$libdir" -lscope-plugin ${YAJL_LIBS:--lyajl} \
	    2> "$tmp/log/many-cc"
	[ "$(ls "$tmp/many-mods" | wc -l)" -eq "$modules" ]
}

kb_sum() {	# FIELD FILE-SUFFIX pids...: sum of a kB field in /proc
	local fld=$1 file=$2 p total=0 v
	shift 2
	for p in "$@"; do
		v=$(awk -v f="$fld:" '$1 == f { print $2; exit }' "/proc/$p/$file" 2>/dev/null)
		total=$((total + ${v:-0}))
	done
	echo $total
}

cpu_ticks() {	# pids...: utime+stime summed
	local p total=0 stat rest
	for p in "$@"; do
		{ read -r stat < "/proc/$p/stat"; } 2>/dev/null || continue
		rest=${stat##*) }
		set -- $rest
		total=$((total + ${12} + ${13}))
	done
	echo $total
}

# cpu_ns pids...: CPU time in ns summed over every thread, from
# /proc/PID/task/TID/schedstat (the scheduler's exact runtime; utime+stime
# of /proc/PID/stat count in 10 ms ticks, too coarse for a poll costing
# tens of microseconds).  A thread that exits takes its time with it: the
# processes measured here keep their threads.
cpu_ns() {
	local p t v total=0
	for p in "$@"; do
		for t in /proc/"$p"/task/*/schedstat; do
			{ read -r v _ < "$t"; } 2>/dev/null || continue
			total=$((total + v))
		done
	done
	echo $total
}

ctx_switches() {	# pids...: voluntary + involuntary switches, all threads
	local p total=0 v
	for p in "$@"; do
		v=$(cat /proc/"$p"/task/*/status 2>/dev/null |
		    awk '/ctxt_switches/ { s += $2 } END { print s + 0 }')
		total=$((total + ${v:-0}))
	done
	echo $total
}

many_socks() {	# col -> socket list
	local i
	for ((i = 1; i <= modules; i++)); do
		case $1 in
		ours) printf '%s ' "$tmp/many-ours/bench-$i/bench-$i.sock" ;;
		*) printf '%s ' "$tmp/many-$1/bench-$i.sock" ;;
		esac
	done
}

# start_many COL: start the set, wait until every socket answers.
# Sets MANY_PIDS (all processes), MANY_MAIN (supervisor or empty), ready ms.
start_many() {
	local col=$1 i t0 out s
	MANY_PIDS=()
	MANY_MAIN=
	rm -rf "$tmp/many-$col"
	mkdir -p "$tmp/many-$col"
	t0=$(date +%s%N)
	case $col in
	ours)
		start_daemon many-ours "$tmp/many-mods" "$tmp/many-ours"
		MANY_MAIN=$SPAWNED
		;;
	floor)
		for ((i = 1; i <= modules; i++)); do
			spawn many-floor-$i "$floor" --socket "$tmp/many-floor/bench-$i.sock" \
			    --body-file "$tmp/trivial.json"
			MANY_PIDS+=($SPAWNED)
		done
		;;
	go)
		for ((i = 1; i <= modules; i++)); do
			spawn many-go-$i "$tmp/peer-go" -socket "$tmp/many-go/bench-$i.sock" \
			    -id bench-$i
			MANY_PIDS+=($SPAWNED)
		done
		;;
	python)
		for ((i = 1; i <= modules; i++)); do
			spawn many-python-$i python3 "$srcdir/test/bench/peer.py" \
			    --socket "$tmp/many-python/bench-$i.sock" --id bench-$i
			MANY_PIDS+=($SPAWNED)
		done
		;;
	esac
	out=$("$loadgen" --wait --timeout 120 --t0-ns "$t0" $(many_socks $col)) || {
		log "$col: $modules sockets did not all answer within 120 s"
		[ $col = ours ] && tail -5 "$tmp/log/many-ours" >&2
		MANY_READY=
		return 1
	}
	MANY_READY=$(field "$out" ready_ms)
	if [ -n "$MANY_MAIN" ]; then
		MANY_PIDS=($MANY_MAIN $(children "$MANY_MAIN"))
	fi
	sleep 0.5	# let startup garbage settle before reading memory
	return 0
}

stop_many() {
	if [ -n "$MANY_MAIN" ]; then
		stop_daemon "$MANY_MAIN"
		stop_pids "${MANY_PIDS[@]}"
	else
		stop_pids "${MANY_PIDS[@]}"
		forget "${MANY_PIDS[@]}"
	fi
}

many_cols=
for col in $columns; do
	has_scn many || break
	if [ $col = ours ]; then
		[ $ours = 1 ] || continue
		build_many || {
			NOTE[many]="could not compile $modules modules: $(tail -1 "$tmp/log/many-cc")"
			continue
		}
	else
		can $col || continue
	fi
	many_cols="$many_cols $col"
done

declare -A IDLE_PIDS IDLE_MAIN
[ -n "$many_cols" ] && log "startup of $modules modules/processes: $runs runs per column"
for col in $many_cols; do
	ready=() rss=() pss=() per=() sup=()
	for ((i = 0; i < runs; i++)); do
		if ! start_many $col; then
			stop_many
			NOTE[many-$col]="$col: $modules sockets did not all answer"
			continue 2
		fi
		ready+=($MANY_READY)
		rss+=($(kb_sum VmRSS status "${MANY_PIDS[@]}"))
		pss+=($(kb_sum Pss smaps_rollup "${MANY_PIDS[@]}"))
		if [ -n "$MANY_MAIN" ]; then
			sup+=($(kb_sum VmRSS status $MANY_MAIN))
			w=$(( ${#MANY_PIDS[@]} - 1 ))
			[ $w -ge 1 ] || w=1
			per+=($(( ($(kb_sum VmRSS status "${MANY_PIDS[@]:1}")) / w )))
		else
			per+=($(( ${rss[-1]} / ${#MANY_PIDS[@]} )))
		fi
		raw_log "many $col run=$i ready_ms=$MANY_READY rss_kb=${rss[-1]}" \
		    "pss_kb=${pss[-1]} per_kb=${per[-1]} procs=${#MANY_PIDS[@]}"
		if [ $((i + 1)) -lt $runs ]; then
			stop_many
		fi
	done
	R[many.ready.$col]=$(printf '%s\n' "${ready[@]}" | median)
	R[many.rss.$col]=$(printf '%s\n' "${rss[@]}" | median)
	R[many.pss.$col]=$(printf '%s\n' "${pss[@]}" | median)
	R[many.per.$col]=$(printf '%s\n' "${per[@]}" | median)
	[ ${#sup[@]} -gt 0 ] && R[many.sup.$col]=$(printf '%s\n' "${sup[@]}" | median)
	# Keep the last set running for the idle measurement.
	IDLE_PIDS[$col]="${MANY_PIDS[*]}"
	IDLE_MAIN[$col]=$MANY_MAIN
done

# ---- idle CPU ---------------------------------------------------------------
if [ -n "$many_cols" ] && [ "$idle" != 0 ]; then
	log "idle: ${idle}s with every set of $modules running"
	declare -A c0 w0 s0 sw0
	for col in $many_cols; do
		[ -n "${IDLE_PIDS[$col]:-}" ] || continue
		c0[$col]=$(cpu_ns ${IDLE_PIDS[$col]})
		w0[$col]=$(ctx_switches ${IDLE_PIDS[$col]})
		if [ -n "${IDLE_MAIN[$col]}" ]; then
			s0[$col]=$(cpu_ns ${IDLE_MAIN[$col]})
			sw0[$col]=$(ctx_switches ${IDLE_MAIN[$col]})
		fi
	done
	# In the background so that a signal runs the cleanup trap at once.
	sleep "$idle" &
	wait $!
	for col in $many_cols; do
		[ -n "${IDLE_PIDS[$col]:-}" ] || continue
		c1=$(cpu_ns ${IDLE_PIDS[$col]})
		w1=$(ctx_switches ${IDLE_PIDS[$col]})
		R[idle.cpu.$col]=$(awk -v d=$((c1 - c0[$col])) -v s=$idle \
		    'BEGIN { printf "%.3f", 100 * d / 1e9 / s }')
		R[idle.wake.$col]=$(awk -v d=$((w1 - w0[$col])) -v s=$idle \
		    'BEGIN { printf "%.1f", d / s }')
		if [ -n "${IDLE_MAIN[$col]}" ]; then
			c1=$(cpu_ns ${IDLE_MAIN[$col]})
			w1=$(ctx_switches ${IDLE_MAIN[$col]})
			R[idle.supcpu.$col]=$(awk -v d=$((c1 - s0[$col])) -v s=$idle \
			    'BEGIN { printf "%.3f", 100 * d / 1e9 / s }')
			R[idle.supwake.$col]=$(awk -v d=$((w1 - sw0[$col])) -v s=$idle \
			    'BEGIN { printf "%.1f", d / s }')
		fi
		raw_log "idle $col secs=$idle cpu_pct=${R[idle.cpu.$col]}" \
		    "wakeups_s=${R[idle.wake.$col]} sup_cpu_pct=${R[idle.supcpu.$col]:-}" \
		    "sup_wakeups_s=${R[idle.supwake.$col]:-}"
	done
fi
for col in $many_cols; do
	[ -n "${IDLE_PIDS[$col]:-}" ] || continue
	MANY_PIDS=(${IDLE_PIDS[$col]})
	MANY_MAIN=${IDLE_MAIN[$col]}
	stop_many
done

# ---- machine size ---------------------------------------------------------
# poll and collect cost with the number of processes (procfds): top the
# machine up to --procs with sleeping processes for those two scenarios.
nprocs() { local d n=0; for d in /proc/[0-9]*; do n=$((n + 1)); done; echo $n; }
FILLERS=()
fill_procs() {
	local have i
	[ "$procs" -gt 0 ] || return 0
	have=$(nprocs)
	for ((i = have; i < procs; i++)); do
		sleep 100000 &
		FILLERS+=($!)
		PIDS+=($!)
	done
	log "processes: $have on the machine, $(nprocs) with ${#FILLERS[@]} sleeping added"
}
unfill_procs() {
	[ ${#FILLERS[@]} -gt 0 ] || return 0
	stop_pids "${FILLERS[@]}"
	forget "${FILLERS[@]}"
	FILLERS=()
}

# Bundled modules present in this build (containers only where built).
BUNDLED=
for m in iowait load memory network disk procfds filesystems sensors containers; do
	[ -f "$build/plugins/.libs/$m.so" ] && BUNDLED="$BUNDLED $m"
done

# proc_tree PID: PID and its descendants.
proc_tree() {
	local k
	echo "$1"
	for k in $(children "$1"); do proc_tree "$k"; done
}

# us_per VALUE_NS COUNT: microseconds per count, one decimal.
us_per() { awk -v n="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.1f", n / 1e3 / c }'; }

# ---- Scope's pattern: every module polled once a second --------------------
# What the probe does: each plugin's socket once a second, one at a time,
# on a keep-alive connection.  Ours: one daemon with every bundled module
# and one with iowait alone (the like-for-like figure against the Go peer
# serving the same iowait report).  CPU per poll of the whole process tree
# (supervisor and workers), from the scheduler's runtime.
POLL_MODS=
if has_scn poll && [ "$poll" -gt 0 ] && [ $ours = 1 ] && [ -n "$BUNDLED" ]; then
	fill_procs
	mkdir -p "$tmp/poll-all/mods" "$tmp/poll-all/socks" \
	    "$tmp/poll-io/mods" "$tmp/poll-io/socks"
	socks=
	for m in $BUNDLED; do
		cp "$build/plugins/.libs/$m.so" "$tmp/poll-all/mods/"
		socks="$socks $tmp/poll-all/socks/$m/$m.sock"
	done
	cp "$build/plugins/.libs/iowait.so" "$tmp/poll-io/mods/"
	start_daemon poll-all "$tmp/poll-all/mods" "$tmp/poll-all/socks"
	sup_all=$SPAWNED
	start_daemon poll-io "$tmp/poll-io/mods" "$tmp/poll-io/socks"
	sup_io=$SPAWNED
	io_sock=$tmp/poll-io/socks/iowait/iowait.sock
	go_pid= go_sock=
	if can go; then
		go_sock=$tmp/poll-go.sock
		spawn poll-go "$tmp/peer-go" -socket "$go_sock" -id iowait -shape iowait
		go_pid=$SPAWNED
	fi
	if wait_ready 30 $socks "$io_sock" $go_sock; then
		POLL_MODS=$BUNDLED
		# One round first: a module's first collect sets up what the
		# following ones reuse.
		"$loadgen" --poll --interval 0.1 --duration 0.1 $socks "$io_sock" \
		    $go_sock > /dev/null
		pids_all=$(proc_tree $sup_all)
		pids_io=$(proc_tree $sup_io)
		declare -A W0
		for p in $pids_all; do W0[$p]=$(cpu_ns $p); done
		io0=$(cpu_ns $pids_io)
		iosup0=$(cpu_ns $sup_io)
		go0=0
		[ -n "$go_pid" ] && go0=$(cpu_ns $go_pid)
		log "Scope's pattern: ${poll}s, $(echo $BUNDLED | wc -w) bundled modules + iowait alone${go_pid:+ + the Go peer}, each polled once a second"
		out=$("$loadgen" --poll --interval 1 --duration "$poll" --quiet \
		    $socks "$io_sock" $go_sock)
		rounds=$(field "$out" rounds)
		R[poll.err.ours]=$(field "$out" errors)
		raw_log "poll $out"
		# Per module: its worker; the supervisor apart.
		all_ns=0
		for p in $pids_all; do
			d=$(( $(cpu_ns $p) - ${W0[$p]} ))
			all_ns=$((all_ns + d))
			if [ "$p" = "$sup_all" ]; then
				R[poll.sup.ours]=$(us_per $d $((rounds * $(echo $BUNDLED | wc -w))))
				raw_log "poll supervisor ns=$d"
				continue
			fi
			m=$(tr '\0' '\n' < /proc/$p/cmdline 2>/dev/null | sed -n 's|.*/\([^/]*\)\.so$|\1|p')
			[ -n "$m" ] || continue
			R[poll.mod-$m.ours]=$(us_per $d $rounds)
			raw_log "poll worker $m ns=$d rounds=$rounds"
		done
		R[poll.all.ours]=$(us_per $all_ns $((rounds * $(echo $BUNDLED | wc -w))))
		d=$(( $(cpu_ns $pids_io) - io0 ))
		R[poll.io.ours]=$(us_per $d $rounds)
		R[poll.iosup.ours]=$(us_per $(( $(cpu_ns $sup_io) - iosup0 )) $rounds)
		raw_log "poll iowait-alone ns=$d"
		if [ -n "$go_pid" ]; then
			d=$(( $(cpu_ns $go_pid) - go0 ))
			R[poll.io.go]=$(us_per $d $rounds)
			raw_log "poll go-iowait ns=$d"
		fi
	else
		log "poll: sockets not answering after 30 s; scenario skipped"
		tail -5 "$tmp/log/poll-all" >&2
		NOTE[poll]="poll: the daemon's sockets did not come up"
	fi
	stop_daemon $sup_all
	stop_daemon $sup_io
	if [ -n "$go_pid" ]; then stop_pids $go_pid; forget $go_pid; fi
fi

# ---- collect benchmark: CPU of one collect per bundled module --------------
# collect-time: the module's collect() in a loop in one process (median
# CPU time of one collect), on this machine's /proc and /sys; procfds also
# over a generated /proc of --procs processes (fixture files: the same
# work on any machine, no kernel generation).
fixture_procs() {	# DIR N: a /proc tree of N processes like fixture pid 1
	local dir=$1 n=$2 i
	local src=$srcdir/test/fixtures/procfds/1
	mkdir -p "$dir"
	cp "$src/stat" "$dir/stat"
	cp -r "$src/1" "$dir/1"
	for ((i = 2; i <= n; i++)); do
		mkdir "$dir/$((1000 + i))"
		cp "$src/1/stat" "$src/1/status" "$src/1/limits" "$src/1/io" \
		    "$dir/$((1000 + i))/"
		cp -r "$src/1/fd" "$dir/$((1000 + i))/fd"
	done
}
collect_one() {	# KEY MODULE.so [collect-time args]
	local key=$1 so=$2 i out v=()
	shift 2
	for ((i = 0; i < runs; i++)); do
		out=$("$collect_time" -n "$collects" "$@" "$so" 2> /dev/null | grep '^RESULT')
		raw_log "collect $key run=$i $out"
		v+=($(field "$out" median_us))
	done
	R[collect.$key.ours]=$(printf '%s\n' "${v[@]}" | median)
}
COLLECT_MODS=
collect_time=${BENCH_COLLECT_TIME:-$bench/collect-time}
if has_scn collect && [ -n "$BUNDLED" ] && [ -x "$collect_time" ]; then
	fill_procs
	COLLECT_PROCS=$(nprocs)
	log "collect: $collects collects x $runs runs per bundled module, $COLLECT_PROCS processes"
	for m in $BUNDLED; do
		collect_one $m "$build/plugins/.libs/$m.so"
	done
	COLLECT_MODS=$BUNDLED
	if [ -f "$build/plugins/.libs/procfds.so" ] &&
	    [ -d "$srcdir/test/fixtures/procfds/1" ]; then
		FIXTURE_PROCS=$(( procs > 0 ? procs : 300 ))
		fixture_procs "$tmp/proc-fixture" $FIXTURE_PROCS
		collect_one procfds-fixture "$build/plugins/.libs/procfds.so" \
		    -p proc_root="$tmp/proc-fixture"
	fi
fi
unfill_procs


# ---- the table --------------------------------------------------------------
ratio() {	# a b
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "-";
		else printf "%.2fx", a / b }'
}
kb2mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

row() {	# label key [transform]
	local label=$1 key=$2 tf=${3:-} c v vals=() o
	for c in ours floor go python; do
		v=${R[$key.$c]:-}
		if [ -n "$v" ] && [ -n "$tf" ]; then v=$($tf "$v"); fi
		[ -n "$v" ] && [ "${R[${key%%.*}.err.$c]:-0}" != 0 ] && v="$v!"
		vals+=("${v:--}")
	done
	o=${vals[0]%!}
	[ "$o" = - ] && o=
	printf '%-44s %10s %10s %10s %10s %8s %8s %8s\n' "$label" "${vals[@]}" \
	    "$(ratio "$o" "${vals[1]%!}")" "$(ratio "$o" "${vals[2]%!}")" \
	    "$(ratio "$o" "${vals[3]%!}")"
}

machine="$(nproc 2>/dev/null) cpus, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
echo
echo "scope-plugin-host benchmarks -- $machine"
echo "runs=$runs duration=${duration}s warmup=${warmup}s idle=${idle}s modules=$modules; medians; took $(( $(date +%s) - t_start ))s"
echo
printf '%-44s %10s %10s %10s %10s %8s %8s %8s\n' scenario ours floor go python \
    ours/flr ours/go ours/py
printf '%.0s-' $(seq 118); echo
while IFS=$'\t' read -r key shape mode conns label; do
	[ -n "$key" ] || continue
	row "$label: req/s" $key.rps
	row "$label: p50 us" $key.p50
	row "$label: p99 us" $key.p99
done <<< "$SCENARIOS"
row "trivial: body bytes" t1.bytes
row "realistic: body bytes" r1.bytes
row "iowait: body bytes" i16.bytes
row "$modules at once: ms until all answer" many.ready
row "$modules at once: total RSS MB" many.rss kb2mb
row "$modules at once: total PSS MB" many.pss kb2mb
row "$modules at once: RSS per worker/process kB" many.per
row "$modules at once: supervisor RSS kB" many.sup
row "idle ${idle}s, $modules: CPU % of a core" idle.cpu
row "idle ${idle}s, $modules: wakeups/s" idle.wake
row "idle ${idle}s, $modules: supervisor CPU %" idle.supcpu
row "idle ${idle}s, $modules: supervisor wakeups/s" idle.supwake
if [ -n "$POLL_MODS" ]; then
	row "Scope poll ${poll}s, iowait alone: us CPU/poll" poll.io
	row "Scope poll ${poll}s, iowait alone: supervisor us" poll.iosup
	row "Scope poll ${poll}s, all bundled: us CPU/poll" poll.all
	row "Scope poll ${poll}s, all bundled: supervisor us" poll.sup
	for m in $POLL_MODS; do
		row "Scope poll ${poll}s, $m worker: us CPU/poll" poll.mod-$m
	done
fi
for m in $COLLECT_MODS; do
	row "collect $m ($COLLECT_PROCS procs): median us CPU" collect.$m
done
[ -n "${FIXTURE_PROCS:-}" ] &&
    row "collect procfds, fixture of $FIXTURE_PROCS: median us" collect.procfds-fixture
echo
echo "req/s: higher is better; everything else: lower is better.  CPU figures"
echo "are CPU time (the scheduler's runtime), not wall time: a busy machine"
echo "slows them less than it slows latency."
echo "floor cached rows repeat the per-call figures (its body is always precomputed)."
# Targets of issue 14 that these figures decide.
verdict() {	# LABEL MEASURED OK(0/1)
	printf '  %-62s %-30s %s\n' "$1" "$2" "$([ "$3" = 1 ] && echo met || echo MISSED)"
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 <= b + 0) }'; }
# load_verdict LABEL A B OP LIMIT UNIT FORMAT [SCALE]: cells A and B (R
# keys ROW.METRIC.COL) against LIMIT: OP ge is A/B >= LIMIT, le is A/B <=
# LIMIT; A/B times SCALE (default 1) is shown with printf FORMAT.  Silent
# unless both were measured; a cell with failed requests misses.
load_verdict() {
	local a=${R[$2]:-} b=${R[$3]:-} q ok=1 errs
	[ -n "$a" ] && [ -n "$b" ] || return 0
	q=$(awk -v a="$a" -v b="$b" -v f="$7" -v s="${8:-1}" \
	    'BEGIN { if (b > 0) printf f, s * a / b }')
	awk -v a="$a" -v b="$b" -v op="$4" -v l="$5" 'BEGIN {
		exit !(b > 0 && (op == "ge" ? a / b >= l : a / b <= l)) }' || ok=0
	errs=$(( ${R[${2%%.*}.err.${2##*.}]:-0} + ${R[${3%%.*}.err.${3##*.}]:-0} ))
	[ $errs = 0 ] || { ok=0; q="$q, $errs errors"; }
	verdict "$1" "$a vs $b $6 = $q" $ok
}
if [ -n "$POLL_MODS$COLLECT_MODS${R[idle.supwake.ours]:-}" ] ||
    [ -n "${R[i16.rps.ours]:-}${R[r16.rps.ours]:-}${R[r1p.p50.ours]:-}" ]; then
	echo
	echo "targets (issue 14):"
	load_verdict "iowait, 16 conns: req/s >= 2x the Go peer's" \
	    i16.rps.ours i16.rps.go ge 2 req/s %.2fx
	load_verdict "realistic, 16 conns: req/s >= 50 % of the floor's" \
	    r16.rps.ours r16.rps.floor ge 0.5 req/s '%.0f %%' 100
	# Medians of runs alternating between the two modules.
	load_verdict "trivial, 1 conn: p50 coalesced <= 1.10x per-request" \
	    t1.p50.ours t1p.p50.ours le 1.10 us %.2fx
	load_verdict "realistic, 1 conn: p50 coalesced <= 1.10x per-request" \
	    r1.p50.ours r1p.p50.ours le 1.10 us %.2fx
	if [ -n "${R[poll.io.ours]:-}" ] && [ -n "${R[poll.io.go]:-}" ]; then
		half=$(awk -v g="${R[poll.io.go]}" 'BEGIN { printf "%.1f", g / 2 }')
		le "${R[poll.io.ours]}" "$half"; ok=$((1 - $?))
		verdict "iowait, Scope's pattern: CPU/poll <= half the Go peer's" \
		    "${R[poll.io.ours]} vs ${half} us" $ok
	fi
	for m in $POLL_MODS; do
		v=$(awk -v w="${R[poll.mod-$m.ours]:-}" -v s="${R[poll.sup.ours]:-0}" \
		    'BEGIN { if (w != "") printf "%.1f", w + s }')
		le "$v" 1000; ok=$((1 - $?))
		verdict "$m, Scope's pattern: worker + supervisor <= 1 ms/poll" "$v us" $ok
	done
	if [ -n "${R[idle.supwake.ours]:-}" ]; then
		le "${R[idle.supwake.ours]}" 0.5; ok=$((1 - $?))
		verdict "idle, $modules modules: supervisor wakeups <= 0.5/s" \
		    "${R[idle.supwake.ours]}/s, ${R[idle.supcpu.ours]} % CPU" $ok
	fi
fi
for k in ours floor go python iowait many many-ours many-floor many-go many-python poll; do
	[ -n "${NOTE[$k]:-}" ] && echo "note: ${NOTE[$k]}"
done
errs=0
for k in "${!R[@]}"; do
	case $k in *.err.*) [ "${R[$k]}" != 0 ] && { echo "errors: ${k%%.*} ${k##*.}: ${R[$k]} (cells marked !)"; errs=1; } ;; esac
done
[ -n "$raw" ] && cp "$tmp/raw" "$raw"
exit $errs
