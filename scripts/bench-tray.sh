#!/usr/bin/env bash
# bench-tray.sh BIN — the tray's footprint as a receptionist's PC pays it (make bench-tray runs
# it inside xvfb-run): the local stack (scripts/dev-stack.sh) with a tray host (trayer), the
# tray following the service's watch stream, then BENCH_SECONDS (default 60) of a quiet
# service, then BENCH_SECONDS with the service stopped (the tray retrying with back-off).
# Prints the tray's resident memory and the CPU it used in each, as a share of one core, and
# a JSON line; fails if either reaches 0.05 % of a core (it must sleep on the stream and its
# timers, never poll).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "$1" && pwd)
seconds=${BENCH_SECONDS:-60}
limit=0.05 # per cent of one core
[ -n "${DISPLAY:-}" ] || { echo "bench-tray.sh: needs an X display (run it under xvfb-run)" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/wbagent-bench-tray.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	"$root/scripts/dev-stack.sh" stop "$dir" >/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

"$root/scripts/dev-stack.sh" start "$dir" >/dev/null
set -a
# shellcheck source=/dev/null
. "$dir/env"
set +a
trayer --edge top --align right --widthtype request --height 32 >/dev/null 2>&1 &
pids+=($!)
sleep 1
XDG_CONFIG_HOME=$dir/config XDG_CACHE_HOME=$dir/cache DBUS_SESSION_BUS_ADDRESS=disabled: "$bin/wbagent-tray" >"$dir/tray.log" 2>&1 &
tray=$!
pids+=("$tray")
sleep 5 # connected, icon and menu built

# cpu_ns PID: CPU time PID has used so far (user + system, threads that ended included), in
# nanoseconds, from /proc/PID/stat's clock ticks (10 ms each: 3 ticks are 0.05 % of 60 s).
hz=$(getconf CLK_TCK)
cpu_ns() { sed 's/.*) //' /proc/"$1"/stat | awk -v hz="$hz" '{printf "%d", ($12 + $13) * 1e9 / hz}'; }
grep -q "following the service's watch stream" "$dir/tray.log" ||
	{ cat "$dir/tray.log" >&2; echo "bench-tray.sh: the tray is not following the service" >&2; exit 1; }

# measure PHASE: the tray's CPU over $seconds; sets cpu_pct and prints a line.
measure() {
	local before after
	before=$(cpu_ns "$tray")
	sleep "$seconds"
	after=$(cpu_ns "$tray")
	cpu_pct=$(awk -v a="$after" -v b="$before" -v s="$seconds" 'BEGIN {printf "%.4f", (a - b) / (s * 1e9) * 100}')
	cpu_ms=$(awk -v a="$after" -v b="$before" 'BEGIN {printf "%.2f", (a - b) / 1e6}')
	echo "tray: idle CPU over ${seconds} s $1: ${cpu_ms} ms = ${cpu_pct} % of one core (limit ${limit} %)"
}
over() { awk -v c="$1" -v l="$limit" 'BEGIN {exit !(c >= l)}'; }

measure "following a quiet service"
connected_pct=$cpu_pct connected_ms=$cpu_ms
rss_kb=$(awk '/^VmRSS:/ {print $2}' /proc/"$tray"/status)
anon_kb=$(awk '/^RssAnon:/ {print $2}' /proc/"$tray"/status)
threads=$(ls /proc/"$tray"/task | wc -l)
echo "tray: resident memory $((rss_kb / 1024)) MB (anonymous $((anon_kb / 1024)) MB), $threads threads"

# The service stops: the tray shows offline and retries with back-off (at most every 30 s).
"$root/scripts/dev-stack.sh" stop "$dir" >/dev/null
sleep 2
measure "while the service is stopped"
offline_pct=$cpu_pct offline_ms=$cpu_ms

printf '{"bench":"tray","seconds":%s,"rssKB":%s,"rssAnonKB":%s,"threads":%s,"idleCPUms":%s,"idleCPUPercentOfCore":%s,"offlineCPUms":%s,"offlineCPUPercentOfCore":%s,"limitPercent":%s}\n' \
	"$seconds" "$rss_kb" "$anon_kb" "$threads" "$connected_ms" "$connected_pct" "$offline_ms" "$offline_pct" "$limit"
for pct in "$connected_pct" "$offline_pct"; do
	if over "$pct"; then
		echo "bench-tray.sh: idle CPU ${pct} % of a core is not below ${limit} %: the tray is not sleeping" >&2
		exit 1
	fi
done
