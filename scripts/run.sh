#!/usr/bin/env bash
# run.sh BIN — what `make run` runs until Ctrl-C: the local stack (scripts/dev-stack.sh: the
# simulated practice and the service) on a fresh temporary folder with five writebacks
# waiting (FEED, default 5), the tray when there is a display, and the service's events
# printed as they happen (wbagent watch). Ctrl-C stops everything it started.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/wbagent-run.XXXXXX")
pids=()
cleanup() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	"$root/scripts/dev-stack.sh" stop "$dir" || true
	echo "run.sh: stopped; data left in $dir"
}
trap cleanup INT TERM EXIT

FEED=${FEED:-5} "$root/scripts/dev-stack.sh" start "$dir"
set -a
# shellcheck source=/dev/null
. "$dir/env"
set +a

if [ -n "${DISPLAY:-}" ]; then
	"$bin/wbagent-tray" &
	pids+=($!)
	echo "run.sh: tray started (it opens the windows)"
else
	echo "run.sh: no display, so no tray or windows; printing the service's events (wbagent watch)"
fi
echo "run.sh: running; in another terminal: set -a; . $dir/env; set +a; $dir/bin/wbagent status"
echo "run.sh: press Ctrl-C to stop"
"$dir/bin/wbagent" watch &
pids+=($!)
wait
