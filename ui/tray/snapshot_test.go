package tray

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

func TestSnapshotFollowsEvents(t *testing.T) {
	var s Snapshot
	st := apitype.Status{State: "ok", Caller: clinician}
	if err := s.Apply(apitype.Event{Type: apitype.EventState, Status: &st, Records: []apitype.Record{
		{ID: 1, State: queue.NeedsConfirmation, Mine: true},
		{ID: 2, State: queue.NeedsAttention, Mine: true},
		{ID: 3, State: queue.NeedsConfirmation},
	}}); err != nil {
		t.Fatal(err)
	}
	if c, a := s.Mine(); !s.Connected || c != 1 || a != 1 {
		t.Fatalf("after state: connected %v, mine %d, %d", s.Connected, c, a)
	}
	for _, e := range []apitype.Event{
		{Type: apitype.EventRecord, Record: &apitype.Record{ID: 4, State: queue.NeedsConfirmation, Mine: true}},
		{Type: apitype.EventRecord, Record: &apitype.Record{ID: 1, State: queue.Ready, Mine: true}},
		{Type: apitype.EventRecord, Record: &apitype.Record{ID: 2, State: queue.Rejected, Mine: true}},
		{Type: apitype.EventStatus, Status: &apitype.Status{State: "attention", Caller: relinker}},
		{Type: "something-new"}, // a newer service's event: ignored
	} {
		if err := s.Apply(e); err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
	}
	if c, a := s.Mine(); c != 1 || a != 0 || len(s.Records) != 3 || s.Status.State != "attention" || !s.Status.Caller.RelinkNeeded {
		t.Errorf("after changes: mine %d, %d; %d records; %+v", c, a, len(s.Records), s.Status)
	}
	c := s.Clone()
	s.Apply(apitype.Event{Type: apitype.EventRecord, Record: &apitype.Record{ID: 9, State: queue.NeedsConfirmation, Mine: true}})
	if len(c.Records) != 3 || len(s.Records) != 4 {
		t.Errorf("the clone follows the original: %d and %d records", len(c.Records), len(s.Records))
	}
	s.Disconnect()
	if s.Connected || len(s.Records) != 0 {
		t.Errorf("after Disconnect: %+v", s)
	}
}

func TestSnapshotRefusesMalformedEvents(t *testing.T) {
	st := &apitype.Status{State: "ok"}
	for _, tt := range []struct {
		name  string
		first bool // a state event comes first
		e     apitype.Event
	}{
		{"state without status", false, apitype.Event{Type: apitype.EventState}},
		{"status before state", false, apitype.Event{Type: apitype.EventStatus, Status: st}},
		{"record before state", false, apitype.Event{Type: apitype.EventRecord, Record: &apitype.Record{ID: 1}}},
		{"status without status", true, apitype.Event{Type: apitype.EventStatus}},
		{"record without record", true, apitype.Event{Type: apitype.EventRecord}},
	} {
		var s Snapshot
		if tt.first {
			if err := s.Apply(apitype.Event{Type: apitype.EventState, Status: st}); err != nil {
				t.Fatal(err)
			}
		}
		before := s.Connected
		if err := s.Apply(tt.e); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
		if s.Connected != before {
			t.Errorf("%s: changed the snapshot", tt.name)
		}
	}
}

func TestPrefsAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", PrefsFile)
	p, err := LoadPrefs(path)
	if err != nil || p.Muted {
		t.Fatalf("no file: %+v, %v; want notifications on", p, err)
	}
	if err := SavePrefs(path, Prefs{Muted: true}); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadPrefs(path); err != nil || !p.Muted {
		t.Errorf("after saving muted: %+v, %v", p, err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadPrefs(path); err == nil || p.Muted {
		t.Errorf("broken file: %+v, %v; want the defaults and an error", p, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".tray-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestPrefsPathIsPerUser(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/reception/.config")
	t.Setenv("HOME", "/home/reception")
	t.Setenv("AppData", `C:\Users\reception\AppData\Roaming`)
	p, err := PrefsPath()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(p) || filepath.Base(p) != "tray.json" || !containsAny(p, "reception") {
		t.Errorf("PrefsPath = %q", p)
	}
}
