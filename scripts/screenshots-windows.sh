#!/usr/bin/env bash
# screenshots-windows.sh BIN OUT — the clinician's windows (wbagent-ui) with real data, into
# OUT/NAME.png: make screenshots runs it. It starts a simulated practice and the service
# (dev-stack.sh) with writebacks waiting for confirmation, queues one whose given names
# differ from the record's and two that stop (a surname
# that does not match the record, an unknown NHS number), and renders each window under Xvfb
# at 1366×768: review (a writeback selected), confirm (the visibility chosen), reject (the
# dialog), attachments (the image inline), review-difference (a given name that differs from
# the record's, marked), attention, about, account-linked; then unlinks (account-unlinked), and deactivates
# the application in the simulated EMAS Manager (problems).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
dir=$(mktemp -d)
trap '"$root/scripts/dev-stack.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

FEED=12 "$root/scripts/dev-stack.sh" start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
export WBAGENT_SOCKET
wbagent=$dir/bin/wbagent

# Two writebacks that stop with a reason: built like the feed, then changed.
i=0
for f in $("$dir/bin/devstack" feed "$SIM_ADMIN_URL" "$CLINICIAN_ID" 2 "$dir/stopped"); do
	i=$((i + 1))
	if [ $i = 1 ]; then
		jq '.patient.familyName = (.patient.familyName + "-Smythe")' "$f" >"$f.x"
	else
		jq '.patient.nhsNumber = "9434765919"' "$f" >"$f.x"
	fi
	"$wbagent" enqueue "$f.x" >/dev/null
done
# One whose given names differ from the record's: the checks let it through (they compare
# NHS number, family name and date of birth) and the review window marks the difference.
f=$("$dir/bin/devstack" feed "$SIM_ADMIN_URL" "$CLINICIAN_ID" 1 "$dir/differs")
jq '.patient.givenNames = "Jon Michael" | .jobId += "-differs"' "$f" >"$f.x"
differs=$("$wbagent" enqueue "$f.x" --json | jq .id)
for _ in $(seq 100); do
	[ "$("$wbagent" queue list --state needs-attention --json | jq length)" = 2 ] && break
	sleep 0.2
done

shot() { # shot WINDOW [FILE-NAME [RECORD-ID]]
	SHOT_DIR=$out SHOT_NAME=${2:-$1} xvfb-run -a -s "-screen 0 1366x768x24" \
		"$bin/wbagent-ui" -screenshot "$root/scripts/screenshot.sh" -select "${3:-0}" "$1" 2>/dev/null
	echo "screenshots: $out/${2:-$1}.png"
}
first=$("$wbagent" queue list --state needs-confirmation --json | jq '[.[] | select(.id != '"$differs"')] | max_by(.createdAt, .id) | .id')
shot review review "$first"
shot confirm confirm "$first"
shot reject reject "$first"
shot attachments attachments "$first"
shot review review-difference "$differs"
shot attention
shot about
shot account account-linked
"$wbagent" unlink >/dev/null
shot account account-unlinked
user=$(curl -fsS "$SIM_ADMIN_URL/users/$CLINICIAN_ID")
"$wbagent" link --username "$(jq -r .username <<<"$user")" --password "$(jq -r .password <<<"$user")" >/dev/null

# Deactivate the application in the simulated EMAS Manager, then confirm a writeback: its
# filing meets the refusal and the service raises the condition.
curl -fsS -X POST -H 'Content-Type: application/json' -d '{"active": false}' "$SIM_ADMIN_URL/application" >/dev/null
id=$("$wbagent" queue list --state needs-confirmation --json | jq '.[0].id')
"$wbagent" confirm "$id" --online-visible=false >/dev/null
for _ in $(seq 150); do
	[ "$("$wbagent" status --json | jq '[.conditions[] | select(.severity == "blocking")] | length')" -gt 0 ] && break
	sleep 0.2
done
shot problems
