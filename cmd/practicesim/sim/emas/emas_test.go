package emas

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/fakeclock"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

const (
	gp           int32 = 1
	receptionist int32 = 2
)

func open(t *testing.T, path string, c *fakeclock.Clock) *Manager {
	t.Helper()
	m, err := Open(path, map[int32]Access{
		gp:           FullAccess(RoleManageDetailedHealthRecords),
		receptionist: FullAccess(RoleReceptionist),
	}, 24*time.Hour, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func signIn(t *testing.T, m *Manager, user int32) string {
	t.Helper()
	sid, err := m.StartSession(user)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func code(err error) outcome.Code {
	var oe *outcome.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

func TestRevokingAccessTakesEffectAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		change Change
		action Action
		want   outcome.Code
	}{
		{"clear Edit Users", Change{Enabled: ptr(false)}, Read, outcome.UserNotEnabled},
		{"clear Allow Login", Change{AllowLogin: ptr(false)}, Read, outcome.LoginNotAllowed},
		{"clear Auto Login", Change{AutoLogin: ptr(false)}, Read, outcome.AutoLoginNotAllowed},
		{"disable the account", Change{Active: ptr(false)}, Read, outcome.UserInactive},
		{"role that cannot file", Change{Role: ptr(RoleReceptionist)}, File, outcome.RoleCannotFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := open(t, "", fakeclock.New(time.Now()))
			sid := signIn(t, m, gp)
			if err := m.Authorize(sid, gp, tt.action); err != nil {
				t.Fatalf("before the change: %v", err)
			}
			if _, err := m.Update(gp, tt.change); err != nil {
				t.Fatal(err)
			}
			if got := code(m.Authorize(sid, gp, tt.action)); got != tt.want {
				t.Errorf("after the change: outcome %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGrantingAccessNeedsANewSignIn(t *testing.T) {
	tests := []struct {
		name           string
		revoke, regain Change
		action         Action
	}{
		{"Edit Users", Change{Enabled: ptr(false)}, Change{Enabled: ptr(true)}, Read},
		{"Allow Login", Change{AllowLogin: ptr(false)}, Change{AllowLogin: ptr(true)}, Read},
		{"Auto Login", Change{AutoLogin: ptr(false)}, Change{AutoLogin: ptr(true)}, Read},
		{"account", Change{Active: ptr(false)}, Change{Active: ptr(true)}, Read},
		{"role", Change{Role: ptr(RoleReceptionist)}, Change{Role: ptr(RolePerformDetailedHealthRecord)}, File},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := open(t, "", fakeclock.New(time.Now()))
			old := signIn(t, m, gp)
			if _, err := m.Update(gp, tt.revoke); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Update(gp, tt.regain); err != nil {
				t.Fatal(err)
			}
			if got := code(m.Authorize(old, gp, tt.action)); got != outcome.SessionPredatesAccessChange {
				t.Errorf("old session: outcome %v, want SessionPredatesAccessChange", got)
			}
			fresh := signIn(t, m, gp)
			if err := m.Authorize(fresh, gp, tt.action); err != nil {
				t.Errorf("new session: %v", err)
			}
		})
	}
}

func TestChangesThatGrantNothingKeepSessions(t *testing.T) {
	m := open(t, "", fakeclock.New(time.Now()))
	sid := signIn(t, m, gp)
	for _, c := range []Change{
		{Enabled: ptr(true)},
		{Role: ptr(RolePerformDetailedHealthRecord)}, // one filing role for another
		{},
	} {
		if _, err := m.Update(gp, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Authorize(sid, gp, File); err != nil {
		t.Errorf("session broken by changes that granted nothing: %v", err)
	}
}

func TestDeactivationBreaksSessionsUntilReactivation(t *testing.T) {
	m := open(t, "", fakeclock.New(time.Now()))
	sid := signIn(t, m, gp)
	if err := m.SetApplicationActive(false); err != nil {
		t.Fatal(err)
	}
	for _, check := range []func() error{
		func() error { return m.Authorize(sid, gp, Read) },
		m.AuthorizeApplication,
	} {
		if got := code(check()); got != outcome.ApplicationNotActivated {
			t.Errorf("while deactivated: outcome %v", got)
		}
	}
	if err := m.SetApplicationActive(true); err != nil {
		t.Fatal(err)
	}
	if err := m.Authorize(sid, gp, File); err != nil {
		t.Errorf("after reactivation: %v", err)
	}
	if err := m.AuthorizeApplication(); err != nil {
		t.Errorf("after reactivation: %v", err)
	}
}

func TestRefusalsAreOrdered(t *testing.T) {
	// With everything revoked, the broadest reason is reported.
	m := open(t, "", fakeclock.New(time.Now()))
	sid := signIn(t, m, gp)
	m.Update(gp, Change{Enabled: ptr(false), AllowLogin: ptr(false), Role: ptr(RoleReceptionist)})
	if got := code(m.Authorize(sid, gp, File)); got != outcome.UserNotEnabled {
		t.Errorf("outcome %v, want UserNotEnabled", got)
	}
	m.SetApplicationActive(false)
	if got := code(m.Authorize(sid, gp, File)); got != outcome.ApplicationNotActivated {
		t.Errorf("outcome %v, want ApplicationNotActivated", got)
	}
}

func TestRoleOnlyMattersForFiling(t *testing.T) {
	m := open(t, "", fakeclock.New(time.Now()))
	sid := signIn(t, m, receptionist)
	if err := m.Authorize(sid, receptionist, Read); err != nil {
		t.Errorf("reading: %v", err)
	}
	if got := code(m.Authorize(sid, receptionist, File)); got != outcome.RoleCannotFile {
		t.Errorf("filing: outcome %v", got)
	}
}

func TestSessions(t *testing.T) {
	c := fakeclock.New(time.Now())
	m := open(t, "", c)
	sid := signIn(t, m, gp)
	if got := code(m.Authorize(sid, receptionist, Read)); got != outcome.TokenInvalid {
		t.Errorf("another user's session: outcome %v", got)
	}
	if got := code(m.Authorize("no-such-session", gp, Read)); got != outcome.TokenInvalid {
		t.Errorf("unknown session: outcome %v", got)
	}
	c.Advance(25 * time.Hour)
	if got := code(m.Authorize(sid, gp, Read)); got != outcome.TokenInvalid {
		t.Errorf("expired session: outcome %v", got)
	}
	sid = signIn(t, m, gp)
	if err := m.EndSessions(gp); err != nil {
		t.Fatal(err)
	}
	if got := code(m.Authorize(sid, gp, Read)); got != outcome.TokenInvalid {
		t.Errorf("ended session: outcome %v", got)
	}
	m.Update(gp, Change{Active: ptr(false)})
	if _, err := m.StartSession(gp); !errors.Is(err, ErrUserInactive) {
		t.Errorf("inactive user signed in: %v", err)
	}
	if _, err := m.StartSession(99); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user signed in: %v", err)
	}
}

func TestUpdateErrors(t *testing.T) {
	m := open(t, "", fakeclock.New(time.Now()))
	if _, err := m.Update(99, Change{}); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := m.Update(gp, Change{Role: ptr(Role(""))}); !errors.Is(err, ErrEmptyRole) {
		t.Errorf("empty role: %v", err)
	}
}

func TestStatePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emas.json")
	c := fakeclock.New(time.Now())
	m := open(t, path, c)
	sid := signIn(t, m, gp)
	m.Update(receptionist, Change{AutoLogin: ptr(false)})
	m.Update(gp, Change{AllowLogin: ptr(false)})
	m.Update(gp, Change{AllowLogin: ptr(true)})
	m.SetApplicationActive(false)

	m = open(t, path, c)
	if m.ApplicationActive() {
		t.Error("deactivation lost")
	}
	if a, _ := m.Access(receptionist); a.AutoLogin {
		t.Error("Auto Login change lost")
	}
	m.SetApplicationActive(true)
	if got := code(m.Authorize(sid, gp, Read)); got != outcome.SessionPredatesAccessChange {
		t.Errorf("saved session after saved grant: outcome %v", got)
	}
}
