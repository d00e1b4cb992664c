package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/servicetest"
)

// cli runs wbagent in-process against a service.
type cli struct {
	t      *testing.T
	socket string
	env    map[string]string
	stdin  string
}

type result struct {
	code           int
	stdout, stderr string
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := run(c.t.Context(), args, &streams{in: strings.NewReader(c.stdin), out: &out, err: &errOut,
		getenv: func(k string) string { return c.env[k] }})
	return result{code, out.String(), errOut.String()}
}

// ok runs a command that must succeed and returns its output.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(append(args, "--socket", c.socket)...)
	if r.code != exitOK {
		c.t.Fatalf("wbagent %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// json runs a command with --json and decodes its output.
func (c *cli) json(out any, args ...string) {
	c.t.Helper()
	text := c.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(text), out); err != nil {
		c.t.Fatalf("wbagent %s --json: %v\n%s", strings.Join(args, " "), err, text)
	}
}

func (c *cli) writeback(jobID string, author int, stack *servicetest.Stack) string {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), jobID+".json")
	if err := os.WriteFile(path, servicetest.Writeback(c.t, jobID, stack.Clinicians[author], nil), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// waitState waits until record id is in state.
func (c *cli) waitState(id, state string) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var rec map[string]any
		c.json(&rec, "queue", "show", id)
		if rec["state"] == state {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("record %s stayed %v, want %s", id, rec["state"], state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

func TestEveryCommandAgainstARunningService(t *testing.T) {
	stack := servicetest.Start(t, servicetest.Options{})
	c := &cli{t: t, socket: stack.Socket}
	clinician := stack.Clinicians[0]

	// status before anyone links: the contract's shape.
	var st map[string]any
	c.json(&st, "status")
	hasKeys(t, "status --json", st, "state", "counts", "conditions")
	if st["state"] != "attention" {
		t.Errorf("state %v, want attention (nobody linked)", st["state"])
	}
	if counts := st["counts"].(map[string]any); len(counts) != 8 || counts["needs-confirmation"] != 0.0 {
		t.Errorf("counts %v", counts)
	}
	conds := st["conditions"].([]any)
	if len(conds) == 0 {
		t.Fatal("no conditions")
	}
	hasKeys(t, "a condition", conds[0].(map[string]any), "code", "severity", "title", "fix")
	if out := c.ok("status"); !strings.Contains(out, "no-clinician-linked") || !strings.Contains(out, "Fix") && !strings.Contains(out, "links once") {
		t.Errorf("status:\n%s", out)
	}
	if r := c.run("doctor", "--socket", c.socket); r.code != doctorWarnings || !strings.Contains(r.stdout, "[ok] The Writeback Agent service is running") {
		t.Errorf("doctor before linking: exit %d\n%s", r.code, r.stdout)
	}

	// link: a wrong password fails in one line; the right one links.
	if r := c.run("link", "--username", clinician.Username, "--password", "wrong", "--socket", c.socket); r.code != exitError ||
		strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("link with a wrong password: exit %d %q", r.code, r.stderr)
	}
	if out := c.ok("link", "--username", clinician.Username, "--password", clinician.Password); !strings.Contains(out, "Linked") ||
		!strings.Contains(out, servicetest.ClinicalUserID(clinician)) {
		t.Errorf("link: %s", out)
	}

	// enqueue prints the id; again, the same id.
	file := c.writeback("cli-1", 0, stack)
	id := strings.TrimSpace(c.ok("enqueue", file))
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		t.Fatalf("enqueue printed %q, want an id", id)
	}
	if r := c.run("enqueue", file, "--socket", c.socket); r.code != exitOK || strings.TrimSpace(r.stdout) != id ||
		!strings.Contains(r.stderr, "already queued") {
		t.Errorf("enqueue again: %+v", r)
	}
	c.stdin = string(servicetest.Writeback(t, "cli-2", clinician, nil))
	id2 := strings.TrimSpace(c.ok("enqueue", "-"))
	c.stdin = ""
	id3 := strings.TrimSpace(c.ok("enqueue", c.writeback("cli-3", 0, stack)))
	stuck := strings.TrimSpace(c.ok("enqueue", c.writeback(servicetest.AttentionJobPrefix+"cli-4", 0, stack)))
	for _, i := range []string{id, id2, id3} {
		c.waitState(i, "needs-confirmation")
	}
	c.waitState(stuck, "needs-attention")

	// queue list: the contract's shape, filtered by state.
	var list []map[string]any
	c.json(&list, "queue", "list", "--state", "needs-confirmation")
	if len(list) != 3 {
		t.Fatalf("queue list --state needs-confirmation: %d records", len(list))
	}
	hasKeys(t, "queue list --json", list[0], "id", "jobId", "state")
	c.json(&list, "queue", "list", "--state", "needs-attention,needs-confirmation")
	for _, r := range list {
		if r["state"] == "needs-attention" {
			hasKeys(t, "a stuck record", r, "reason")
			if r["reason"].(map[string]any)["code"] != servicetest.AttentionReason.Code {
				t.Errorf("reason %v", r["reason"])
			}
		}
	}
	if out := c.ok("queue", "list"); !strings.Contains(out, "cli-1") || !strings.Contains(out, "(you)") {
		t.Errorf("queue list:\n%s", out)
	}

	// queue show: the clinician sees the content.
	if out := c.ok("queue", "show", id); !strings.Contains(out, "9434765919") || !strings.Contains(out, "Audit trail") {
		t.Errorf("queue show:\n%s", out)
	}

	// confirm, reject, retry, cancel.
	c.ok("confirm", id, "--online-visible=false")
	var rec map[string]any
	c.json(&rec, "queue", "show", id)
	if rec["state"] != "ready" || rec["pfsVisible"] != false {
		t.Errorf("after confirm: %v %v", rec["state"], rec["pfsVisible"])
	}
	c.json(&rec, "retry", id)
	if rec["state"] != "ready" {
		t.Errorf("retry of a ready record: %v", rec["state"])
	}
	c.ok("retry", stuck) // needs attention → checked again (and stopped again by the fake checks)
	c.json(&rec, "reject", id2, "--reason", "duplicate of another consultation")
	if rec["state"] != "rejected" {
		t.Errorf("after reject: %v", rec["state"])
	}
	if out := c.ok("cancel", id3, "--reason", "test data"); !strings.Contains(out, "cancelled") {
		t.Errorf("cancel: %s", out)
	}

	// diag writes a zip.
	bundle := filepath.Join(t.TempDir(), "diag.zip")
	c.ok("diag", "--out", bundle)
	if z, err := zip.OpenReader(bundle); err != nil || len(z.File) < 5 {
		t.Errorf("diag bundle: %v", err)
	} else {
		z.Close()
	}

	// metrics: Prometheus text, printed or written whole.
	if out := c.ok("metrics"); !strings.Contains(out, "wbagent_queue_records{state=\"rejected\"} 1") {
		t.Errorf("metrics:\n%.2000s", out)
	}
	prom := filepath.Join(t.TempDir(), "wbagent.prom")
	c.ok("metrics", "--out", prom)
	if b, err := os.ReadFile(prom); err != nil || !strings.Contains(string(b), "wbagent_filings_total") {
		t.Errorf("metrics --out: %v", err)
	}

	// watch: the state first, then changes, until interrupted.
	ctx, stop := context.WithCancel(t.Context())
	var watchOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "--json", "--socket", c.socket}, &streams{out: &watchOut, err: &bytes.Buffer{},
			getenv: func(string) string { return "" }})
	}()
	time.Sleep(200 * time.Millisecond)
	c.ok("enqueue", c.writeback("cli-5", 0, stack))
	time.Sleep(200 * time.Millisecond)
	stop()
	if code := <-done; code != exitOK {
		t.Errorf("watch exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(watchOut.String()), "\n")
	var first map[string]any
	if len(lines) < 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || first["type"] != "state" {
		t.Errorf("watch printed:\n%s", watchOut.String())
	}

	// unlink, and the status says so.
	if out := c.ok("unlink"); !strings.Contains(out, "Unlinked") {
		t.Errorf("unlink: %s", out)
	}
	c.json(&st, "status")
	if caller := st["caller"].(map[string]any); caller["clinicalUserId"] != nil {
		t.Errorf("still linked after unlink: %v", caller)
	}
	if r := c.run("unlink", "--socket", c.socket); r.code != exitError {
		t.Errorf("unlink twice: exit %d", r.code)
	}
	if out := c.ok("version"); !strings.HasPrefix(out, "wbagent ") {
		t.Errorf("version: %q", out)
	}
}

func TestTheSocketComesFromTheEnvironment(t *testing.T) {
	stack := servicetest.Start(t, servicetest.Options{})
	c := &cli{t: t, env: map[string]string{SocketEnv: stack.Socket}}
	if r := c.run("status", "--json"); r.code != exitOK || !strings.Contains(r.stdout, `"state"`) {
		t.Errorf("status with $%s: %+v", SocketEnv, r)
	}
	// --socket before the command works too.
	if r := (&cli{t: t}).run("--socket", stack.Socket, "queue", "list", "--json"); r.code != exitOK {
		t.Errorf("--socket before the command: %+v", r)
	}
}

func TestEveryCommandSaysInOneLineThatTheServiceIsNotRunning(t *testing.T) {
	c := &cli{t: t}
	sock := filepath.Join(t.TempDir(), "nobody.sock")
	out := filepath.Join(t.TempDir(), "d.zip")
	file := filepath.Join(t.TempDir(), "w.json")
	os.WriteFile(file, []byte("{}"), 0o600)
	for _, args := range [][]string{
		{"status"}, {"status", "--json"}, {"doctor"}, {"queue", "list"}, {"queue", "list", "--json"}, {"queue", "show", "1"},
		{"confirm", "1", "--online-visible=true"}, {"reject", "1", "--reason", "x"}, {"retry", "1"}, {"cancel", "1", "--reason", "x"},
		{"enqueue", file}, {"link"}, {"link", "--username", "u", "--password", "p"}, {"unlink"},
		{"diag", "--out", out}, {"watch"}, {"metrics"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := c.run(append(args, "--socket", sock)...)
			if r.code == exitOK {
				t.Errorf("exit 0")
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "not running") {
				t.Errorf("stderr %q: want one line saying the service is not running", r.stderr)
			}
		})
	}
	var st map[string]any
	r := c.run("status", "--json", "--socket", sock)
	if json.Unmarshal([]byte(r.stdout), &st) != nil || st["state"] != "offline" {
		t.Errorf("status --json when offline printed %q", r.stdout)
	}
	if r := c.run("doctor", "--socket", sock); r.code != doctorBlocking {
		t.Errorf("doctor when offline: exit %d, want %d", r.code, doctorBlocking)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("diag left a file behind")
	}
}

