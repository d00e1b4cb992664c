#!/usr/bin/env bash
# bench-ui.sh BIN [N] — wbagent-ui's time from start to the review window's first frame with
# its data, and its resident memory then, with N (default 1000) writebacks waiting for the
# clinician, under Xvfb (1366×768, software rendering): make bench-ui. In the same run, the
# same figures with 20 waiting, so the ratio shows what the waiting writebacks cost beside
# the toolkit's own start. Figures to watch: the best of three starts is reported beside the
# first (which pays for the font and GL set-up).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "$1" && pwd)
n=${2:-1000}
base=20
dir=$(mktemp -d)
trap '"$root/scripts/dev-stack.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

# measure: sets first, best (ms) and rss (kB) over three starts.
measure() {
	first="" best="" rss=""
	for _ in 1 2 3; do
		res=$(xvfb-run -a -s "-screen 0 1366x768x24" "$bin/wbagent-ui" -bench review 2>/dev/null)
		ms=$(awk '/^first-frame-ms/ {print $2}' <<<"$res")
		kb=$(awk '/^rss-kb/ {print $2}' <<<"$res")
		[ -n "$first" ] || first=$ms
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
		rss=$kb
	done
}
waiting() { "$dir/bin/wbagent" queue list --state needs-confirmation --json | jq length; }

FEED=$base "$root/scripts/dev-stack.sh" start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
export WBAGENT_SOCKET
w0=$(waiting)
measure
first0=$first best0=$best rss0=$rss
"$dir/bin/devstack" platform-feed "$SIM_ADMIN_URL" "$CLINICIAN_ID" $((n - base)) >/dev/null
w1=$(waiting)
measure
echo "bench-ui: wbagent-ui review, first frame with data (best of 3; first start) and resident memory:"
echo "  $w0 waiting: ${best0} ms (${first0} ms), $((rss0 / 1024)) MB"
echo "  $w1 waiting: ${best} ms (${first} ms), $((rss / 1024)) MB; ratio to $w0 waiting: time $(awk "BEGIN {printf \"%.2f\", $best / $best0}"), memory $(awk "BEGIN {printf \"%.2f\", $rss / $rss0}")"
printf '{"bench":"wbagent-ui","waiting":%d,"firstFrameMsBest":%d,"firstFrameMsFirst":%d,"rssKB":%d,"baseWaiting":%d,"baseFirstFrameMsBest":%d,"baseRssKB":%d}\n' \
	"$w1" "$best" "$first" "$rss" "$w0" "$best0" "$rss0"
