package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

func TestFixtureReplaysEventsThenWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.ndjson")
	if err := os.WriteFile(path, []byte(`{"type":"state","status":{"state":"ok"},"records":[]}`+"\n"+
		`{"type":"record","record":{"id":1,"state":"needs-confirmation","mine":true}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := dialFixture(path)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []apitype.EventType{apitype.EventState, apitype.EventRecord} {
		if e, err := st.Next(); err != nil || e.Type != want {
			t.Fatalf("Next = %+v, %v; want a %s event", e, err, want)
		}
	}
	done := make(chan error)
	go func() { _, err := st.Next(); done <- err }()
	st.Close()
	if err := <-done; err == nil {
		t.Error("Next after Close returned no error")
	}

	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	os.WriteFile(bad, []byte("{not json\n"), 0o600)
	if _, err := dialFixture(bad)(context.Background()); err == nil {
		t.Error("a malformed fixture was accepted")
	}
}

func TestOneTrayPerSession(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the Windows mutex is per session; tested by hand")
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("DISPLAY", ":42")
	first, err := claimSession()
	if err != nil || !first {
		t.Fatalf("first claim = %v, %v", first, err)
	}
	if again, err := claimSession(); err != nil || again {
		t.Errorf("second claim in the same session = %v, %v; want refused", again, err)
	}
	t.Setenv("DISPLAY", ":43") // another session of the same user
	if other, err := claimSession(); err != nil || !other {
		t.Errorf("claim in another session = %v, %v; want granted", other, err)
	}
}
