package emisx_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx/emisxtest"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
)

// harness runs a simulated practice and an adapter whose every request and answer is checked
// against the Partner API document: a violation fails the test.
type harness struct {
	*simtest.Practice
	t        *testing.T
	sessions *emisxtest.Sessions
	client   *emisx.Client
}

func newHarness(t *testing.T, change ...func(*emisx.Config)) *harness {
	t.Helper()
	h := &harness{t: t, Practice: simtest.Start(t, simtest.TokenLifetime(time.Hour), simtest.SessionLifetime(24*time.Hour))}
	h.sessions = emisxtest.NewSessions(emisx.LinkConfig(emisx.Endpoint(h.URL), idp.DesktopClientID, "http://127.0.0.1/callback"))
	cfg := emisx.Config{
		BaseURL: h.URL, ApplicationID: sim.ApplicationID, Sessions: h.sessions,
		PracticeODS: h.Fixtures().ODSCode, HTTPClient: &http.Client{Transport: h.Transport, Timeout: 10 * time.Second},
	}
	for _, c := range change {
		c(&cfg)
	}
	var err error
	if h.client, err = emisx.New(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// link signs a member of staff in and returns their clinical user id.
func (h *harness) link(s fixtures.Staff) string {
	h.t.Helper()
	id := strconv.Itoa(int(s.UserInRoleID))
	if err := h.sessions.SignIn(context.Background(), id, s.Username, s.Password); err != nil {
		h.t.Fatal(err)
	}
	return id
}
