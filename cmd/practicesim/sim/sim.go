// Package sim assembles the practice simulator: a stand-in for an EMIS-X
// practice that the Writeback Agent's tests and local stack talk to instead
// of a real EMIS system. One HTTP handler serves, on one loopback address:
//
//   - the OAuth 2.0 / OpenID Connect provider (issuer = the base URL):
//     /.well-known/openid-configuration, /authorize, /login (the sign-in
//     page), /oauth/token, /keys, /userinfo, /revoke, /end_session;
//   - the Partner API operations under /api/v1/ (package papi);
//   - the admin API and page under /admin/ (package admin);
//   - the online consultation platform under /platform/v1/, with its admin routes under
//     /admin/platform/ (package platform).
//
// To run one inside a test:
//
//	s, err := sim.New(sim.Config{StateDir: t.TempDir()})
//	…
//	base, err := s.Start(t.Context(), "127.0.0.1:0")
//	…
//	defer s.Close()
//
// and sign a clinician in with the password grant at base+"/oauth/token"
// (client idp.DesktopClientID, a username and password from
// s.Practice().Staff), then call the Partner API with the access token and
// the header applicationId: sim.ApplicationID.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/contract"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/admin"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/papi"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/platform"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
	"github.com/writeback-agent/wbagent/docs"
)

// ApplicationID is the simulated partner application's party key, the value
// of the applicationId header.
const ApplicationID = "6d1f3c2a-8b4e-4f7a-9c5d-2e8b7a1f4c93"

// Defaults for Config.
const (
	DefaultTokenLifetime   = 60 * time.Minute
	DefaultSessionLifetime = 30 * 24 * time.Hour
	DefaultSeed            = 1
)

// Names of the state files under Config.StateDir.
const (
	consultationsFile = "consultations.json"
	emasFile          = "emas.json"
	idpFile           = "idp.json"
)

// Config configures a Simulator. The zero value is usable: nothing is
// persisted, seed DefaultSeed, default lifetimes.
type Config struct {
	// StateDir holds the filed consultations, the EMAS Manager settings and
	// sessions, and the identity provider's key and refresh tokens, so that
	// they survive a restart. Empty keeps everything in memory.
	StateDir string
	// Seed selects the generated practice; 0 means DefaultSeed.
	Seed uint64
	// TokenLifetime is the access token lifetime; 0 means 60 minutes.
	TokenLifetime time.Duration
	// SessionLifetime is how long a sign-in (and its refresh tokens) lasts;
	// 0 means 30 days.
	SessionLifetime time.Duration
	// Issuer fixes the OpenID issuer URL; empty means the scheme and host
	// each request arrives at.
	Issuer string
	// Now is the clock; nil means time.Now. Tests move it to expire tokens.
	Now func() time.Time
	// Logger receives request and admin logs, never patient data; nil
	// discards them.
	Logger *slog.Logger
}

// Simulator is one simulated practice.
type Simulator struct {
	practice *fixtures.Practice
	handler  http.Handler
	platform *platform.Platform

	mu     sync.Mutex
	server *http.Server
	url    string
}

