package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

// fastWatch probes often, so that tests see EMAS Manager changes within a second.
var fastWatch = watch.Config{Healthy: 100 * time.Millisecond, LinkChangedFor: 500 * time.Millisecond,
	Backoff: queue.RetryPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, Jitter: 0.2}}

type watchStack struct {
	*servicetest.Stack
	c     *client.Client
	admin *adminclient.Client
}

func startWatched(t *testing.T) *watchStack {
	t.Helper()
	st := servicetest.Start(t, servicetest.Options{Components: []service.Component{filing{watch: fastWatch}}})
	return &watchStack{Stack: st, c: client.New(st.Socket), admin: adminclient.New(st.SimURL, nil)}
}

// link links the test's OS user to the clinician (a new sign-in: a new session).
func (s *watchStack) link(t *testing.T, who fixtures.Staff) {
	t.Helper()
	signed := s.SignIn(t, who)
	if _, err := s.c.Link(t.Context(), apitype.LinkRequest{ClinicalUserID: signed.User.ID, AccessToken: signed.Token.AccessToken,
		RefreshToken: signed.Token.RefreshToken, TokenType: signed.Token.TokenType, Expiry: signed.Token.Expiry, IDToken: signed.IDToken}); err != nil {
		t.Fatal(err)
	}
}

// change is a change to the simulated practice through its admin API: an EMAS Manager
// setting (for the clinician who), or the clinical system's availability.
type change func(t *testing.T, admin *adminclient.Client, who fixtures.Staff) error

func setApplication(active bool) change {
	return func(t *testing.T, admin *adminclient.Client, _ fixtures.Staff) error {
		_, err := admin.SetApplicationActive(t.Context(), active)
		return err
	}
}

func setFaults(f faults.Settings) change {
	return func(t *testing.T, admin *adminclient.Client, _ fixtures.Staff) error {
		_, err := admin.SetFaults(t.Context(), f)
		return err
	}
}

func setUser(c emas.Change) change {
	return func(t *testing.T, admin *adminclient.Client, who fixtures.Staff) error {
		_, err := admin.UpdateUser(t.Context(), adminclient.UserID(who.UserInRoleID), c)
		return err
	}
}

// apply makes a change for the clinician who, failing the test if the simulator refuses it.
func (s *watchStack) apply(t *testing.T, who fixtures.Staff, c change) {
	t.Helper()
	if err := c(t, s.admin, who); err != nil {
		t.Fatal(err)
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
		broken, fix  change
		perUser      bool // an EMAS Manager setting of the clinician's
		code         string
		owner        condition.Owner
		fixMentions  string
		signInToMend bool // a grant: the clinician must sign in again
	}{
		{"application deactivated", setApplication(false), setApplication(true), false,
			watch.CodeApplicationNotActivated, condition.PracticeManager, "Deactivate Application, then Activate Application", false},
		{"clinical system down", setFaults(faults.Settings{ErrorRate: 1}), setFaults(faults.Settings{}), false,
			watch.CodeUnreachable, condition.IT, "Nothing is lost", false},
		{"not ticked under Edit Users", setUser(emas.Change{Enabled: new(false)}), setUser(emas.Change{Enabled: new(true)}), true,
			watch.CodeUserNotEnabled, condition.PracticeManager, "Edit Users", true},
		{"Allow Login not ticked", setUser(emas.Change{AllowLogin: new(false)}), setUser(emas.Change{AllowLogin: new(true)}), true,
			watch.CodeLoginAccess, condition.PracticeManager, "Allow Login and Auto Login", true},
		{"Auto Login not ticked", setUser(emas.Change{AutoLogin: new(false)}), setUser(emas.Change{AutoLogin: new(true)}), true,
			watch.CodeLoginAccess, condition.PracticeManager, "Allow Login and Auto Login", true},
		{"account disabled", setUser(emas.Change{Active: new(false)}), setUser(emas.Change{Active: new(true)}), true,
			watch.CodeAccountDisabled, condition.PracticeManager, "Organisation Configuration", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startWatched(t)
			who := s.Clinicians[0]
			s.link(t, who)
			s.apply(t, who, tc.broken)
			c := s.waitCondition(t, tc.code, true)
			if c.Owner != tc.owner || !strings.Contains(c.Fix, tc.fixMentions) || c.Title == "" {
				t.Fatalf("condition %+v: want owner %s and a fix mentioning %q", c, tc.owner, tc.fixMentions)
			}
			if tc.perUser && !strings.Contains(c.Title, servicetest.ClinicalUserID(who)) {
				t.Fatalf("title %q does not name the clinician", c.Title)
			}
			s.apply(t, who, tc.fix)
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
	s.apply(t, who, setUser(emas.Change{Role: new(emas.RoleReceptionist)}))
	id := s.enqueueFor(t, "job-role", who)
	rec := waitState(t, s.c, id, "needs-confirmation")
	if _, err := s.c.Confirm(t.Context(), id, false, rec.Version); err != nil {
		t.Fatal(err)
	}
	c := s.waitCondition(t, watch.CodeRoleCannotFile, true)
	if !strings.Contains(c.Fix, "B8029") || !strings.Contains(c.Fix, "B0380") || c.Severity != condition.Blocking {
		t.Fatalf("role condition %+v", c)
	}
	s.apply(t, who, setUser(emas.Change{Role: new(emas.RoleManageDetailedHealthRecords)}))
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
	s.apply(t, who, setUser(emas.Change{AllowLogin: new(false)}))
	p := plainPatient(t, s.Stack)
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

func (s *watchStack) enqueueFor(t *testing.T, jobID string, who fixtures.Staff) uint64 {
	t.Helper()
	p := plainPatient(t, s.Stack)
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
