package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// odsPattern matches an ODS organisation code such as A12345.
var odsPattern = regexp.MustCompile(`^[A-Z0-9]{3,10}$`)

// guidPattern matches a GUID such as 6d1f3c2a-8b4e-4f7a-9c5d-2e8b7a1f4c93.
var guidPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// validate checks every setting and records a problem for each that is wrong.
func (l *loader) validate(c Config) {
	if !odsPattern.MatchString(c.Practice.ODS) {
		l.problem(SettingPracticeODS, fmt.Sprintf("%q is not an ODS code", c.Practice.ODS),
			`set it to the practice's ODS code, in capitals, e.g. ods = "A12345" (it is on the practice's EMIS organisation details)`)
	}
	l.checkURL(SettingIssuer, c.Clinical.Issuer,
		`set it to the sign-in address (OpenID Connect issuer) of the clinical system from the supplier's set-up guide, e.g. issuer = "https://login.example.com"`)
	if c.Clinical.ClientID == "" || strings.ContainsAny(c.Clinical.ClientID, " \t\r\n") {
		l.problem(SettingClientID, "missing, or contains spaces",
			`set it to the client id the clinical system registered for Writeback Agent, e.g. client_id = "wbagent"`)
	}
	for _, need := range []string{"openid", "offline_access"} {
		if !slices.Contains(c.Clinical.Scopes, need) {
			l.problem(SettingScopes, fmt.Sprintf("does not include %q", need),
				fmt.Sprintf("add %q to the list, or remove the setting to use the default scopes", need))
		}
	}
	l.checkURL(SettingAPIURL, c.Clinical.APIURL,
		`set it to the base address of the clinical system's API, e.g. api_url = "https://api.example.com"`)
	if c.Source.URL != "" {
		l.checkURL(SettingSourceURL, c.Source.URL,
			`set it to the online consultation platform's address from its enrolment instructions, or remove it to pull nothing`)
	}
	if c.Source.PollSeconds < 1 || c.Source.PollSeconds > 3600 {
		l.problem(SettingSourcePoll, fmt.Sprintf("%d is not between 1 and 3600", c.Source.PollSeconds),
			`set it to how many seconds to wait between asks for new writebacks, e.g. poll_seconds = 30`)
	}
	l.validateWatch(c.Watch)
	if d := c.Source.DropFolder; d != "" {
		l.checkDropFolder(d)
	}
	if !guidPattern.MatchString(c.Clinical.ApplicationID) {
		l.problem(SettingApplicationID, "missing, or not a GUID (the value is not shown: it is a secret)",
			"set it to the application id (party key) from the clinical system supplier, in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
	}
	if s := c.LocalAPI.Socket; s != "" && !validSocket(s) {
		l.problem(SettingSocket, fmt.Sprintf("%q is not a valid local API address", s), socketFix)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		l.problem(SettingLogLevel, fmt.Sprintf("%q is not a log level", c.Log.Level),
			`set it to "debug", "info", "warn" or "error" (or remove it for "info")`)
	}
	l.checkRange(SettingLogMaxSizeMB, c.Log.MaxSizeMB, 1, 1024, "megabytes per log file")
	l.checkRange(SettingLogMaxFiles, c.Log.MaxFiles, 1, 100, "old log files kept")
	l.checkRange(SettingRetentionDays, c.Queue.RetentionDays, 1, 365, "days")
	l.validateEMIS(c.EMIS)
}

// checkDropFolder requires an absolute path to a folder that exists or can be created (its
// nearest existing parent is a folder). The service creates it.
func (l *loader) checkDropFolder(dir string) {
	const fix = `set it to the absolute path of a folder on this PC's own disk that IT may write to, e.g. drop_folder = 'C:\WritebackDrop' (the service creates it if need be), or remove it`
	if !filepath.IsAbs(dir) {
		l.problem(SettingDropFolder, fmt.Sprintf("%q is not an absolute path", dir), fix)
		return
	}
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return
		case err == nil:
			l.problem(SettingDropFolder, fmt.Sprintf("%q is a file, not a folder", p), fix)
			return
		case !errors.Is(err, fs.ErrNotExist):
			l.problem(SettingDropFolder, fmt.Sprintf("cannot check %q: %v", p, err), fix)
			return
		}
		if filepath.Dir(p) == p {
			l.problem(SettingDropFolder, fmt.Sprintf("%q cannot be created: its drive does not exist", dir), fix)
			return
		}
	}
}

// checkURL requires an absolute https URL, or http to this PC (for the simulator).
func (l *loader) checkURL(setting, value, fix string) {
	if value == "" {
		l.problem(setting, "missing", fix)
		return
	}
	u, err := url.Parse(value)
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		l.problem(setting, fmt.Sprintf("%q is not an absolute web address without query or credentials", value), fix)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		l.problem(setting, fmt.Sprintf("%q must use https (plain http only to this PC, for testing)", value), fix)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (l *loader) checkRange(setting string, v, lo, hi int, unit string) {
	if v < lo || v > hi {
		l.problem(setting, fmt.Sprintf("%d is out of range", v), fmt.Sprintf("set it between %d and %d %s", lo, hi, unit))
	}
}

const socketFix = `remove it to use the default, or give an absolute path (Windows: \\.\pipe\NAME)`

func validSocket(s string) bool {
	if runtime.GOOS == "windows" {
		return strings.HasPrefix(s, `\\.\pipe\`) && len(s) > len(`\\.\pipe\`)
	}
	return filepath.IsAbs(s)
}
