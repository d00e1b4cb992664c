#!/usr/bin/env bash
# bench-ui.sh BIN [N] — wbagent-ui's time from start to the review window's first frame with
# its data, and its resident memory then, with N (default 1000) writebacks waiting for the
# clinician, under Xvfb (1366×768, software rendering): make bench-ui. Figures to watch, not
# claims: the first start pays for the font and GL set-up, so the best of three is reported
# beside the first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "$1" && pwd)
n=${2:-1000}
dir=$(mktemp -d)
trap '"$root/scripts/dev-stack.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

FEED=$n "$root/scripts/dev-stack.sh" start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
export WBAGENT_SOCKET
waiting=$("$dir/bin/wbagent" queue list --state needs-confirmation --json | jq length)
first="" best="" rss=""
for i in 1 2 3; do
	res=$(xvfb-run -a -s "-screen 0 1366x768x24" "$bin/wbagent-ui" -bench review 2>/dev/null)
	ms=$(awk '/^first-frame-ms/ {print $2}' <<<"$res")
	kb=$(awk '/^rss-kb/ {print $2}' <<<"$res")
	[ -n "$first" ] || first=$ms
	if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
	rss=$kb
done
echo "bench-ui: $waiting writebacks waiting; wbagent-ui review: first frame with data ${first} ms (first start), ${best} ms (best of 3); resident memory $((rss / 1024)) MB"
printf '{"bench":"wbagent-ui","waiting":%d,"firstFrameMsFirst":%d,"firstFrameMsBest":%d,"rssKB":%d}\n' "$waiting" "$first" "$best" "$rss"
