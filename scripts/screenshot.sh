#!/usr/bin/env bash
# screenshot.sh NAME — grab the X display ($DISPLAY) into ${SHOT_DIR:-screenshots}/NAME.png
# (or ${SHOT_NAME}.png when set). wbagent-ui -screenshot calls it while a window is shown
# (make screenshots). SHOT_TRIM=0 keeps the whole screen (the windows are judged at the
# screen's size, 1366×768); by default the picture is trimmed to what is drawn.
set -euo pipefail
out="${SHOT_DIR:-screenshots}/${SHOT_NAME:-$1}.png"
if [ "${SHOT_TRIM:-1}" = 1 ]; then
	xwd -root -silent | convert xwd:- -trim +repage "$out"
else
	xwd -root -silent | convert xwd:- "$out"
fi
