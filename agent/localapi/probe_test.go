//go:build linux

package localapi_test

import (
	"net/http"
	"testing"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/filing"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/watch"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
)

// Anyone at the PC may ask for a probe, linked or not; it answers with a fresh check per
// linked clinician and the status that includes what the checks found.
func TestProbeIsForAnyoneAndFresh(t *testing.T) {
	w := &world{t: t, stack: servicetest.Start(t, servicetest.Options{Identify: identify,
		Components: []service.Component{filing.Component{}}})}
	res := w.stack.SignIn(t, w.stack.Clinicians[0])
	var ls apitype.LinkState
	w.call("alice", http.MethodPost, apitype.PathLink, res.LinkRequest(), http.StatusOK, &ls)

	for _, user := range []string{"carol", "alice", "it"} {
		var pr apitype.ProbeResult
		w.call(user, http.MethodPost, apitype.PathProbe, nil, http.StatusOK, &pr)
		if len(pr.Checks) != 1 || !pr.Checks[0].OK || pr.Checks[0].Subject != "clinician:"+res.User.ID || pr.Incomplete {
			t.Fatalf("%s: probe %+v", user, pr)
		}
		if pr.Status.State != condition.OK || pr.Status.Caller == nil || pr.Status.Caller.OSUser == "" {
			t.Fatalf("%s: status %+v", user, pr.Status)
		}
	}
	if _, err := adminclient.New(w.stack.SimURL, nil).SetApplicationActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	var pr apitype.ProbeResult
	w.call("carol", http.MethodPost, apitype.PathProbe, nil, http.StatusOK, &pr)
	found := false
	for _, c := range pr.Status.Conditions {
		found = found || c.Code == watch.CodeApplicationNotActivated
	}
	if len(pr.Checks) != 1 || pr.Checks[0].OK || pr.Checks[0].Code != watch.CodeApplicationNotActivated || !found {
		t.Fatalf("probe with the application deactivated: %+v", pr)
	}
}
