// Package servicetest runs the service in-process against an in-process simulated practice
// (cmd/practicesim/sim), for the tests of the local API, the client and the commands. It
// is test support: nothing in the product imports it.
package servicetest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/link/signin"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/safesocket"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/docs"
)

// Options configure Start.
type Options struct {
	Identify   func(net.Conn) (safesocket.Identity, error) // nil: the real peer identity
	Components []service.Component                         // nil: FakeChecks only
	Logger     *slog.Logger
	LogDir     string
	// Configure, if set, changes the configuration before the service starts.
	Configure func(*config.Config)
	// SimLogger, if set, receives the simulator's logs (its Partner API calls, never
	// patient data).
	SimLogger *slog.Logger
}

// Stack is a running simulator and service.
type Stack struct {
	Sim     *sim.Simulator
	SimURL  string
	Service *service.Service
	Socket  string
	DataDir string
	Config  config.Config
	// Clinicians are the simulated staff who may file (GPs), in fixture order.
	Clinicians []fixtures.Staff
}

// Start starts a simulator and a service on a fresh data folder and socket, both stopped
// when the test ends.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	s := &Stack{}
	var err error
	s.Sim, err = sim.New(sim.Config{Logger: opts.SimLogger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); s.Sim.Close() })
	s.SimURL, err = s.Sim.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range s.Sim.Practice().Staff {
		if st.JobCategory == fixtures.GeneralPractitioner {
			s.Clinicians = append(s.Clinicians, st)
		}
	}
	// A short socket path: Unix socket paths are limited to about 100 bytes.
	sockDir, err := os.MkdirTemp("", "wbst")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	s.Socket = filepath.Join(sockDir, "api.sock")
	if runtime.GOOS == "windows" {
		// The local API is a named pipe there: one name per test service.
		s.Socket = `\\.\pipe\` + filepath.Base(sockDir)
	}
	s.DataDir = t.TempDir()
	s.Config = config.Default()
	s.Config.Practice.ODS = s.Sim.Practice().ODSCode
	s.Config.Clinical.Issuer = s.SimURL
	s.Config.Clinical.ClientID = idp.DesktopClientID
	s.Config.Clinical.APIURL = s.SimURL
	s.Config.Clinical.ApplicationID = sim.ApplicationID
	s.Config.LocalAPI.Socket = s.Socket
	if opts.Configure != nil {
		opts.Configure(&s.Config)
	}
	components := opts.Components
	if components == nil {
		components = []service.Component{FakeChecks{}}
	}
	s.Service, err = service.Start(service.Options{
		DataDir: s.DataDir, Config: s.Config, Logger: opts.Logger, LogDir: opts.LogDir, Version: "test",
		Components: components, Identify: opts.Identify, StopGrace: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Service.Stop() })
	return s
}

// Settings returns where clinicians sign in.
func (s *Stack) Settings() link.Settings {
	return link.Settings{Issuer: s.Config.Clinical.Issuer, ClientID: s.Config.Clinical.ClientID, Scopes: s.Config.Clinical.Scopes}
}

// SignIn signs a simulated clinician in with the password grant.
func (s *Stack) SignIn(t testing.TB, who fixtures.Staff) *signin.Result {
	t.Helper()
	res, err := signin.Password(context.Background(), http.DefaultClient, s.Settings(), who.Username, who.Password)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ClinicalUserID returns a simulated clinician's clinical user id (the token subject).
func ClinicalUserID(who fixtures.Staff) string { return fmt.Sprint(who.UserInRoleID) }

// Writeback returns a valid writeback/v1 document (docs/examples/writeback.json) with the
// given job id, written by author. mod, if not nil, changes it further.
func Writeback(t testing.TB, jobID string, author fixtures.Staff, mod func(*writeback.Writeback)) []byte {
	t.Helper()
	doc, err := writeback.DecodeBytes(docs.ExampleWriteback)
	if err != nil {
		t.Fatal(err)
	}
	doc.JobID = jobID
	doc.Author = writeback.Author{ClinicalUserID: ClinicalUserID(author), DisplayName: author.DisplayName()}
	if mod != nil {
		mod(doc)
	}
	b, err := writeback.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AttentionJobPrefix marks the job ids FakeChecks stops with a reason.
const AttentionJobPrefix = "attention-"

// AttentionReason is the reason FakeChecks gives.
var AttentionReason = queue.Reason{Code: "test-attention", Text: "The test asked for attention.", Fix: "Retry it."}

// FakeChecks stands in for the pre-filing checks, which join the service later: records
// whose job id starts with AttentionJobPrefix need attention (AttentionReason), every other
// received record moves on as if its checks had passed. Tests only: it checks nothing.
type FakeChecks struct{}

// Name implements service.Component.
func (FakeChecks) Name() string { return "checks (test stand-in)" }

// Run implements service.Component.
func (FakeChecks) Run(ctx context.Context, env service.Env) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var recs []*queue.Record
		if err := env.Queue.Each(queue.Filter{States: []queue.State{queue.Received}}, func(r *queue.Record) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			return err
		}
		by := queue.Actor{Component: "checks"}
		for _, r := range recs {
			var err error
			if strings.HasPrefix(r.JobID, AttentionJobPrefix) {
				_, err = env.Queue.NeedsAttention(ctx, r.ID, AttentionReason, by)
			} else {
				_, err = env.Queue.MarkChecked(ctx, r.ID, by)
			}
			if err != nil && ctx.Err() == nil {
				env.Logger.Warn("test checks", "record", r.ID, "err", err)
			}
		}
	}
}