// New builds a simulator, loading any state saved under cfg.StateDir.
func New(cfg Config) (*Simulator, error) {
	cfg = withDefaults(cfg)
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("sim: create state folder: %w", err)
		}
	}
	statePath := func(name string) string {
		if cfg.StateDir == "" {
			return ""
		}
		return filepath.Join(cfg.StateDir, name)
	}

	practice := fixtures.Generate(cfg.Seed)
	initial := make(map[int32]emas.Access, len(practice.Staff))
	for _, s := range practice.Staff {
		initial[s.UserInRoleID] = emas.FullAccess(s.Role)
	}
	access, err := emas.Open(statePath(emasFile), initial, cfg.SessionLifetime, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	store, err := records.Open(statePath(consultationsFile))
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	validator, err := contract.New(contract.IdentityProvider{})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	provider, err := idp.New(idp.Config{
		Issuer:        cfg.Issuer,
		TokenLifetime: cfg.TokenLifetime,
		APIScopes:     papi.Scopes,
		StatePath:     statePath(idpFile),
		Directory:     &directory{practice: practice, access: access, now: cfg.Now},
		Now:           cfg.Now,
		Logger:        cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	injector := faults.New(cfg.Seed)

	mux := http.NewServeMux()
	mux.Handle("/api/", papi.New(papi.Config{
		ApplicationID: ApplicationID,
		Practice:      practice,
		Records:       store,
		Access:        access,
		Tokens:        provider,
		Faults:        injector,
		Contract:      validator,
		Now:           cfg.Now,
		Logger:        cfg.Logger,
	}))
	mux.Handle("/admin/", admin.New(admin.Config{
		Info: admin.Info{
			ApplicationID:       ApplicationID,
			DesktopClientID:     idp.DesktopClientID,
			ServiceClientID:     idp.ServiceClientID,
			ServiceClientSecret: idp.ServiceClientSecret,
			Scopes:              papi.Scopes,
			TokenLifetime:       cfg.TokenLifetime.String(),
			PracticeName:        practice.Name,
			ODSCode:             practice.ODSCode,
			CDB:                 practice.CDB,
		},
		Practice: practice,
		Access:   access,
		Records:  store,
		Faults:   injector,
		Logger:   cfg.Logger,
	}))
	// The online consultation platform, in the same process on its own routes.
	plat := platform.New(platform.Config{Practice: practice, Example: docs.ExampleWriteback})
	mux.Handle(platform.Prefix, plat)
	mux.Handle("/admin/platform/", plat)
	mux.Handle("/admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	mux.Handle("/", provider)
	return &Simulator{practice: practice, handler: mux, platform: plat}, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Seed == 0 {
		cfg.Seed = DefaultSeed
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}

// Handler serves everything the simulator offers; use it with your own
// server (httptest.NewServer, say) or call Start.
func (s *Simulator) Handler() http.Handler { return s.handler }

// Platform returns the simulated online consultation platform (docs/platform-api.md).
func (s *Simulator) Platform() *platform.Platform { return s.platform }

// Practice returns the generated practice: staff (with their sign-in
// credentials), patients and the hard cases. It must not be modified.
func (s *Simulator) Practice() *fixtures.Practice { return s.practice }

// ErrNotLoopback is returned by Start for an address off the loopback
// interface: the simulator must not be reachable from other machines.
var ErrNotLoopback = errors.New("sim: the listen address must be on loopback (127.0.0.1, ::1 or localhost)")

// Start listens on addr (a loopback host and port; port 0 picks a free one)
// and serves in the background until Close is called or ctx is done. It
// returns the base URL, e.g. "http://127.0.0.1:54321".
func (s *Simulator) Start(ctx context.Context, addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("sim: start: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", ErrNotLoopback
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		return "", errors.New("sim: already started")
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sim: start: %w", err)
	}
	s.server = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + l.Addr().String()
	go s.server.Serve(l)
	context.AfterFunc(ctx, func() { s.Close() })
	return s.url, nil
}

// URL returns the base URL once started.
func (s *Simulator) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// AdminURL returns the admin page's URL once started.
func (s *Simulator) AdminURL() string {
	if u := s.URL(); u != "" {
		return u + "/admin/"
	}
	return ""
}

// Close stops the server, letting requests in flight finish for a few
// seconds. Everything filed is already saved. Close is safe to call twice.
func (s *Simulator) Close() error {
	s.mu.Lock()
	srv := s.server
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("sim: close: %w", err)
	}
	return nil
}

// directory presents the practice's staff and EMAS Manager sessions to the
// identity provider.
type directory struct {
	practice *fixtures.Practice
	access   *emas.Manager
	now      func() time.Time
}

func (d *directory) Accounts() []idp.Account {
	out := make([]idp.Account, 0, len(d.practice.Staff))
	for _, s := range d.practice.Staff {
		job := s.JobCategory.Description
		if s.Locum {
			job += " (locum)"
		}
		out = append(out, idp.Account{
			Subject: strconv.Itoa(int(s.UserInRoleID)), Username: s.Username, Password: s.Password,
			DisplayName: s.DisplayName(), JobTitle: job,
		})
	}
	return out
}

func (d *directory) StartSession(subject string) (string, error) {
	id, err := strconv.ParseInt(subject, 10, 32)
	if err != nil {
		return "", fmt.Errorf("unknown user %q", subject)
	}
	sid, err := d.access.StartSession(int32(id))
	if errors.Is(err, emas.ErrUserInactive) {
		return "", errors.New("the user's EMIS account is inactive")
	}
	return sid, err
}

func (d *directory) EndSessions(subject string) error {
	id, err := strconv.ParseInt(subject, 10, 32)
	if err != nil {
		return nil // not a user: nothing to end
	}
	return d.access.EndSessions(int32(id))
}

func (d *directory) SessionActive(sessionID string) bool {
	sess, ok := d.access.Session(sessionID)
	return ok && d.now().Before(sess.Expires)
}
