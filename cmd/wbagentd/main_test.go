package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/logging"
	"github.com/writeback-agent/wbagent/agent/paths"
)

const validConfig = `[practice]
ods = "A12345"

[clinical]
issuer = "http://127.0.0.1:8642"
client_id = "wbagent"
api_url = "http://127.0.0.1:8642"
application_id = "6d1f3c2a-8b4e-4f7a-9c5d-2e8b7a1f4c93"
`

func dataDir(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, paths.ConfigFile), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		config   string
		code     int
		contains []string
	}{
		{"valid", validConfig, exitOK, []string{"is valid", config.Redacted, "127.0.0.1:8642"}},
		{"missing issuer", strings.Replace(validConfig, `issuer = "http://127.0.0.1:8642"`, "", 1), exitError,
			[]string{"1 problem", config.SettingIssuer, "missing", "Fix: set it to", paths.ConfigFile}},
		{"unknown setting", validConfig + "colour = \"blue\"\n", exitError,
			[]string{"clinical.colour", "not a setting"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run([]string{"--check-config", "--data", dataDir(t, tc.config)}, &out, &errOut)
			all := out.String() + errOut.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, all)
			}
			for _, want := range tc.contains {
				if !strings.Contains(all, want) {
					t.Errorf("output lacks %q:\n%s", want, all)
				}
			}
			if strings.Contains(all, "6d1f3c2a") {
				t.Error("the application id is shown")
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"run", "--colour"}, {"run", "extra"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage || errOut.Len() == 0 {
			t.Errorf("run(%q) = %d %q, want a usage error", args, code, errOut.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, &out); code != exitOK || !strings.HasPrefix(out.String(), "wbagentd ") {
		t.Errorf("version: %d %q", code, out.String())
	}
}

func TestForegroundRunsUntilStoppedAndKeepsItsData(t *testing.T) {
	dir := dataDir(t, "")
	sockDir, err := os.MkdirTemp("", "wbd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "api.sock")
	if runtime.GOOS == "windows" {
		sock = `\\.\pipe\` + filepath.Base(sockDir)
	}
	cfgFile := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(cfgFile, []byte(validConfig+"[local_api]\nsocket = '"+sock+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loc, err := parseLocation("run", []string{"--data", dir, "--config", cfgFile}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second start finds the first one's data
		ctx, cancel := context.WithCancel(t.Context())
		var stderr bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- foreground(ctx, loc, &stderr) }()
		c := client.New(sock)
		deadline := time.Now().Add(10 * time.Second)
		for {
			// Each attempt is bounded: under Wine the first client after a start can be
			// handed a pipe instance nobody serves (safesocket's drainFirstInstance).
			actx, acancel := context.WithTimeout(t.Context(), 2*time.Second)
			_, err := c.Status(actx)
			acancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the service never answered", round)
			}
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the service did not stop")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("stopping took %v", d)
		}
		actx, acancel := context.WithTimeout(t.Context(), 5*time.Second)
		if _, err := c.Status(actx); err == nil {
			t.Error("the service still answers")
		}
		acancel()
	}
	for _, f := range []string{"queue.db", filepath.Join(paths.LogsDir, logging.FileName)} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestForegroundRefusesABadConfiguration(t *testing.T) {
	loc, err := parseLocation("run", []string{"--data", dataDir(t, "[clinical]\n")}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err = foreground(t.Context(), loc, &stderr)
	if err == nil || !strings.Contains(stderr.String(), config.SettingIssuer) {
		t.Errorf("foreground = %v, stderr %q", err, stderr.String())
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		t.Error("the error is returned raw as well as printed")
	}
}

func TestManagerConfigRunsTheServiceWithTheSameLocation(t *testing.T) {
	loc, err := parseLocation("install", []string{"--data", "/srv/wb", "--config", "/etc/wb.toml"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := managerConfig(loc)
	data, _ := filepath.Abs("/srv/wb") // a drive is added on Windows
	cfg, _ := filepath.Abs("/etc/wb.toml")
	if got := strings.Join(c.Arguments, " "); got != "service --data "+data+" --config "+cfg || c.Name != serviceName {
		t.Errorf("arguments %q, name %q", got, c.Name)
	}
	if c.Executable != "" || c.WorkingDirectory != "" {
		t.Error("the service must run from its own executable, not a working directory")
	}
}
