// Package simtest runs the practice simulator (package sim) in-process for a test: Start
// serves it on a free loopback port until the test ends, on a clock the test moves, with a
// client of its admin API and a transport that checks every Partner API exchange against
// the published contract (package contract) and fails the test on a violation.
//
//	p := simtest.Start(t, simtest.SessionLifetime(24*time.Hour))
//	gp := p.GP()
//	// sign gp in at p.URL+"/oauth/token" and call the Partner API through p.HTTPClient()
//	p.SetUser(gp, emas.Change{AllowLogin: new(false)})
//	p.Clock.Advance(2 * time.Hour)
//	filed := p.Consultations()
//
// It is test support: the agent's tests import it from _test.go files only.
package simtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/fakeclock"
	"github.com/writeback-agent/wbagent/cmd/practicesim/contract"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/admin"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
)

// Option changes the simulator's configuration.
type Option func(*sim.Config)

// StateDir keeps the simulator's state in dir, so that it survives Restart. Without it
// everything is in memory.
func StateDir(dir string) Option { return func(c *sim.Config) { c.StateDir = dir } }

// TokenLifetime sets the access token lifetime (default sim.DefaultTokenLifetime).
func TokenLifetime(d time.Duration) Option { return func(c *sim.Config) { c.TokenLifetime = d } }

// SessionLifetime sets how long a sign-in lasts (default sim.DefaultSessionLifetime).
func SessionLifetime(d time.Duration) Option {
	return func(c *sim.Config) { c.SessionLifetime = d }
}

// Practice is a simulator running for one test.
type Practice struct {
	// URL is the base URL, e.g. "http://127.0.0.1:54321"; Restart keeps it.
	URL string
	// Admin calls the admin API.
	Admin *adminclient.Client
	// Clock is the simulator's clock; it starts at the time Start was called and moves
	// only when the test moves it.
	Clock *fakeclock.Clock
	// Transport checks every Partner API request and answer sent through it against the
	// contract; at the end of the test each violation is an error, except request
	// violations after ExpectInvalidRequests.
	Transport *contract.Transport

	t                   testing.TB
	cfg                 sim.Config
	sim                 *sim.Simulator
	invalidRequestsSent atomic.Bool
}

// Start runs a simulator on a free loopback port until the test ends.
func Start(t testing.TB, opts ...Option) *Practice {
	t.Helper()
	p := &Practice{t: t, Clock: fakeclock.New(time.Now())}
	p.cfg.Now = p.Clock.Now
	for _, o := range opts {
		o(&p.cfg)
	}
	v, err := contract.New(contract.IdentityProvider{})
	if err != nil {
		t.Fatal(err)
	}
	p.Transport = v.Transport(nil)
	p.start("127.0.0.1:0")
	p.Admin = adminclient.New(p.URL, nil)
	t.Cleanup(p.checkContract)
	return p
}