func TestUsageErrors(t *testing.T) {
	c := &cli{t: t}
	for _, args := range [][]string{
		{}, {"frobnicate"}, {"queue"}, {"queue", "frob"}, {"confirm"}, {"confirm", "x"}, {"confirm", "1", "2"},
		{"confirm", "1"}, {"confirm", "1", "--online-visible=maybe"}, {"confirm", "1", "--version", "3"},
		{"reject", "1"}, {"cancel", "1"}, {"queue", "list", "--state", "bogus"}, {"diag"}, {"status", "--colour"},
	} {
		if r := c.run(args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("wbagent %s: exit %d %q, want a usage error", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// Online visibility has no default: confirm without --online-visible is refused with an
// error naming the flag, before anything is sent to the service.
func TestConfirmRequiresOnlineVisible(t *testing.T) {
	c := &cli{t: t}
	sock := filepath.Join(t.TempDir(), "nobody.sock")
	r := c.run("confirm", "1", "--socket", sock)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--online-visible=true or --online-visible=false is required") {
		t.Errorf("confirm 1: exit %d %q, want a usage error naming --online-visible", r.code, r.stderr)
	}
	r = c.run("confirm", "1", "--online-visible=perhaps", "--socket", sock)
	if r.code != exitUsage || !strings.Contains(r.stderr, "online-visible") {
		t.Errorf("confirm 1 --online-visible=perhaps: exit %d %q, want a usage error", r.code, r.stderr)
	}
	for _, v := range []string{"true", "false"} {
		if r := c.run("confirm", "1", "--online-visible="+v, "--socket", sock); r.code == exitUsage {
			t.Errorf("confirm 1 --online-visible=%s: usage error %q", v, r.stderr)
		}
	}
}
