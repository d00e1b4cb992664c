package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/source"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/platform"
)

// loadSealed opens the credential sealed in dir.
func loadSealed(t *testing.T, dir string) (string, error) {
	t.Helper()
	key, err := seal.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return source.LoadCredential(dir, s)
}

func TestEnrolSealsTheCredential(t *testing.T) {
	was := enrolStages
	enrolStages = false // TestServiceUsesTheEnrolledCredential covers the staged way
	t.Cleanup(func() { enrolStages = was })
	const cred = "canary-enrol-credential-5k2p"
	for _, tc := range []struct {
		name     string
		file     string // written to a file given with --credential-file; "" : none
		stdin    string
		extra    []string
		wantCode int
	}{
		{name: "from a file", file: cred + "\r\n", wantCode: exitOK},
		{name: "from standard input", stdin: cred + "\n", wantCode: exitOK},
		{name: "never from the command line", extra: []string{cred}, wantCode: exitUsage},
		{name: "empty", file: "\n", wantCode: exitError},
		{name: "two words", file: "not a credential", wantCode: exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := []string{"enrol", "--data", dir}
			if tc.file != "" {
				f := filepath.Join(t.TempDir(), "cred.txt")
				if err := os.WriteFile(f, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--credential-file", f)
			}
			stdin = strings.NewReader(tc.stdin)
			t.Cleanup(func() { stdin = os.Stdin })
			var out, errOut bytes.Buffer
			code := run(append(args, tc.extra...), &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s%s", code, tc.wantCode, out.String(), errOut.String())
			}
			if strings.Contains(out.String()+errOut.String(), cred) {
				t.Error("the output shows the credential")
			}
			path := filepath.Join(dir, source.CredentialFile)
			if tc.wantCode != exitOK {
				if _, err := os.Stat(path); err == nil {
					t.Error("a credential was stored")
				}
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(cred)) {
				t.Error("the stored file holds the credential in clear")
			}
			if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			if got, err := loadSealed(t, dir); err != nil || got != cred {
				t.Fatalf("sealed credential: %v (matches: %v)", err, got == cred)
			}
		})
	}
}

// Without a credential the platform link says how to enrol; once enrolled, the service uses
// the sealed credential.
//
// Both ways of enrolling: sealed by enrol itself, and (as on Windows, where enrol cannot open
// the data key) left protected for the service, which seals it at its next start.
func TestServiceUsesTheEnrolledCredential(t *testing.T) {
	for _, stages := range []bool{false, true} {
		t.Run("staged="+strconv.FormatBool(stages), func(t *testing.T) {
			was := enrolStages
			enrolStages = stages
			t.Cleanup(func() { enrolStages = was })
			testServiceUsesTheEnrolledCredential(t, stages)
		})
	}
}

func testServiceUsesTheEnrolledCredential(t *testing.T, staged bool) {
	st := servicetest.Start(t, servicetest.Options{Components: platformComponents(), Configure: func(c *config.Config) {
		c.Source.URL = c.Clinical.APIURL
	}})
	c := client.New(st.Socket)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s, err := c.Status(t.Context())
		if err == nil && hasCondition(s.Conditions, source.CodeNotEnrolled, "wbagentd enrol") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s condition: %+v (err %v)", source.CodeNotEnrolled, s, err)
		}
	}
	if err := st.Service.Stop(); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "cred.txt")
	if err := os.WriteFile(f, []byte(platform.DevCredential+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"enrol", "--data", st.DataDir, "--credential-file", f}, &bytes.Buffer{}, &bytes.Buffer{}); code != exitOK {
		t.Fatalf("enrol: exit %d", code)
	}
	pending := filepath.Join(st.DataDir, source.PendingCredentialFile)
	if _, err := os.Stat(pending); (err == nil) != staged {
		t.Fatalf("pending credential file: %v (staged %t)", err, staged)
	}
	if b, _ := os.ReadFile(pending); staged && runtime.GOOS == "windows" && bytes.Contains(b, []byte(platform.DevCredential)) {
		t.Error("the pending credential is in clear")
	}
	svc, err := service.Start(service.Options{DataDir: st.DataDir, Config: st.Config, Components: platformComponents(),
		StopGrace: time.Second, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	p := st.Sim.Platform()
	if _, err := p.Feed(1, st.Clinicians[0].UserInRoleID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if jobs := p.Jobs(); len(jobs) == 1 && jobs[0].Acked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the platform's writeback was not pulled with the enrolled credential")
		}
	}
	s, err := c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if hasCondition(s.Conditions, source.CodeNotEnrolled, "") {
		t.Error("still reported as not enrolled")
	}
	if _, err := os.Stat(pending); err == nil {
		t.Error("the pending credential was kept after the service sealed it")
	}
	if got, err := loadSealed(t, st.DataDir); err != nil || got != platform.DevCredential {
		t.Errorf("sealed credential: %v (matches: %v)", err, got == platform.DevCredential)
	}
}

func hasCondition(cs []condition.Condition, code, fixHas string) bool {
	for _, c := range cs {
		if c.Code == code && strings.Contains(c.Fix, fixHas) {
			return true
		}
	}
	return false
}
