#!/usr/bin/env bash
# run.sh BIN — what `make run` starts until Ctrl-C: the simulated practice and the service on
# a fresh temporary data folder, and the tray when there is a display. (The local API, the
# filing engine and the windows join as they are built.)
set -euo pipefail
bin=${1:-bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/wbagent-run.XXXXXX")
pids=()
cleanup() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "run.sh: stopped; data left in $dir"
}
trap cleanup INT TERM EXIT

echo "run.sh: data folder $dir"
"$bin/practicesim" --listen 127.0.0.1:0 --state "$dir/practicesim" >"$dir/practicesim.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	grep -q '^SIM_ADMIN_URL=' "$dir/practicesim.log" 2>/dev/null && break
	sleep 0.1
done
grep '^practicesim:' "$dir/practicesim.log" || { cat "$dir/practicesim.log"; exit 1; }

"$bin/wbagentd" run --data "$dir/agent" &
pids+=($!)
if [ -n "${DISPLAY:-}" ]; then
	"$bin/wbagent-tray" &
	pids+=($!)
else
	echo "run.sh: no display, so no tray; the service and the simulator run headless"
fi
echo "run.sh: running; press Ctrl-C to stop"
wait
