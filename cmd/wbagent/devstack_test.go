//go:build !windows

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevStackContract holds scripts/dev-stack.sh to the contract docs/cli.md gives it:
// make run and tests outside this repository use it.
func TestDevStackContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the local stack")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir, err := os.MkdirTemp("", "wbds") // short: the socket lives in it
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("../../scripts/dev-stack.sh")
	if err != nil {
		t.Fatal(err)
	}
	stack := func(feed string, args ...string) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "FEED="+feed)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dev-stack.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("bash", script, "stop", dir).Run()
		os.RemoveAll(dir)
	})

	stack("2", "start", dir)
	env := readEnv(t, filepath.Join(dir, "env"))
	for _, k := range []string{"WBAGENT_SOCKET", "SIM_URL", "SIM_ADMIN_URL", "CLINICIAN_ID"} {
		if env[k] == "" {
			t.Errorf("env lacks %s: %v", k, env)
		}
	}
	c := &cli{t: t, socket: env["WBAGENT_SOCKET"]}
	var st map[string]any
	c.json(&st, "status")
	if caller, _ := st["caller"].(map[string]any); caller["clinicalUserId"] != env["CLINICIAN_ID"] {
		t.Errorf("the current user is not linked to %s: %v", env["CLINICIAN_ID"], st["caller"])
	}
	var list []map[string]any
	c.json(&list, "queue", "list")
	if len(list) != 2 || list[0]["author"] != env["CLINICIAN_ID"] {
		t.Fatalf("FEED=2 queued %v", list)
	}

	// A killed service comes back with its data; the simulator keeps running.
	simPID := readPID(t, filepath.Join(dir, "practicesim.pid"))
	syscall.Kill(readPID(t, filepath.Join(dir, "wbagentd.pid")), syscall.SIGKILL)
	stack("", "start", dir)
	c.json(&list, "queue", "list")
	if len(list) != 2 {
		t.Errorf("after a restart: %d records, want 2", len(list))
	}
	if readPID(t, filepath.Join(dir, "practicesim.pid")) != simPID {
		t.Error("the simulator was started again though it was running")
	}
	if env2 := readEnv(t, filepath.Join(dir, "env")); env2["SIM_URL"] != env["SIM_URL"] {
		t.Errorf("SIM_URL changed from %s to %s", env["SIM_URL"], env2["SIM_URL"])
	}

	stack("", "stop", dir)
	for _, f := range []string{"wbagentd.pid", "practicesim.pid"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left after stop", f)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.run("status", "--socket", c.socket).code == exitOK {
		if time.Now().After(deadline) {
			t.Fatal("the service still answers after stop")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
