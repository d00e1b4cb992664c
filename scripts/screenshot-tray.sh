#!/usr/bin/env bash
# screenshot-tray.sh BIN OUTDIR — the tray as people see it, under Xvfb with Debian's trayer
# as the notification area (make screenshots runs it inside xvfb-run):
#
#   OUTDIR/tray-icon-{ok,attention,blocked,offline}.png   the icon in each state, in its panel
#   OUTDIR/tray-icons.png                                  the four side by side
#   OUTDIR/tray-menu-clinician-waiting.png                 a clinician with filings waiting
#   OUTDIR/tray-menu-receptionist-not-activated.png        a receptionist while the application
#                                                          is not activated in EMAS Manager
#
# The tray replays recorded watch events (wbagent-tray -fixture, scripts/tray-fixtures/) so
# each picture shows a known state (the last filing at 08:47 today); offline is the real thing
# (no service at the socket). The PNGs are stripped of timestamps, so unchanged pictures make
# no change to commit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$1
out=$2
[ -n "${DISPLAY:-}" ] || { echo "screenshot-tray.sh: needs an X display (run it under xvfb-run)" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# A light panel along the top edge (the root window stays black; pictures are cropped).
trayer --edge top --align right --widthtype request --height 32 --transparent false \
	--SetDockType true --expand false >/dev/null 2>&1 &
pids+=($!)
sleep 1
width=$(xdpyinfo 2>/dev/null | awk '/dimensions:/ {split($2, d, "x"); print d[1]}')
width=${width:-1024}

# Keep notifications and preferences out of the user's own folders.
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache DBUS_SESSION_BUS_ADDRESS=disabled:

tray_pid=
start_tray() { # start_tray FIXTURE|offline
	if [ "$1" = offline ]; then
		"$bin/wbagent-tray" -socket "$work/no-service.sock" >"$work/tray.log" 2>&1 &
	else
		sed "s/LASTFILED/$(date -d 'today 08:47' +%Y-%m-%dT%H:%M:00%:z)/" "$root/scripts/tray-fixtures/$1.ndjson" >"$work/$1.ndjson"
		"$bin/wbagent-tray" -fixture "$work/$1.ndjson" >"$work/tray.log" 2>&1 &
	fi
	tray_pid=$!
	pids+=("$tray_pid")
	sleep 2
}
stop_tray() {
	kill "$tray_pid" 2>/dev/null || true
	wait "$tray_pid" 2>/dev/null || true
	sleep 0.5
}
grab() { # grab GEOMETRY FILE [SCALE]
	xwd -root -silent | convert xwd:- -crop "$1" +repage ${3:+-filter point -resize $3} -strip "$2"
}

for state in ok attention blocked offline; do
	case $state in
	ok) start_tray ok ;;
	attention) start_tray attention ;;
	blocked) start_tray receptionist-not-activated ;;
	offline) start_tray offline ;;
	esac
	# The icon and a little of the panel around it, enlarged 3× with hard pixels.
	grab "32x32+$((width - 32))+0" "$out/tray-icon-$state.png" 300%
	stop_tray
done
convert "$out"/tray-icon-{ok,attention,blocked,offline}.png -background white -splice 12x0 +append -chop 12x0 -strip "$out/tray-icons.png"

menu() { # menu FIXTURE NAME
	start_tray "$1"
	xdotool mousemove $((width - 16)) 16 click 1
	sleep 1
	grab "900x400+$((width - 900))+0" "$work/menu.png"
	# Paint the bare (black) root window a desktop blue, from the corner: the menu's own text is
	# not connected to it.
	convert "$work/menu.png" -fill '#2f5f8f' -draw 'color 0,0 floodfill' -trim +repage \
		-bordercolor '#2f5f8f' -border 8 -strip "$out/tray-menu-$2.png"
	xdotool key Escape
	stop_tray
}
menu clinician-waiting clinician-waiting
menu receptionist-not-activated receptionist-not-activated
ls "$out"/tray-*.png
