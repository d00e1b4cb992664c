#!/usr/bin/env bash
# deps.sh installs the Debian packages needed to build and test the tray
# (getlantern/systray: GTK 3 + Ayatana AppIndicator) and the Fyne windows
# (cgo, OpenGL, X11 headers), plus Xvfb, xauth and D-Bus for headless runs.
#
# It installs only what is missing, so it is fast when everything is present;
# it runs on every `make test`. Extra package names given as arguments are installed too.
set -euo pipefail

packages=(
	gcc
	pkg-config
	libgl1-mesa-dev
	xorg-dev
	libgtk-3-dev
	libayatana-appindicator3-dev
	xvfb
	xauth
	dbus
	"$@" # extra packages a target needs (make screenshots: x11-apps imagemagick)
)

missing=()
for pkg in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps.sh: all build dependencies present"
	exit 0
fi

echo "deps.sh: installing ${missing[*]}"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi

"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
