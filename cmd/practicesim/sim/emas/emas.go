// Package emas simulates what a practice configures in EMIS Web's EMAS
// Manager > Partner API tab for one partner application, and decides from it
// whether a Partner API call may proceed.
//
// The settings are: the application activated or deactivated; per user,
// ticked under Edit Users ("enabled"), Login Access > Allow Login and Auto
// Login, the RBAC role of the user's default profile, and whether the EMIS
// account is active at all.
//
// Calls are made in a session that starts when the user signs in. Revoking
// access takes effect at once: the next call fails with a legacy outcome that
// names what was revoked. Granting a user access takes effect only when the
// user signs in again, as the practice guides say ("the user then needs to
// log out of EMIS and log back in for these changes to take effect"): each
// grant bumps the user's access generation, and a session opened before the
// bump fails with SessionPredatesAccessChange. Activating the application is
// not a per-user grant: deactivating it breaks every session, and
// reactivating it ("this will reset … and re-activate the API calls")
// restores them without signing in again.
package emas

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/statefile"
)

// Access is one user's Partner API settings.
type Access struct {
	Enabled    bool `json:"enabled"`    // ticked under Edit Users for the application
	AllowLogin bool `json:"allowLogin"` // Login Access > Allow Login
	AutoLogin  bool `json:"autoLogin"`  // Login Access > Auto Login
	Active     bool `json:"active"`     // the EMIS user account is active
	Role       Role `json:"role"`       // RBAC role of the default profile
}

// FullAccess is the access of a user set up as the practice guides describe,
// holding the given role.
func FullAccess(role Role) Access {
	return Access{Enabled: true, AllowLogin: true, AutoLogin: true, Active: true, Role: role}
}

// grants lists the predicates that, turning from false to true, grant access.
func (a Access) grants() [5]bool {
	return [5]bool{a.Enabled, a.AllowLogin, a.AutoLogin, a.Active, a.Role.CanFile()}
}

// Change is a partial update of a user's settings; nil fields are kept.
type Change struct {
	Enabled    *bool `json:"enabled"`
	AllowLogin *bool `json:"allowLogin"`
	AutoLogin  *bool `json:"autoLogin"`
	Active     *bool `json:"active"`
	Role       *Role `json:"role"`
}

func (c Change) apply(a Access) Access {
	set := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&a.Enabled, c.Enabled)
	set(&a.AllowLogin, c.AllowLogin)
	set(&a.AutoLogin, c.AutoLogin)
	set(&a.Active, c.Active)
	if c.Role != nil {
		a.Role = *c.Role
	}
	return a
}

// Action is what a Partner API call does with the record.
type Action int

// Actions.
const (
	Read Action = iota // read patient, record or organisation data
	File               // file a consultation
)

// Errors returned by Manager methods.
var (
	ErrUnknownUser  = errors.New("emas: unknown user")
	ErrUserInactive = errors.New("emas: the user's account is inactive")
	ErrEmptyRole    = errors.New("emas: role must not be empty")
)

// Session is a signed-in period of one user.
type Session struct {
	UserID     int32     `json:"userId"`
	Generation uint64    `json:"generation"` // the user's access generation at sign-in
	Started    time.Time `json:"started"`
	Expires    time.Time `json:"expires"`
}

type userState struct {
	Access
	Generation uint64 `json:"generation"` // bumped by every grant
}

type state struct {
	ApplicationActive bool                 `json:"applicationActive"`
	Users             map[int32]*userState `json:"users"`
	Sessions          map[string]Session   `json:"sessions"`
}

// Manager holds the settings and sessions. It is safe for concurrent use.
type Manager struct {
	path            string
	sessionLifetime time.Duration
	now             func() time.Time

	mu    sync.Mutex
	state state
}

// Open returns a Manager that persists to path (nothing is persisted when
// path is empty). Settings saved there are kept; users not yet saved start
// with the initial access given, and saved users that initial does not list
// are dropped. A new practice has the application activated.
func Open(path string, initial map[int32]Access, sessionLifetime time.Duration, now func() time.Time) (*Manager, error) {
	m := &Manager{path: path, sessionLifetime: sessionLifetime, now: now}
	saved := state{ApplicationActive: true}
	if _, err := statefile.Read(path, &saved); err != nil {
		return nil, fmt.Errorf("emas: open: %w", err)
	}
	m.state = state{
		ApplicationActive: saved.ApplicationActive,
		Users:             make(map[int32]*userState, len(initial)),
		Sessions:          make(map[string]Session),
	}
	for id, access := range initial {
		if u, ok := saved.Users[id]; ok {
			m.state.Users[id] = u
		} else {
			m.state.Users[id] = &userState{Access: access}
		}
	}
	for sid, s := range saved.Sessions {
		if _, ok := m.state.Users[s.UserID]; ok {
			m.state.Sessions[sid] = s
		}
	}
	return m, nil
}