func (p *Practice) start(addr string) {
	p.t.Helper()
	s, err := sim.New(p.cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	base, err := s.Start(p.t.Context(), addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { s.Close() })
	p.sim, p.URL = s, base
}

// Restart stops the simulator and starts a new one on the same address, with the same
// configuration and clock: what it keeps is what StateDir holds.
func (p *Practice) Restart() {
	p.t.Helper()
	if err := p.sim.Close(); err != nil {
		p.t.Fatal(err)
	}
	p.start(strings.TrimPrefix(p.URL, "http://"))
}

// Close stops the simulator before the test ends: every call to it then fails.
func (p *Practice) Close() {
	p.t.Helper()
	if err := p.sim.Close(); err != nil {
		p.t.Fatal(err)
	}
}

// ExpectInvalidRequests tells the contract check that the test sends requests that break
// the contract on purpose: only the answers must keep to it.
func (p *Practice) ExpectInvalidRequests() { p.invalidRequestsSent.Store(true) }

func (p *Practice) checkContract() {
	for _, v := range p.Transport.Violations() {
		if v.Phase == contract.PhaseRequest && p.invalidRequestsSent.Load() {
			continue
		}
		p.t.Errorf("contract violated: %v", v)
	}
}

// HTTPClient returns a new client whose requests go through Transport.
func (p *Practice) HTTPClient() *http.Client { return &http.Client{Transport: p.Transport} }

// Sim returns the running simulator.
func (p *Practice) Sim() *sim.Simulator { return p.sim }

// Fixtures returns the generated practice: staff with their credentials, patients and hard
// cases. It must not be modified.
func (p *Practice) Fixtures() *fixtures.Practice { return p.sim.Practice() }

// Staff returns the first member of staff matching, failing the test if there is none.
func (p *Practice) Staff(match func(fixtures.Staff) bool) fixtures.Staff {
	p.t.Helper()
	for _, s := range p.Fixtures().Staff {
		if match(s) {
			return s
		}
	}
	p.t.Fatal("simtest: no such member of staff")
	return fixtures.Staff{}
}

// GP returns the first GP who is not a locum.
func (p *Practice) GP() fixtures.Staff {
	return p.Staff(func(s fixtures.Staff) bool { return s.JobCategory.Doctor && !s.Locum })
}

// Receptionist returns the first receptionist.
func (p *Practice) Receptionist() fixtures.Staff {
	return p.Staff(func(s fixtures.Staff) bool { return s.JobCategory == fixtures.Receptionist })
}

// Filers returns the staff whose role may file, in fixture order.
func (p *Practice) Filers() []fixtures.Staff {
	var out []fixtures.Staff
	for _, s := range p.Fixtures().Staff {
		if s.Role.CanFile() {
			out = append(out, s)
		}
	}
	return out
}

// Patient returns the patient with the given number, failing the test if there is none.
func (p *Practice) Patient(number int32) fixtures.Patient {
	p.t.Helper()
	pt, ok := p.Fixtures().Patient(number)
	if !ok {
		p.t.Fatalf("simtest: no patient %d", number)
	}
	return *pt
}

// PlainPatients returns the patients a filing is for in the ordinary case: see
// PlainPatients.
func (p *Practice) PlainPatients() []fixtures.Patient { return PlainPatients(p.Fixtures()) }

// PlainPatients returns a practice's patients with an NHS number, alive and registered, in
// fixture order.
func PlainPatients(practice *fixtures.Practice) []fixtures.Patient {
	var out []fixtures.Patient
	for _, pt := range practice.Patients {
		if pt.NHSNumber != "" && pt.Registered && !pt.Deceased {
			out = append(out, pt)
		}
	}
	return out
}

// SetUser changes a member of staff's EMAS Manager settings (nil fields are kept) and
// returns them as changed, failing the test if the simulator refuses.
func (p *Practice) SetUser(s fixtures.Staff, change emas.Change) admin.User {
	p.t.Helper()
	u, err := p.Admin.UpdateUser(p.t.Context(), adminclient.UserID(s.UserInRoleID), change)
	if err != nil {
		p.t.Fatal(err)
	}
	return u
}

// SetApplicationActive activates or deactivates the application, failing the test if the
// simulator refuses.
func (p *Practice) SetApplicationActive(active bool) {
	p.t.Helper()
	if _, err := p.Admin.SetApplicationActive(p.t.Context(), active); err != nil {
		p.t.Fatal(err)
	}
}

// SetFaults replaces the fault settings (the zero value injects nothing), failing the test
// if the simulator refuses.
func (p *Practice) SetFaults(s faults.Settings) {
	p.t.Helper()
	if _, err := p.Admin.SetFaults(p.t.Context(), s); err != nil {
		p.t.Fatal(err)
	}
}

// Consultations returns every filed consultation in filing order, failing the test if the
// simulator does not answer.
func (p *Practice) Consultations() []records.Consultation {
	p.t.Helper()
	out, err := p.Admin.Consultations(p.t.Context())
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// FiledEvent is a filed event reduced to what the agent files: a text comment (Text), or a
// coded value (Code, Scheme and Term, with Value and Units if it has a numeric value).
type FiledEvent struct {
	Text   string  // descriptiveText
	Code   string  // code.value; empty for a text comment
	Scheme int32   // code.scheme, e.g. emisopen.SchemeSnomed; 0 without one
	Term   string  // code.term
	Value  float64 // numericValue.value
	Units  string  // numericValue.units
}

// FiledEvents returns a filed consultation's events in order, for a test to compare with
// what it filed; a numeric value that does not decode fails the test.
func FiledEvents(t testing.TB, c records.Consultation) []FiledEvent {
	t.Helper()
	out := make([]FiledEvent, 0, len(c.Record.EventList))
	for _, e := range c.Record.EventList {
		f := FiledEvent{Text: e.DescriptiveText}
		if e.Code != nil {
			f.Code, f.Term = e.Code.Value, e.Code.Term
			if e.Code.Scheme != nil {
				f.Scheme = *e.Code.Scheme
			}
		}
		if len(e.NumericValue) > 0 {
			var v struct {
				Value float64 `json:"value"`
				Units string  `json:"units"`
			}
			if err := json.Unmarshal(e.NumericValue, &v); err != nil {
				t.Fatalf("simtest: numeric value %s: %v", e.NumericValue, err)
			}
			f.Value, f.Units = v.Value, v.Units
		}
		out = append(out, f)
	}
	return out
}
