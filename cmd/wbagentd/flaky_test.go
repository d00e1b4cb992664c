package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/watch"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
)

// startWith starts the service with the filing component whose watcher probes healthy
// clinicians every interval.
func startWith(t *testing.T, interval time.Duration) *watchStack {
	t.Helper()
	wc := fastWatch
	wc.Healthy = interval
	st := servicetest.Start(t, servicetest.Options{Components: []service.Component{filing{watch: wc}}, Logger: debugLogger()})
	return &watchStack{Stack: st, c: client.New(st.Socket), admin: adminclient.New(st.SimURL, nil)}
}

// enqueue queues n valid writebacks by the stack's first clinician and returns their ids.
func (s *watchStack) enqueue(t *testing.T, prefix string, n int) []uint64 {
	t.Helper()
	patients := simtest.PlainPatients(s.Sim.Practice())
	who := s.Clinicians[0]
	var ids []uint64
	for i := range n {
		pt := patients[i%len(patients)]
		doc := servicetest.Writeback(t, fmt.Sprintf("%s-%03d", prefix, i), who, func(w *writeback.Writeback) {
			w.PracticeODS = s.Config.Practice.ODS
			w.Patient.NHSNumber, w.Patient.FamilyName, w.Patient.GivenNames = pt.NHSNumber, pt.FamilyName, pt.GivenNames
			w.Patient.DateOfBirth = pt.DateOfBirth.Format(time.DateOnly)
		})
		res, err := s.c.Enqueue(t.Context(), bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	return ids
}

// Deactivating the application while nothing is being filed is seen within the probe
// interval (shortened here to 2 s; 60 s by default), and clears as fast once reactivated.
func TestDeactivationWhileIdleIsSeenWithinTheProbeInterval(t *testing.T) {
	const interval = 2 * time.Second
	s := startWith(t, interval)
	who := s.Clinicians[0]
	s.link(t, who)
	time.Sleep(interval / 2) // the first probe passed: the watcher waits for the next
	s.apply(t, who, setApplication(false))
	start := time.Now()
	s.waitCondition(t, watch.CodeApplicationNotActivated, true)
	if d := time.Since(start); d > interval+5*time.Second {
		t.Errorf("seen %v after deactivation; want within the probe interval (%v) and 5 s", d, interval)
	}
	time.Sleep(3 * interval) // failing for a while: the watcher's back-off grows, up to the interval
	s.apply(t, who, setApplication(true))
	start = time.Now()
	s.waitCondition(t, watch.CodeApplicationNotActivated, false)
	if d := time.Since(start); d > interval+5*time.Second {
		t.Errorf("cleared %v after reactivation; want within the probe interval (%v) and 5 s", d, interval)
	}
}

// An engine pause shows in the status within 5 s, even where the watcher would not probe
// for an hour; and clears once the cause is put right.
func TestEnginePauseShowsWithinSeconds(t *testing.T) {
	s := startWith(t, time.Hour)
	who := s.Clinicians[0]
	s.link(t, who)
	s.waitCondition(t, watch.CodeApplicationNotActivated, false)
	s.apply(t, who, setApplication(false))
	ids := s.enqueue(t, "pause", 1)
	start := time.Now()
	s.waitCondition(t, watch.CodeApplicationNotActivated, true)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the pause showed %v after the writeback arrived; want within 5 s", d)
	}
	s.apply(t, who, setApplication(true))
	s.waitCondition(t, watch.CodeApplicationNotActivated, false)
	waitState(t, s.c, ids[0], "needs-confirmation")
}

// With the clinical system failing 15% of calls and dropping 15% of filings after
// committing them, 30 writebacks confirmed as they become ready are every one filed exactly
// once, none stuck, and no clinician is paused for a passing failure.
func TestFlakyClinicalSystemFilesEveryWritebackOnce(t *testing.T) {
	s := startWith(t, time.Minute)
	who := s.Clinicians[0]
	s.link(t, who)
	s.apply(t, who, setFaults(faults.Settings{LatencyMs: 20, ErrorRate: 0.15, TimeoutAfterCommitRate: 0.15}))
	const n = 30
	ids := s.enqueue(t, "flaky", n)
	filedAll(t, s, ids, 3*time.Minute)
	s.apply(t, who, setFaults(faults.Settings{}))
	cons, err := s.admin.Consultations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range cons {
		seen[c.GUID]++
	}
	for _, id := range ids {
		r, err := s.c.Record(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if seen[r.ConsultationGUID] != 1 {
			t.Errorf("record %d (%s) is in the clinical record %d times", id, r.ConsultationGUID, seen[r.ConsultationGUID])
		}
	}
	if len(cons) != n {
		t.Errorf("%d consultations for %d writebacks", len(cons), n)
	}
	st, err := s.c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.State != condition.OK {
		t.Errorf("state %s after draining: %+v", st.State, st.Conditions)
	}
}

// filedAll confirms each record as it becomes ready for confirmation, until all are filed.
func filedAll(t *testing.T, s *watchStack, ids []uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	want := map[uint64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for {
		recs, err := s.c.Queue(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		filed := 0
		counts := map[queue.State]int{}
		for _, r := range recs {
			if !want[r.ID] {
				continue
			}
			counts[r.State]++
			switch r.State {
			case queue.NeedsConfirmation:
				if _, err := s.c.Confirm(t.Context(), r.ID, false, r.Version); err != nil {
					t.Logf("confirm %d: %v", r.ID, err)
				}
			case queue.Filed:
				filed++
			case queue.NeedsAttention:
				t.Fatalf("record %d needs attention: %+v", r.ID, r.Reason)
			}
		}
		if filed == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			st, _ := s.c.Status(t.Context())
			t.Fatalf("after %v: %v; conditions %+v", within, counts, st.Conditions)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// debugLogger writes the service's log to the file WBDEBUG names, for looking into a slow
// or failing run; nil (no log) without it.
func debugLogger() *slog.Logger {
	if os.Getenv("WBDEBUG") == "" {
		return nil
	}
	f, _ := os.Create(os.Getenv("WBDEBUG"))
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// A clinical system that answers 429 with Retry-After is waited for, and everything is
// filed once all the same.
func TestThrottlingClinicalSystemIsWaitedFor(t *testing.T) {
	s := startWith(t, time.Minute)
	who := s.Clinicians[0]
	s.link(t, who)
	s.apply(t, who, setFaults(faults.Settings{ThrottleRate: 0.1, RetryAfterSeconds: 1}))
	ids := s.enqueue(t, "throttled", 5)
	filedAll(t, s, ids, time.Minute)
	s.apply(t, who, setFaults(faults.Settings{}))
	cons, err := s.admin.Consultations(t.Context())
	if err != nil || len(cons) != len(ids) {
		t.Fatalf("%d consultations for %d writebacks (%v)", len(cons), len(ids), err)
	}
}