// ApplicationActive reports whether the application is activated.
func (m *Manager) ApplicationActive() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.ApplicationActive
}

// SetApplicationActive activates or deactivates the application.
func (m *Manager) SetApplicationActive(active bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.ApplicationActive = active
	return m.save("set application")
}

// Access returns a user's settings.
func (m *Manager) Access(userID int32) (Access, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.state.Users[userID]
	if !ok {
		return Access{}, false
	}
	return u.Access, true
}

// Update changes a user's settings and returns the result. A change that
// grants anything the user lacked bumps the user's access generation.
func (m *Manager) Update(userID int32, c Change) (Access, error) {
	if c.Role != nil && *c.Role == "" {
		return Access{}, ErrEmptyRole
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.state.Users[userID]
	if !ok {
		return Access{}, ErrUnknownUser
	}
	before, after := u.Access.grants(), c.apply(u.Access)
	for i, now := range after.grants() {
		if now && !before[i] {
			u.Generation++
			break
		}
	}
	u.Access = after
	return u.Access, m.save("update user")
}

// StartSession signs a user in and returns the new session's ID. Only an
// inactive account is refused: a user without Partner API access can still
// sign in, and finds out when a call fails.
func (m *Manager) StartSession(userID int32) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.state.Users[userID]
	if !ok {
		return "", ErrUnknownUser
	}
	if !u.Active {
		return "", ErrUserInactive
	}
	now := m.now()
	for sid, s := range m.state.Sessions {
		if now.After(s.Expires) {
			delete(m.state.Sessions, sid)
		}
	}
	sid := rand.Text()
	m.state.Sessions[sid] = Session{UserID: userID, Generation: u.Generation, Started: now, Expires: now.Add(m.sessionLifetime)}
	return sid, m.save("start session")
}

// EndSessions signs a user out of every session.
func (m *Manager) EndSessions(userID int32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for sid, s := range m.state.Sessions {
		if s.UserID == userID {
			delete(m.state.Sessions, sid)
		}
	}
	return m.save("end sessions")
}

// Session returns a session by ID.
func (m *Manager) Session(sessionID string) (Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.state.Sessions[sessionID]
	return s, ok
}

// Authorize decides whether a call by userID in the given session may do
// action. A refusal is an *outcome.Error naming the reason.
func (m *Manager) Authorize(sessionID string, userID int32, action Action) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.state.Sessions[sessionID]
	if !ok || s.UserID != userID || m.now().After(s.Expires) {
		return outcome.Errorf(outcome.TokenInvalid, "the session has ended; sign in again")
	}
	if !m.state.ApplicationActive {
		return outcome.Errorf(outcome.ApplicationNotActivated, "the application is deactivated in EMAS Manager")
	}
	u := m.state.Users[userID]
	switch {
	case !u.Active:
		return outcome.Errorf(outcome.UserInactive, "the user's EMIS account is inactive")
	case !u.Enabled:
		return outcome.Errorf(outcome.UserNotEnabled, "the user is not enabled for the application (EMAS Manager > Edit Users)")
	case !u.AllowLogin:
		return outcome.Errorf(outcome.LoginNotAllowed, "Allow Login is not ticked for the user (EMAS Manager > Login Access)")
	case !u.AutoLogin:
		return outcome.Errorf(outcome.AutoLoginNotAllowed, "Auto Login is not ticked for the user (EMAS Manager > Login Access)")
	case action == File && !u.Role.CanFile():
		return outcome.Errorf(outcome.RoleCannotFile, "the user's RBAC role %q does not allow filing to a record", u.Role)
	case s.Generation < u.Generation:
		return outcome.Errorf(outcome.SessionPredatesAccessChange, "the session predates an access change; sign out and in again")
	}
	return nil
}

// AuthorizeApplication decides whether a call made by the application alone
// (a client credentials token, no user) may proceed.
func (m *Manager) AuthorizeApplication() error {
	if !m.ApplicationActive() {
		return outcome.Errorf(outcome.ApplicationNotActivated, "the application is deactivated in EMAS Manager")
	}
	return nil
}

// save persists the state; the caller holds m.mu.
func (m *Manager) save(op string) error {
	if err := statefile.Write(m.path, m.state); err != nil {
		return fmt.Errorf("emas: %s: %w", op, err)
	}
	return nil
}
