#!/usr/bin/env bash
# msi.sh VERSION [MSI_VERSION] — `make msi`: cross-compile the four Windows programs with
# VERSION stamped in, sign them, build dist/WritebackAgent-VERSION-x64.msi from
# installer/windows/*.wxs with wixl, patch what wixl cannot express, and sign the MSI; the
# Group Policy template (installer/windows/policy) is copied to OUT/policy.
#
#   MSI_VERSION  the MSI's ProductVersion, N.N.N[.N]; default: VERSION without a leading "v"
#                when it has that form (a release tag), else 0.0.0 (a development build,
#                which every release upgrades and which never downgrades one).
#   SIGN_CERT, SIGN_KEY   a PEM certificate (chain) and its private key: every .exe and the
#                MSI are Authenticode-signed with them (osslsigncode). SIGN_PASS: the key's
#                password, if any. SIGN_TIMESTAMP_URL: an RFC 3161 time-stamping service
#                (recommended for releases: the signature then outlives the certificate).
#                Without SIGN_CERT nothing is signed, and the script says so.
#   OUT          the output folder (default dist).
#
# Needs: go, x86_64-w64-mingw32-gcc (wbagent-ui uses cgo), wixl and msitools, osslsigncode
# when signing; installs what is missing (Debian). The first build of wbagent-ui takes about
# 5 minutes (Fyne through cgo); later ones reuse Go's build cache.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

[ $# -ge 1 ] || {
	echo "usage: msi.sh VERSION [MSI_VERSION]" >&2
	exit 2
}
version=$1
msi_version=${2:-}
if [ -z "$msi_version" ]; then
	if [[ $version =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)$ ]]; then
		msi_version=${BASH_REMATCH[1]}
	else
		msi_version=0.0.0
		echo "msi.sh: $version is not a release version (vN.N.N): the MSI's ProductVersion is $msi_version"
	fi
