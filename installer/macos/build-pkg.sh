#!/usr/bin/env bash
# build-pkg.sh VERSION — `make pkg`: the macOS installer package, on a Mac (Xcode command line
# tools; Go). Output: dist/WritebackAgent-VERSION.pkg.
#
#   /Library/Writeback Agent/           wbagentd, wbagent, wbagent-tray, wbagent-ui (universal:
#                                       arm64 + x86_64, the version stamped in)
#   /Library/LaunchDaemons/WritebackAgent.plist        the service (root, at boot, kept alive)
#   /Library/LaunchAgents/WritebackAgent.tray.plist    the tray, for every user at sign-in
#
# Signing and notarisation (for distribution; without them Gatekeeper refuses the package):
#   APP_SIGN_ID="Developer ID Application: NAME (TEAMID)"    signs the programs (hardened runtime)
#   PKG_SIGN_ID="Developer ID Installer: NAME (TEAMID)"      signs the package
#   NOTARY_PROFILE=NAME   a keychain profile made once with
#                         xcrun notarytool store-credentials NAME --apple-id ID --team-id TEAMID
#                         the package is then submitted, waited for, and the ticket stapled.
# Verify: pkgutil --check-signature dist/WritebackAgent-VERSION.pkg; spctl -a -vv -t install dist/….pkg
set -euo pipefail

[ "$(uname -s)" = Darwin ] || {
	echo "build-pkg.sh: make pkg runs on a Mac (pkgbuild, productbuild, codesign); the darwin programs cross-compile anywhere with GOOS=darwin" >&2
	exit 2
}
[ $# -eq 1 ] || {
	echo "usage: build-pkg.sh VERSION" >&2
	exit 2
}
version=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
payload=$work/payload
bindir="$payload/Library/Writeback Agent"
mkdir -p "$bindir" "$payload/Library/LaunchDaemons" "$payload/Library/LaunchAgents" dist

# pkgbuild's version: digits and dots only.
pkg_version=$(echo "$version" | sed -E 's/^v//; s/[^0-9.].*//')
[ -n "$pkg_version" ] || pkg_version=0.0.0

for prog in wbagentd wbagent wbagent-tray wbagent-ui; do
	for arch in arm64 amd64; do
		# The tray and the windows use cgo (Cocoa, OpenGL); the service and CLI do not.
		cgo=0
		case $prog in wbagent-tray | wbagent-ui) cgo=1 ;; esac
		GOOS=darwin GOARCH=$arch CGO_ENABLED=$cgo go build -ldflags "-s -w -X main.version=$version" \
			-o "$work/$prog-$arch" "./cmd/$prog"
	done
	lipo -create -output "$bindir/$prog" "$work/$prog-arm64" "$work/$prog-amd64"
	if [ -n "${APP_SIGN_ID:-}" ]; then
		codesign --force --options runtime --timestamp --sign "$APP_SIGN_ID" "$bindir/$prog"
	fi
done
cp installer/macos/WritebackAgent.plist "$payload/Library/LaunchDaemons/"
cp installer/macos/WritebackAgent.tray.plist "$payload/Library/LaunchAgents/"

pkgbuild --root "$payload" --identifier org.writeback-agent.pkg --version "$pkg_version" \
	--scripts installer/macos/scripts --install-location / "$work/WritebackAgent-component.pkg"
sign=()
[ -n "${PKG_SIGN_ID:-}" ] && sign=(--sign "$PKG_SIGN_ID" --timestamp)
out=dist/WritebackAgent-$version.pkg
productbuild --package "$work/WritebackAgent-component.pkg" "${sign[@]}" "$out"

if [ -n "${NOTARY_PROFILE:-}" ]; then
	xcrun notarytool submit "$out" --keychain-profile "$NOTARY_PROFILE" --wait
	xcrun stapler staple "$out"
fi
echo "build-pkg.sh: built $out"
