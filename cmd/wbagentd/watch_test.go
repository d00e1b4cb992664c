package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/watch"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

// fastWatch probes often, so that tests see EMAS Manager changes within a second.
var fastWatch = watch.Config{Healthy: 100 * time.Millisecond, LinkChangedFor: 500 * time.Millisecond,
	Backoff: queue.RetryPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, Jitter: 0.2}}

type watchStack struct {
	*servicetest.Stack
	c *client.Client
}

func startWatched(t *testing.T) *watchStack {
	t.Helper()
	st := servicetest.Start(t, servicetest.Options{Components: []service.Component{filing{watch: fastWatch}}})
	return &watchStack{Stack: st, c: client.New(st.Socket)}
}

// link links the test's OS user to the clinician (a new sign-in: a new session).
func (s *watchStack) link(t *testing.T, who fixtures.Staff) {
	t.Helper()
	signed := s.SignIn(t, who)
	if _, err := s.c.Link(t.Context(), apitype.LinkRequest{ClinicalUserID: signed.User.ID, AccessToken: signed.Token.AccessToken,
		RefreshToken: signed.Token.RefreshToken, TokenType: signed.Token.TokenType, Expiry: signed.Token.Expiry}); err != nil {
		t.Fatal(err)
	}
}

// admin posts body to the simulator's admin API.
func (s *watchStack) admin(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(s.SimURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

// waitCondition waits until the status has (or has not) the condition, and returns it.
func (s *watchStack) waitCondition(t *testing.T, code string, present bool) condition.Condition {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := s.c.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var found *condition.Condition
		for i, c := range st.Conditions {
			if c.Code == code {
				found = &st.Conditions[i]
			}
		}
		if (found != nil) == present {
			if found != nil {
				return *found
			}
			return condition.Condition{}
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition %s present=%v never came; conditions: %+v", code, present, st.Conditions)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Each EMAS Manager setting and the clinical system's availability show as a condition with
// its owner and fix, and the condition clears by itself once the setting is put right (after
// the clinician signs in again, where the clinical system applies a grant only then).
func TestWatcherConditionsAppearAndClear(t *testing.T) {
	cases := []struct {
		name         string
		path         string // admin API; "{user}" is the clinician's user id
		broken, fix  any
		code         string
		owner        condition.Owner
		fixMentions  string
		signInToMend bool // a grant: the clinician must sign in again
	}{
		{"application deactivated", "/admin/application", map[string]bool{"active": false}, map[string]bool{"active": true},
			watch.CodeApplicationNotActivated, condition.PracticeManager, "Deactivate Application, then Activate Application", false},
		{"clinical system down", "/admin/faults", map[string]float64{"errorRate": 1}, map[string]float64{},
			watch.CodeUnreachable, condition.IT, "Nothing is lost", false},
		{"not ticked under Edit Users", "/admin/users/{user}", map[string]bool{"enabled": false}, map[string]bool{"enabled": true},
			watch.CodeUserNotEnabled, condition.PracticeManager, "Edit Users", true},
		{"Allow Login not ticked", "/admin/users/{user}", map[string]bool{"allowLogin": false}, map[string]bool{"allowLogin": true},
			watch.CodeLoginAccess, condition.PracticeManager, "Allow Login and Auto Login", true},
		{"Auto Login not ticked", "/admin/users/{user}", map[string]bool{"autoLogin": false}, map[string]bool{"autoLogin": true},
			watch.CodeLoginAccess, condition.PracticeManager, "Allow Login and Auto Login", true},
		{"account disabled", "/admin/users/{user}", map[string]bool{"active": false}, map[string]bool{"active": true},
			watch.CodeAccountDisabled, condition.PracticeManager, "Organisation Configuration", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startWatched(t)
			who := s.Clinicians[0]
			s.link(t, who)
			path := strings.ReplaceAll(tc.path, "{user}", fmt.Sprint(who.UserInRoleID))
			s.admin(t, path, tc.broken)
			c := s.waitCondition(t, tc.code, true)
			if c.Owner != tc.owner || !strings.Contains(c.Fix, tc.fixMentions) || c.Title == "" {
				t.Fatalf("condition %+v: want owner %s and a fix mentioning %q", c, tc.owner, tc.fixMentions)
			}
			if tc.path == "/admin/users/{user}" && !strings.Contains(c.Title, servicetest.ClinicalUserID(who)) {
				t.Fatalf("title %q does not name the clinician", c.Title)
			}
			s.admin(t, path, tc.fix)
			if tc.signInToMend {
				c := s.waitCondition(t, watch.CodeSessionPredatesAccess, true)
				if c.Owner != condition.Clinician || !strings.Contains(c.Fix, "log out of the clinical system and back in") {
					t.Fatalf("session condition %+v", c)
				}
				s.waitCondition(t, tc.code, false)
				s.link(t, who)
				s.waitCondition(t, watch.CodeSessionPredatesAccess, false)
			} else {
				s.waitCondition(t, tc.code, false)
			}
			st, err := s.c.Status(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if st.State != condition.OK {
				t.Fatalf("state %s after the fix: %+v", st.State, st.Conditions)
			}
		})
	}
}

// A role that cannot file shows only when filing: the engine pauses the author, the watcher
// says why, and the condition clears once a filing by that clinician succeeds.
func TestWatcherRoleCannotFile(t *testing.T) {
	s := startWatched(t)
	who := s.Clinicians[0]
	s.link(t, who)
	user := fmt.Sprintf("/admin/users/%d", who.UserInRoleID)
	s.admin(t, user, map[string]string{"role": "Receptionist Access Role"})
	id := s.enqueueFor(t, "job-role", who)
	rec := waitState(t, s.c, id, "needs-confirmation")
	if _, err := s.c.Confirm(t.Context(), id, false, rec.Version); err != nil {
		t.Fatal(err)
	}
	c := s.waitCondition(t, watch.CodeRoleCannotFile, true)
	if !strings.Contains(c.Fix, "B8029") || !strings.Contains(c.Fix, "B0380") || c.Severity != condition.Blocking {
		t.Fatalf("role condition %+v", c)
	}
	s.admin(t, user, map[string]string{"role": "Manage Detailed Health Records B8029"})
	s.waitCondition(t, watch.CodeSessionPredatesAccess, true)
	s.link(t, who)
	waitState(t, s.c, id, "filed")
	s.waitCondition(t, watch.CodeRoleCannotFile, false)
	s.waitCondition(t, watch.CodeSessionPredatesAccess, false)
}

// Writebacks for a clinician who has not linked on this PC say so until they link; an OS
// user whose link moves to another clinical user is told to refresh, for a while.
func TestWatcherAuthorNotLinkedAndLinkChanged(t *testing.T) {
	s := startWatched(t)
	s.link(t, s.Clinicians[0])
	other := s.Clinicians[1]
	s.enqueueFor(t, "job-unlinked", other)
	c := s.waitCondition(t, watch.CodeAuthorNotLinked, true)
	if !strings.Contains(c.Title, servicetest.ClinicalUserID(other)) {
		t.Fatalf("title %q does not name the clinician", c.Title)
	}
	s.link(t, other) // the same OS user now links to the other clinician
	s.waitCondition(t, watch.CodeAuthorNotLinked, false)
	s.waitCondition(t, watch.CodeLinkChanged, true)
	s.waitCondition(t, watch.CodeLinkChanged, false)
}

// Conditions never carry patient data.
func TestWatcherConditionsCarryNoPatientData(t *testing.T) {
	s := startWatched(t)
	who := s.Clinicians[0]
	s.link(t, who)
	s.admin(t, fmt.Sprintf("/admin/users/%d", who.UserInRoleID), map[string]bool{"allowLogin": false})
	p := s.patient(t)
	s.enqueueFor(t, "job-canary", who) // waits, unchecked, while the clinician cannot log in
	s.waitCondition(t, watch.CodeLoginAccess, true)
	st, err := s.c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(st.Conditions)
	for _, canary := range []string{p.NHSNumber, p.FamilyName, p.GivenNames, p.DateOfBirth.Format(time.DateOnly), fmt.Sprint(p.PatientNumber)} {
		if strings.Contains(string(b), canary) {
			t.Fatalf("conditions carry patient data %q: %s", canary, b)
		}
	}
}

func (s *watchStack) patient(t *testing.T) fixtures.Patient {
	t.Helper()
	for _, p := range s.Sim.Practice().Patients {
		if p.NHSNumber != "" && p.Registered && !p.Deceased {
			return p
		}
	}
	t.Fatal("no patient to file for")
	return fixtures.Patient{}
}

func (s *watchStack) enqueueFor(t *testing.T, jobID string, who fixtures.Staff) uint64 {
	t.Helper()
	p := s.patient(t)
	doc := servicetest.Writeback(t, jobID, who, func(w *writeback.Writeback) {
		w.PracticeODS = s.Config.Practice.ODS
		w.Patient.NHSNumber, w.Patient.FamilyName, w.Patient.GivenNames = p.NHSNumber, p.FamilyName, p.GivenNames
		w.Patient.DateOfBirth = p.DateOfBirth.Format(time.DateOnly)
	})
	res, err := s.c.Enqueue(t.Context(), bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}
