#!/usr/bin/env bash
# screenshot.sh NAME — grab the X display ($DISPLAY) into screenshots/NAME.png, trimmed to
# what is drawn. wbagent-ui -screenshot calls it while each window is shown (make screenshots).
set -euo pipefail
xwd -root -silent | convert xwd:- -trim +repage "screenshots/$1.png"
