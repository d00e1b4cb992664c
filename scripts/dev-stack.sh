#!/usr/bin/env bash
# dev-stack.sh start|stop DIR — the whole product on this machine, without a display if need
# be: the simulated practice (practicesim) and the service (wbagentd), in the background on
# loopback, with all their state under DIR. `make run` uses it, and so do tests outside this
# repository: keep this contract (docs/cli.md).
#
#   dev-stack.sh start DIR   builds the programs into DIR/bin, starts whichever of practicesim
#                            and wbagentd is not running (with the state already in DIR), links
#                            the current OS user to a simulated GP, and returns once both answer.
#                            It writes DIR/env (WBAGENT_SOCKET, SIM_URL, SIM_ADMIN_URL,
#                            CLINICIAN_ID as KEY=value lines) and DIR/practicesim.pid and
#                            DIR/wbagentd.pid.
#   dev-stack.sh stop DIR    stops both.
#
# FEED=n (start) queues n writebacks for the linked clinician through the simulated online
# consultation platform (docs/platform-api.md): practicesim offers them, the agent pulls and
# queues them, and the script returns once the agent has acknowledged them all (they are
# durably queued). Without FEED nothing is queued. (`scripts/devstack feed` still writes
# example files for `wbagent enqueue FILE`.)
#
# Logs: DIR/practicesim.log and DIR/wbagentd.log (and the agent's own under DIR/agent/logs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	echo "usage: dev-stack.sh start|stop DIR   (FEED=n with start queues n writebacks)" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
bin=$dir/bin

say() { echo "dev-stack: $*"; }
die() {
	echo "dev-stack: $*" >&2
	exit 1
}

# running PIDFILE: the process the pid file names has not exited (it may still be starting).
# A zombie (exited, not yet reaped by its new parent) counts as exited.
running() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1")
	kill -0 "$pid" 2>/dev/null || return 1
	if [ -r "/proc/$pid/stat" ]; then
		[ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -c1)" != Z ] || return 1
	fi
}

# alive PIDFILE NAME: the pid file names a running process called NAME.
alive() {
	running "$1" || return 1
	if [ -r "/proc/$(cat "$1")/comm" ]; then
		[ "$(cat "/proc/$(cat "$1")/comm")" = "$2" ] || return 1
	fi
}

# stop_one PIDFILE NAME: SIGTERM, then SIGKILL after 10 s.
stop_one() {
	local pid
	if alive "$1" "$2"; then
		pid=$(cat "$1")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			running "$1" || break
			sleep 0.1
		done
		if running "$1"; then
			say "$2 did not stop within 10 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		say "stopped $2"
	fi
	rm -f "$1"
}

# env_value KEY: KEY's value in DIR/env, if any.
env_value() {
	[ -f "$dir/env" ] && sed -n "s|^$1=||p" "$dir/env" || true
}

build() {
	say "building into $bin"
	(cd "$root" && go build -ldflags "-X main.version=dev-stack" -o "$bin/" \
		./cmd/practicesim ./cmd/wbagentd ./cmd/wbagent ./scripts/devstack)
}

start_sim() {
	sim_url=$(env_value SIM_URL)
	if alive "$dir/practicesim.pid" practicesim && [ -n "$sim_url" ]; then
		sim_admin_url=$(env_value SIM_ADMIN_URL)
		return
	fi
	# The same address as before, so that tokens and links stay valid (the issuer is the URL).
	local listen=127.0.0.1:0
	[ -n "$sim_url" ] && listen=${sim_url#http://}
	: >"$dir/practicesim.out"
	nohup "$bin/practicesim" --listen "$listen" --state "$dir/practicesim" \
		>"$dir/practicesim.out" 2>>"$dir/practicesim.log" </dev/null &
	echo $! >"$dir/practicesim.pid"
	for _ in $(seq 100); do
		grep -q '^SIM_ADMIN_URL=' "$dir/practicesim.out" && break
		running "$dir/practicesim.pid" || break
		sleep 0.1
	done
	sim_url=$(sed -n 's/^SIM_URL=//p' "$dir/practicesim.out")
	sim_admin_url=$(sed -n 's/^SIM_ADMIN_URL=//p' "$dir/practicesim.out")
	[ -n "$sim_admin_url" ] || die "practicesim did not start; see $dir/practicesim.log: $(tail -n 3 "$dir/practicesim.log")"
	"$bin/devstack" wait "$sim_url/.well-known/openid-configuration"
	say "practicesim at $sim_url (admin: $sim_admin_url/)"
}

# socket_path: DIR/wbagentd.sock, or a short path in /tmp when DIR is too long for a Unix
# socket (about 100 bytes).
socket_path() {
	local sock=$dir/wbagentd.sock
	if [ ${#sock} -gt 100 ]; then
		sock=${TMPDIR:-/tmp}/wbagent-$(printf '%s' "$dir" | cksum | cut -d' ' -f1).sock
	fi
	echo "$sock"
}

start_agent() {
	sock=$(socket_path)
	mkdir -p "$dir/agent"
	if [ ! -f "$dir/agent/config.toml" ]; then
		"$bin/devstack" config "$sim_url" "$sim_admin_url" "$sock" >"$dir/agent/config.toml"
		"$bin/devstack" credential "$sim_admin_url" |
			"$bin/wbagentd" enrol --data "$dir/agent" >>"$dir/wbagentd.log" 2>&1
	fi
	if ! alive "$dir/wbagentd.pid" wbagentd; then
		nohup "$bin/wbagentd" run --data "$dir/agent" --config "$dir/agent/config.toml" \
			>>"$dir/wbagentd.log" 2>&1 </dev/null &
		echo $! >"$dir/wbagentd.pid"
	fi
	for _ in $(seq 150); do
		"$bin/wbagent" status --socket "$sock" >/dev/null 2>&1 && break
		running "$dir/wbagentd.pid" || break
		sleep 0.1
	done
	"$bin/wbagent" status --socket "$sock" >/dev/null 2>&1 ||
		die "wbagentd did not start; see $dir/wbagentd.log: $(tail -n 5 "$dir/wbagentd.log")"
	say "wbagentd at $sock (data: $dir/agent)"
}

link_clinician() {
	local username password
	read -r clinician_id username password < <("$bin/devstack" clinician "$sim_admin_url")
	# The password grant: for automated testing only, as the clinical system documents it.
	"$bin/wbagent" link --socket "$sock" --username "$username" --password "$password" |
		sed 's/^/dev-stack: /'
}

feed() {
	local n=${FEED:-0}
	[ "$n" -gt 0 ] 2>/dev/null || return 0
	"$bin/devstack" platform-feed "$sim_admin_url" "$clinician_id" "$n"
	say "queued $n writebacks from the simulated platform for clinician $clinician_id"
}

write_env() {
	printf 'WBAGENT_SOCKET=%s\nSIM_URL=%s\nSIM_ADMIN_URL=%s\nCLINICIAN_ID=%s\n' \
		"$sock" "$sim_url" "$sim_admin_url" "$clinician_id" >"$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

case $cmd in
start)
	build
	start_sim
	start_agent
	link_clinician
	write_env
	feed
	say "running; environment in $dir/env; stop with: scripts/dev-stack.sh stop $dir"
	;;
stop)
	stop_one "$dir/wbagentd.pid" wbagentd
	stop_one "$dir/practicesim.pid" practicesim
	;;
*)
	usage
	;;
esac
