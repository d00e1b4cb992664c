package service_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/dropfolder"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/logging"
	"github.com/writeback-agent/wbagent/agent/logtest"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/source"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// component is a test component.
type component struct {
	name string
	run  func(ctx context.Context, env service.Env) error
}

func (c component) Name() string                                   { return c.name }
func (c component) Run(ctx context.Context, env service.Env) error { return c.run(ctx, env) }

func TestComponentsRunUntilStopAndAStoppedOneIsReported(t *testing.T) {
	var stoppedCleanly sync.WaitGroup
	stoppedCleanly.Add(1)
	blocksUntilStop := component{"filer", func(ctx context.Context, env service.Env) error {
		if env.Queue == nil || env.Links == nil || env.Conditions == nil || env.Logger == nil {
			t.Error("incomplete environment")
		}
		<-ctx.Done()
		stoppedCleanly.Done()
		return nil
	}}
	fails := component{"watcher", func(context.Context, service.Env) error { return errors.New("boom") }}
	ignoresStop := component{"stubborn", func(context.Context, service.Env) error { select {} }}

	stack := servicetest.Start(t, servicetest.Options{Components: []service.Component{blocksUntilStop, fails, ignoresStop}})
	c := client.New(stack.Socket)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := c.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.State == "blocked" && len(st.Conditions) > 0 && st.Conditions[0].Code == service.CodeComponentStopped {
			if !strings.Contains(st.Conditions[0].Title, "watcher") {
				t.Errorf("condition %+v does not name the component", st.Conditions[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no component-stopped condition: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	if err := stack.Service.Stop(); err != nil {
		t.Fatal(err)
	}
	stoppedCleanly.Wait()
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Stop took %v with a stubborn component, want about the grace period", d)
	}
	if _, err := c.Status(t.Context()); !isNotRunning(err) {
		t.Errorf("Status after Stop = %v, want NotRunningError", err)
	}
}

func isNotRunning(err error) bool {
	var nr *client.NotRunningError
	return errors.As(err, &nr)
}

// Canary patient data: none of it may appear in any log or diagnostics bundle.
var canaries = []string{"9990001112", "Zzyzxcanary", "Quillonella", "canary-summary-text", "canary-attachment",
	"Canarycode display", "canary-reject-reason", "canary-cancel-reason", canaryCredential}

// canaryCredential is a platform enrolment credential set the old way, in the configuration.
const canaryCredential = "canary-credential-Qx7Wv3"

type systemLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *systemLog) add(v ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(&s.buf, v...)
	return nil
}
func (s *systemLog) Info(v ...any) error    { return s.add(v...) }
func (s *systemLog) Warning(v ...any) error { return s.add(v...) }
func (s *systemLog) Error(v ...any) error   { return s.add(v...) }

func TestCanaryPatientDataNeverReachesLogsOrDiagnostics(t *testing.T) {
	logDir := t.TempDir()
	sys := &systemLog{}
	var console logtest.Buffer
	log, closeLog, err := logging.New(logging.Options{Dir: logDir, Level: slog.LevelDebug, MaxSizeMB: 10, MaxFiles: 2,
		System: sys, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	drop := t.TempDir()
	stack := servicetest.Start(t, servicetest.Options{Logger: log, LogDir: logDir,
		Components: []service.Component{servicetest.FakeChecks{}, dropfolder.Component{Settle: 20 * time.Millisecond},
			source.Component{Poll: 50 * time.Millisecond,
				Backoff: queue.RetryPolicy{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2}}},
		Configure: func(c *config.Config) {
			c.Source.URL = c.Clinical.APIURL // the simulated platform refuses the canary credential
			c.Source.Credential = canaryCredential
			c.Source.DropFolder = drop
		}})
	ctx := t.Context()
	c := client.New(stack.Socket) // this process's user: the service's own, so an administrator

	// Link this user to the first clinician, and try a forged link too.
	res := stack.SignIn(t, stack.Clinicians[0])
	if _, err := c.Link(ctx, apitype.LinkRequest{ClinicalUserID: res.User.ID, AccessToken: "forged-Zzyzxcanary", RefreshToken: "x"}); err == nil {
		t.Error("a forged link was accepted")
	}
	if _, err := c.Link(ctx, apitype.LinkRequest{ClinicalUserID: res.User.ID, AccessToken: res.Token.AccessToken,
		RefreshToken: res.Token.RefreshToken, Expiry: res.Token.Expiry, IDToken: res.IDToken}); err != nil {
		t.Fatal(err)
	}
	watch, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()

	canary := func(d *writeback.Writeback) {
		d.Patient = writeback.Patient{NHSNumber: "9990001112", FamilyName: "Zzyzxcanary", GivenNames: "Quillonella",
			DateOfBirth: "1970-01-01", IdentityVerified: true}
		d.Summary = "canary-summary-text"
		d.Attachments[0].FileName = "canary-attachment.png"
		d.Codes[0].Display = "Canarycode display"
	}
	var ids []uint64
	for i := range 3 {
		doc := servicetest.Writeback(t, fmt.Sprintf("canary-%d", i), stack.Clinicians[0], canary)
		r, err := c.Enqueue(ctx, bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	invalid := servicetest.Writeback(t, "canary-invalid", stack.Clinicians[0], func(d *writeback.Writeback) {
		canary(d)
		d.Patient.DateOfBirth = "2999-12-31"
		d.Attachments[0].MediaType = "Zzyzxcanary"
	})
	if _, err := c.Enqueue(ctx, bytes.NewReader(invalid)); err == nil {
		t.Error("an invalid document was queued")
	}
	// The same invalid document through the drop folder: its error file is shown to IT.
	if err := os.WriteFile(filepath.Join(drop, "canary.tmp"), invalid, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(drop, "canary.tmp"), filepath.Join(drop, "canary.json")); err != nil {
		t.Fatal(err)
	}
	errFile := filepath.Join(drop, dropfolder.FailedDir, "canary"+dropfolder.ErrorSuffix)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(errFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the invalid dropped file was not failed")
		}
	}
	// The credential found in the configuration is sealed in the data folder.
	sealed, err := os.ReadFile(filepath.Join(stack.DataDir, source.CredentialFile))
	if err != nil {
		t.Fatalf("the credential in the configuration was not sealed: %v", err)
	}
	for _, id := range ids {
		waitFor(t, c, id, queue.NeedsConfirmation)
		if _, err := c.Record(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Confirm(ctx, ids[0], true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reject(ctx, ids[1], "canary-reject-reason Zzyzxcanary"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cancel(ctx, ids[2], "canary-cancel-reason Zzyzxcanary"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Queue(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := watch.Next(); err != nil {
			t.Fatal(err)
		}
	}
	var bundle bytes.Buffer
	if err := c.Diag(ctx, &bundle); err != nil {
		t.Fatal(err)
	}
	if err := stack.Service.Stop(); err != nil {
		t.Fatal(err)
	}

	// Everything written anywhere but the queue.
	errText, _ := os.ReadFile(errFile)
	sources := map[string][]byte{"system log": sys.buf.Bytes(), "console": []byte(console.String()),
		"sealed credential": sealed, "drop folder error file": errText}
	if !strings.Contains(console.String(), config.SettingSourceCred) {
		t.Errorf("no warning to remove %s from the configuration", config.SettingSourceCred)
	}
	entries, _ := os.ReadDir(logDir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(logDir, e.Name()))
		sources["log file "+e.Name()] = b
	}
	z, err := zip.NewReader(bytes.NewReader(bundle.Bytes()), int64(bundle.Len()))
	if err != nil {
		t.Fatalf("diagnostics bundle: %v", err)
	}
	for _, f := range z.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		sources["diagnostics "+f.Name] = b
	}
	if len(sources["log file "+logging.FileName]) == 0 || len(sources["diagnostics logs/"+logging.FileName]) == 0 {
		t.Fatalf("nothing logged: %v", keys(sources))
	}
	for name, b := range sources {
		for _, c := range canaries {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(c))) {
				t.Errorf("%s contains %q", name, c)
			}
		}
		for _, secret := range []string{res.Token.AccessToken, res.Token.RefreshToken, stack.Config.Clinical.ApplicationID} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains a secret", name)
			}
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func waitFor(t *testing.T, c *client.Client, id uint64, state queue.State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := c.Record(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("record %d stayed %s", id, r.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
