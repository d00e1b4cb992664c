package emisx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx/emisxtest"
	"github.com/writeback-agent/wbagent/cmd/practicesim/contract"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness runs a simulated practice and an adapter whose every request and answer is checked
// against the Partner API document: a violation fails the test.
type harness struct {
	t         *testing.T
	sim       *sim.Simulator
	base      string
	clock     *clock
	transport *contract.Transport
	sessions  *emisxtest.Sessions
	client    *emisx.Client
}

func newHarness(t *testing.T, change ...func(*emisx.Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{t: time.Now()}}
	s, err := sim.New(sim.Config{Now: h.clock.now, TokenLifetime: time.Hour, SessionLifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if h.base, err = s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	v, err := contract.New(contract.IdentityProvider{})
	if err != nil {
		t.Fatal(err)
	}
	h.sim, h.transport = s, v.Transport(nil)
	t.Cleanup(func() {
		for _, viol := range h.transport.Violations() {
			t.Errorf("contract violated: %v", viol)
		}
	})
	h.sessions = emisxtest.NewSessions(emisx.LinkConfig(emisx.Endpoint(h.base), idp.DesktopClientID, "http://127.0.0.1/callback"))
	cfg := emisx.Config{
		BaseURL: h.base, ApplicationID: sim.ApplicationID, Sessions: h.sessions,
		PracticeODS: s.Practice().ODSCode, HTTPClient: &http.Client{Transport: h.transport, Timeout: 10 * time.Second},
	}
	for _, c := range change {
		c(&cfg)
	}
	if h.client, err = emisx.New(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) practice() *fixtures.Practice { return h.sim.Practice() }

// staff returns the first member of staff matching.
func (h *harness) staff(match func(fixtures.Staff) bool) fixtures.Staff {
	h.t.Helper()
	for _, s := range h.practice().Staff {
		if match(s) {
			return s
		}
	}
	h.t.Fatal("no such member of staff")
	return fixtures.Staff{}
}

func (h *harness) gp() fixtures.Staff {
	return h.staff(func(s fixtures.Staff) bool { return s.JobCategory.Doctor && !s.Locum })
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

func (h *harness) patient(n int32) fixtures.Patient {
	h.t.Helper()
	p, ok := h.practice().Patient(n)
	if !ok {
		h.t.Fatalf("no patient %d", n)
	}
	return *p
}

// admin calls the simulator's admin API.
func (h *harness) admin(method, path string, in, out any) {
	h.t.Helper()
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, h.base+path, &body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("admin %s %s: %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) setUser(s fixtures.Staff, change map[string]any) {
	h.admin(http.MethodPost, "/admin/users/"+strconv.Itoa(int(s.UserInRoleID)), change, nil)
}

func (h *harness) setApplication(active bool) {
	h.admin(http.MethodPost, "/admin/application", map[string]bool{"active": active}, nil)
}

func (h *harness) setFaults(latencyMs int, errorRate, timeoutAfterCommitRate float64) {
	h.admin(http.MethodPost, "/admin/faults", map[string]any{"latencyMs": latencyMs, "errorRate": errorRate, "timeoutAfterCommitRate": timeoutAfterCommitRate}, nil)
}

// filedConsultation is a consultation as GET /admin/consultations lists it.
type filedConsultation struct {
	PatientNumber int32  `json:"patientNumber"`
	GUID          string `json:"guid"`
	UserID        int32  `json:"userId"`
	Record        struct {
		ConsultationList []struct {
			DBID                string `json:"dbid"`
			AssignedDate        string `json:"assignedDate"`
			PfsVisible          bool   `json:"pfsVisible"`
			PfsVisibleSpecified bool   `json:"pfsVisibleSpecified"`
			ElementList         []any  `json:"elementList"`
		} `json:"consultationList"`
		EventList []struct {
			DescriptiveText string `json:"descriptiveText"`
			Code            *struct {
				Value  string `json:"value"`
				Scheme int32  `json:"scheme"`
				Term   string `json:"term"`
			} `json:"code"`
			NumericValue *struct {
				Value float64 `json:"value"`
				Units string  `json:"units"`
			} `json:"numericValue"`
		} `json:"eventList"`
		AttachmentList []struct {
			Title          string `json:"title"`
			AttachmentData string `json:"attachmentData"`
			PfsVisible     bool   `json:"pfsVisible"`
		} `json:"attachmentList"`
	} `json:"record"`
}

func (h *harness) consultations() []filedConsultation {
	var out []filedConsultation
	h.admin(http.MethodGet, "/admin/consultations", nil, &out)
	return out
}
