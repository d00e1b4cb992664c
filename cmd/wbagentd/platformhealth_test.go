package main

import (
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/source"
	"github.com/writeback-agent/wbagent/agent/source/platformapi"
)

// A platform outage raises platform-unreachable after a few failed pulls, blocking and for
// IT, and it clears once a pull succeeds.
func TestPlatformOutageIsShownAndClears(t *testing.T) {
	s := startWithPlatform(t)
	p := s.Sim.Platform()
	p.SetOutage(true)
	start := time.Now()
	c := s.waitCondition(t, source.CodePlatformUnreachable, true)
	if c.Severity != condition.Blocking || c.Owner != condition.IT || !strings.Contains(c.Fix, "HTTP 503") {
		t.Errorf("condition %+v", c)
	}
	t.Logf("raised %v after the outage began", time.Since(start).Round(time.Millisecond))
	p.SetOutage(false)
	s.waitCondition(t, source.CodePlatformUnreachable, false)
}

// A job id sent again with different content: the first is kept, the platform is told
// ("conflict"), and staff see it.
func TestResentJobWithDifferentContentIsAConflict(t *testing.T) {
	s := startWithPlatform(t)
	who := s.Clinicians[0]
	s.link(t, who)
	p := s.Sim.Platform()
	jobs, err := p.Feed(1, who.UserInRoleID)
	if err != nil {
		t.Fatal(err)
	}
	waitCount(t, s.c, queue.NeedsConfirmation, 1)
	if err := p.Resend(jobs[0]); err != nil {
		t.Fatal(err)
	}
	c := s.waitCondition(t, source.CodePlatformJobConflict, true)
	if !strings.Contains(c.Fix, jobs[0]) || strings.Contains(c.Fix, "amended") {
		t.Errorf("condition %+v: want the job id and no content", c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		j := p.Jobs()[0]
		if j.Acked && len(j.Outcomes) == 1 && j.Outcomes[0].State == platformapi.OutcomeConflict &&
			j.Outcomes[0].ReasonCode == source.CodeJobConflict {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %+v: want acknowledged and reported as a conflict", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := s.c.Status(t.Context())
	if err != nil || st.Counts[queue.NeedsConfirmation] != 1 || st.Counts[queue.Received] != 0 {
		t.Errorf("counts %v (%v): want the first writeback only", st.Counts, err)
	}
}
