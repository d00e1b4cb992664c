package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no state folder", []string{"--listen", "127.0.0.1:0"}, "--state is required"},
		{"not loopback", []string{"--listen", "0.0.0.0:0", "--state", t.TempDir()}, "loopback"},
		{"token lifetime", []string{"--state", t.TempDir(), "--token-lifetime", "-1m"}, "token-lifetime"},
		{"unknown flag", []string{"--colour", "red"}, "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("run(%q) = %v (stderr %q), want an error about %s", tt.args, err, stderr.String(), tt.want)
			}
		})
	}
}

// TestBinaryServesTheSignInPageQuickly builds practicesim, runs it as a
// script would, and measures the time from starting the process to a first
// answer from the sign-in page. The simulator's own start-up is held to one
// second elsewhere (package sim); this bound leaves room for process start
// on a loaded machine.
func TestBinaryServesTheSignInPageQuickly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the test stops the process with SIGINT")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "practicesim")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--state", filepath.Join(t.TempDir(), "state"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := bufio.NewScanner(stdout)
	printed := map[string]string{}
	for len(printed) < 2 && lines.Scan() {
		if k, v, ok := strings.Cut(lines.Text(), "="); ok && strings.HasPrefix(k, "SIM_") {
			printed[k] = v
		}
	}
	base := printed["SIM_URL"]
	if !strings.HasPrefix(base, "http://127.0.0.1:") || printed["SIM_ADMIN_URL"] != base+"/admin" {
		t.Fatalf("printed %v; stderr %s", printed, stderr.String())
	}
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(begin)
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Sign in") {
		t.Errorf("sign-in page: %d", resp.StatusCode)
	}
	if elapsed > 5*time.Second {
		t.Errorf("%v from exec to the sign-in page", elapsed)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGINT: %v; stderr %s", err, stderr.String())
	}
	if !strings.Contains(string(rest), "shutting down") {
		t.Errorf("no shutdown message in %q", rest)
	}
}
