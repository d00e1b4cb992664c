package main

import (
	"github.com/writeback-agent/wbagent/agent/source/platformapi"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/source"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/platform"
)

var fastSource = source.Component{Poll: 50 * time.Millisecond,
	Backoff: queue.RetryPolicy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, Jitter: 0.5}}

func platformComponents() []service.Component {
	return []service.Component{filing{watch: fastWatch}, fastSource}
}

func startWithPlatform(t *testing.T) *watchStack {
	t.Helper()
	st := servicetest.Start(t, servicetest.Options{Components: platformComponents(), Configure: func(c *config.Config) {
		c.Source.URL = c.Clinical.APIURL // the platform simulator is in the practice simulator's process
		c.Source.Credential = platform.DevCredential
	}})
	return &watchStack{Stack: st, c: client.New(st.Socket)}
}

// waitCount waits until n records are in state.
func waitCount(t *testing.T, c *client.Client, state queue.State, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.Status(t.Context())
		if err == nil && st.Counts[state] == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records %s, want %d (err %v)", st.Counts[state], state, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReported waits until every job fed has its outcome reported, and checks each was
// acknowledged and reported exactly once.
func waitReported(t *testing.T, p *platform.Platform, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		done := 0
		for _, j := range p.Jobs() {
			if len(j.Outcomes) > 0 && j.Outcomes[len(j.Outcomes)-1].State == want[j.JobID] {
				done++
			}
		}
		if done == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d outcomes reported", done, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a repeat would come now
	for _, j := range p.Jobs() {
		if !j.Acked || len(j.Outcomes) != 1 || j.Reports != 1 {
			t.Fatalf("job %s: acked %v, outcomes %+v, reported %d times; want acked, one outcome reported once", j.JobID, j.Acked, j.Outcomes, j.Reports)
		}
		if o := j.Outcomes[0]; o.State == platformapi.OutcomeFiled && o.ConsultationGUID == "" {
			t.Fatalf("job %s filed without a consultation GUID", j.JobID)
		}
	}
}

// The round trip: the platform's writebacks are pulled, queued, confirmed (or rejected) by
// the clinician, filed, and each outcome is reported back once.
func TestPlatformRoundTrip(t *testing.T) {
	s := startWithPlatform(t)
	who := s.Clinicians[0]
	s.link(t, who)
	p := s.Sim.Platform()
	jobs, err := p.Feed(3, who.UserInRoleID)
	if err != nil {
		t.Fatal(err)
	}
	waitCount(t, s.c, queue.NeedsConfirmation, 3)
	recs, err := s.c.Queue(t.Context(), queue.NeedsConfirmation)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i, r := range recs {
		if i == 0 {
			if _, err := s.c.Reject(t.Context(), r.ID, "not for filing"); err != nil {
				t.Fatal(err)
			}
			want[r.JobID] = platformapi.OutcomeReject
			continue
		}
		if _, err := s.c.Confirm(t.Context(), r.ID, false, r.Version); err != nil {
			t.Fatal(err)
		}
		want[r.JobID] = platformapi.OutcomeFiled
	}
	if len(want) != len(jobs) {
		t.Fatalf("queued %d of %d jobs", len(want), len(jobs))
	}
	waitReported(t, p, want)
}

// A platform outage and an agent restart in the middle of a batch of 200 writebacks lose
// nothing, and each outcome is reported once.
func TestPlatformOutageAndRestartLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("200 filings")
	}
	s := startWithPlatform(t)
	who := s.Clinicians[0]
	s.link(t, who)
	p := s.Sim.Platform()
	const n = 200
	jobs, err := p.Feed(n, who.UserInRoleID)
	if err != nil {
		t.Fatal(err)
	}
	// An outage while the batch is being pulled.
	for {
		st, err := s.c.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Counts[queue.Received]+st.Counts[queue.NeedsConfirmation] > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	p.SetOutage(true)
	time.Sleep(300 * time.Millisecond)
	p.SetOutage(false)
	waitCount(t, s.c, queue.NeedsConfirmation, n)

	confirm := func(c *client.Client, max int) {
		recs, err := c.Queue(t.Context(), queue.NeedsConfirmation)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			if i == max {
				break
			}
			if _, err := c.Confirm(t.Context(), r.ID, false, r.Version); err != nil {
				t.Fatal(err)
			}
		}
	}
	confirm(s.c, n/2)
	waitCount(t, s.c, queue.Filed, n/2)
	// The platform goes down with outcomes to report, and the agent restarts meanwhile.
	p.SetOutage(true)
	confirm(s.c, n/4)
	time.Sleep(100 * time.Millisecond)
	if err := s.Service.Stop(); err != nil {
		t.Fatal(err)
	}
	svc, err := service.Start(service.Options{DataDir: s.DataDir, Config: s.Config, Components: platformComponents(),
		StopGrace: time.Second, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	time.Sleep(300 * time.Millisecond)
	p.SetOutage(false)
	confirm(s.c, n)
	waitCount(t, s.c, queue.Filed, n)
	want := map[string]string{}
	for _, j := range jobs {
		want[j] = platformapi.OutcomeFiled
	}
	waitReported(t, p, want)
}
