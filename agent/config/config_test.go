package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

const appID = "6d1f3c2a-8b4e-4f7a-9c5d-2e8b7a1f4c93"

const valid = `
[practice]
ods = "A12345"

[clinical]
issuer = "https://login.example.com"
client_id = "wbagent"
api_url = "https://api.example.com"
application_id = "` + appID + `"
`

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValidFileWithDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(filepath.Join(dir, "install.toml"), write(t, dir, "config.toml", valid))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clinical.Issuer != "https://login.example.com" || cfg.Clinical.ApplicationID != appID {
		t.Errorf("clinical = %+v", cfg.Clinical)
	}
	if cfg.Retention() != 30*24*time.Hour || cfg.Log.MaxFiles != 5 || len(cfg.Clinical.Scopes) == 0 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.LogLevel().String() != "INFO" {
		t.Errorf("log level %v", cfg.LogLevel())
	}
}

func TestTheConfigFileOverridesTheInstallFile(t *testing.T) {
	dir := t.TempDir()
	install := write(t, dir, "install.toml", valid)
	cfgFile := write(t, dir, "config.toml", "[clinical]\nissuer = \"http://127.0.0.1:8642\"\n[log]\nlevel = \"debug\"\n")
	cfg, err := Load(install, cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clinical.Issuer != "http://127.0.0.1:8642" || cfg.Clinical.ClientID != "wbagent" || cfg.Log.Level != "debug" {
		t.Errorf("merged config = %+v", cfg)
	}
}

func TestProblemsNameTheSettingTheFileAndTheFix(t *testing.T) {
	for _, tc := range []struct {
		name     string
		install  string // "" : no install file
		config   string
		setting  string
		file     string // "install.toml" or "config.toml"
		contains string
	}{
		{"missing issuer", "", strings.Replace(valid, `issuer = "https://login.example.com"`, "", 1),
			SettingIssuer, "config.toml", "missing"},
		{"plain http to another host", "", strings.Replace(valid, "https://login.example.com", "http://login.example.com", 1),
			SettingIssuer, "config.toml", "must use https"},
		{"a wrong value set at install is blamed on the install file", strings.Replace(valid, "https://api.example.com", "ftp://x", 1), "",
			SettingAPIURL, "install.toml", "must use https"},
		{"unknown setting", "", valid + "\n[log]\nlevl = \"info\"\n", "log.levl", "config.toml", "not a setting"},
		{"wrong type", "", valid + "\n[log]\nmax_files = \"five\"\n", "log.max_files", "config.toml", "line"},
		{"syntax error", "", valid + "\n[log\n", "", "config.toml", "line"},
		{"scopes without a refresh token", "", valid + "scopes = [\"openid\"]\n", SettingScopes, "config.toml", "offline_access"},
		{"bad log level", "", valid + "\n[log]\nlevel = \"loud\"\n", SettingLogLevel, "config.toml", "not a log level"},
		{"retention out of range", "", valid + "\n[queue]\nretention_days = 0\n", SettingRetentionDays, "config.toml", "out of range"},
		{"relative socket", "", valid + "\n[local_api]\nsocket = \"api.sock\"\n", SettingSocket, "config.toml", "not a valid"},
		{"relative drop folder", "", valid + "\n[source]\ndrop_folder = \"drop\"\n", SettingDropFolder, "config.toml", "not an absolute path"},
		{"application id not a GUID", "", strings.Replace(valid, appID, "secret-party-key", 1),
			SettingApplicationID, "config.toml", "not a GUID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			install := filepath.Join(dir, "install.toml")
			if tc.install != "" {
				write(t, dir, "install.toml", tc.install)
			}
			_, err := Load(install, write(t, dir, "config.toml", tc.config))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load: %v, want *Error", err)
			}
			for _, p := range ce.Problems {
				if p.Setting == tc.setting && filepath.Base(p.File) == tc.file && strings.Contains(p.Message, tc.contains) {
					if p.Fix == "" {
						t.Errorf("problem %q has no fix", p)
					}
					if strings.Contains(err.Error(), "secret-party-key") {
						t.Errorf("the error shows the secret: %v", err)
					}
					return
				}
			}
			t.Errorf("no problem for %s in %s containing %q: %v", tc.setting, tc.file, tc.contains, err)
		})
	}
}

// The drop folder must exist or be creatable: its nearest existing parent is a folder.
func TestDropFolderMustBeAFolderOrCreatable(t *testing.T) {
	dir := t.TempDir()
	file := write(t, dir, "a-file", "x")
	for _, tc := range []struct {
		name, folder string
		ok           bool
	}{
		{"exists", dir, true},
		{"creatable", filepath.Join(dir, "new", "drop"), true},
		{"is a file", file, false},
		{"under a file", filepath.Join(file, "drop"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgDir := t.TempDir()
			conf := valid + "\n[source]\ndrop_folder = '" + tc.folder + "'\n"
			_, err := Load(write(t, cfgDir, "config.toml", conf))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), SettingDropFolder+": ") || !strings.Contains(err.Error(), "Fix:") {
				t.Fatalf("error %v does not name %s with a fix", err, SettingDropFolder)
			}
		})
	}
}

func TestAnUnknownSettingDoesNotHideTheOthersProblems(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(write(t, dir, "config.toml", "[clinical]\nclientid = \"x\"\nissuer = \"http://login.example.com\"\n"))
	for _, want := range []string{"clinical.clientid", SettingIssuer + `: "http://login.example.com" must use https`, SettingClientID, SettingAPIURL} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not report %q", err, want)
		}
	}
}

func TestNoFilesAtAllNamesEveryRequiredSetting(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "install.toml"), filepath.Join(dir, "config.toml"))
	for _, s := range []string{SettingPracticeODS, SettingIssuer, SettingClientID, SettingAPIURL, SettingApplicationID} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not name %s", err, s)
		}
	}
}

func TestRedactedTOMLHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(write(t, dir, "config.toml", valid))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.Redacted().TOML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), appID) || !strings.Contains(string(b), Redacted) {
		t.Errorf("redacted config:\n%s", b)
	}
	var back Config
	if err := toml.Unmarshal(b, &back); err != nil || back.Clinical.Issuer != cfg.Clinical.Issuer {
		t.Errorf("round trip: %v, %+v", err, back)
	}
}