fi
[[ $msi_version =~ ^[0-9]+\.[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || {
	echo "msi.sh: MSI_VERSION $msi_version is not N.N.N" >&2
	exit 2
}

scripts/deps.sh wixl msitools gcc-mingw-w64-x86-64 osslsigncode >/dev/null

out=${OUT:-dist}
bin=$out/windows-$version
mkdir -p "$bin"

ldflags="-s -w -X main.version=$version"
echo "msi.sh: building the Windows programs $version into $bin"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$bin/" ./cmd/wbagentd ./cmd/wbagent
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -ldflags "$ldflags -H windowsgui" -o "$bin/" ./cmd/wbagent-tray
GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc \
	go build -ldflags "$ldflags -H windowsgui" -o "$bin/" ./cmd/wbagent-ui

# sign FILE: Authenticode-sign FILE in place with SIGN_CERT/SIGN_KEY.
sign() {
	local args=(sign -certs "$SIGN_CERT" -key "$SIGN_KEY" -h sha256 -n "Writeback Agent"
		-in "$1" -out "$1.signed")
	[ -n "${SIGN_PASS:-}" ] && args+=(-pass "$SIGN_PASS")
	[ -n "${SIGN_TIMESTAMP_URL:-}" ] && args+=(-ts "$SIGN_TIMESTAMP_URL")
	osslsigncode "${args[@]}" >/dev/null
	mv "$1.signed" "$1"
	echo "msi.sh: signed $1"
}

if [ -n "${SIGN_CERT:-}" ]; then
	[ -n "${SIGN_KEY:-}" ] || {
		echo "msi.sh: SIGN_CERT is set without SIGN_KEY" >&2
		exit 2
	}
	for exe in "$bin"/*.exe; do sign "$exe"; done
else
	echo "msi.sh: SIGN_CERT and SIGN_KEY not set: the programs and the MSI are NOT signed"
fi

msi=$out/WritebackAgent-$version-x64.msi
rm -f "$msi"
# wixl takes File/@Source relative to the working folder only.
wixl -a x64 -D Version="$msi_version" -D BinDir="$(realpath --relative-to=. "$bin")" -o "$msi" installer/windows/*.wxs

# What wixl cannot express:
# - SecureCustomProperties: public properties given on the command line reach the server
#   side of a managed (per-machine, elevated) install only if listed here.
# - The Start-menu shortcut: wixl makes it advertised (Target = the feature); make it run
#   wbagent-ui.exe directly.
public=(PRACTICE_ODS PLATFORM_URL ENROLMENT_CODE CLINICAL_API_URL CLINICAL_ISSUER CLINICAL_CLIENT_ID
	APPLICATION_ID LOCAL_API_PIPE DROP_FOLDER REMOVE_DATA)
secure=$(msiinfo export "$msi" Property | tr -d '\r' | sed -n 's/^SecureCustomProperties\t//p')
secure="$secure;$(
	IFS=';'
	echo "${public[*]}"
)"
secure=${secure#;}
msibuild "$msi" -q "UPDATE Property SET Value = '$secure' WHERE Property = 'SecureCustomProperties'" 2>/dev/null
msibuild "$msi" -q "UPDATE Shortcut SET Target = '[#wbagent_ui.exe]' WHERE Shortcut = 'ReviewShortcut'" 2>/dev/null

# - MsiLockPermissionsEx: the InstallSecrets key (ENROLMENT_CODE, APPLICATION_ID until the
#   service's first start moves them into the data folder) is readable by SYSTEM and
#   Administrators only, from the moment the MSI writes it: every Registry row writing that
#   key gets this protected DACL (no inherited "Users: read"). Windows Installer 5.0 or later
#   applies it (the package says InstallerVersion 500); Wine 8.0's msiexec ignores the table
#   (the key then keeps its inherited DACL), so `make test-windows` checks the rows in the
#   package, not the key's ACL.
secrets_sddl='D:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)'
idt=$(mktemp -d)
{
	printf 'MsiLockPermissionsEx\tLockObject\tTable\tSDDL\tCondition\r\n'
	printf 's72\ts72\ts32\ts0\tS255\r\n'
	printf 'MsiLockPermissionsEx\tMsiLockPermissionsEx\r\n'
	msiinfo export "$msi" Registry | tr -d '\r' | sddl=$secrets_sddl awk -F'\t' '
		NR > 3 && $2 == "2" && $3 == "SOFTWARE\\Writeback Agent\\InstallSecrets" {
			printf "Lock%s\t%s\tRegistry\t%s\t\r\n", $1, $1, ENVIRON["sddl"]
		}'
} >"$idt/MsiLockPermissionsEx.idt"
msibuild "$msi" -i "$idt/MsiLockPermissionsEx.idt"
rm -rf "$idt"
msiinfo export "$msi" Property | tr -d '\r' | grep -q "^SecureCustomProperties.*REMOVE_DATA" || {
	echo "msi.sh: patching SecureCustomProperties failed" >&2
	exit 1
}
locked=$(msiinfo export "$msi" MsiLockPermissionsEx | tr -d '\r' | grep -cF "	Registry	$secrets_sddl	" || true)
secret_rows=$(msiinfo export "$msi" Registry | tr -d '\r' | grep -cF "	SOFTWARE\\Writeback Agent\\InstallSecrets	" || true)
[ "$secret_rows" -ge 3 ] && [ "$locked" -eq "$secret_rows" ] || {
	echo "msi.sh: locking the InstallSecrets key failed ($locked of $secret_rows Registry rows locked)" >&2
	exit 1
}

[ -n "${SIGN_CERT:-}" ] && sign "$msi"
# The Group Policy template, next to the MSI for IT (docs/deploying.md).
rm -rf "$out/policy"
cp -r installer/windows/policy "$out/policy"
echo "msi.sh: built $msi (ProductVersion $msi_version)"
