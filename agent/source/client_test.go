package source

import (
	"errors"
	"github.com/writeback-agent/wbagent/agent/source/platformapi"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The enrolment credential goes only in the Authorization header, never into an error.
func TestClientErrorsNeverCarryTheCredential(t *testing.T) {
	const cred = "canary-credential-7f3a"
	for _, status := range []int{http.StatusUnauthorized, http.StatusServiceUnavailable} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+cred || !strings.HasPrefix(r.URL.Path, platformapi.Prefix+"/practices/A12345/") {
				t.Errorf("request %s %s", r.URL.Path, r.Header.Get("Authorization"))
			}
			http.Error(w, `{"error":"`+cred+`"}`, status)
		}))
		c := NewClient(srv.URL, "A12345", cred, nil)
		_, err := c.Pull(t.Context(), "", platformapi.DefaultLimit)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != status {
			t.Fatalf("Pull: %v, want HTTP %d", err, status)
		}
		for _, e := range []error{err, c.Ack(t.Context(), []string{"j"}), c.Report(t.Context(), []platformapi.Outcome{{JobID: "j", State: platformapi.OutcomeFiled}})} {
			if e == nil || strings.Contains(e.Error(), cred) {
				t.Fatalf("error %v", e)
			}
		}
		srv.Close()
	}
	c := NewClient("http://127.0.0.1:1", "A12345", cred, nil)
	if _, err := c.Pull(t.Context(), "", 1); err == nil || strings.Contains(err.Error(), cred) {
		t.Fatalf("unreachable: %v", err)
	}
}
