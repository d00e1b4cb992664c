package main

import (
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/filing"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/watch"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
)

// doctor asks for fresh facts: right after the application is deactivated (before any
// scheduled probe could see it) it reports the blocking condition, exits 2, and prints no
// [ok] line about the clinicians' sign-in; once reactivated, it says all is well at once.
func TestDoctorReportsFreshFactsAndNoContradictingOK(t *testing.T) {
	stack := servicetest.Start(t, servicetest.Options{Components: []service.Component{
		filing.Component{Watch: watch.Config{Healthy: time.Hour}}}})
	c := &cli{t: t, socket: stack.Socket}
	who := stack.Clinicians[0]
	c.ok("link", "--username", who.Username, "--password", who.Password)
	admin := adminclient.New(stack.SimURL, nil)

	r := c.run("doctor", "--socket", c.socket)
	if r.code != doctorOK || !strings.Contains(r.stdout, "sign-in to EMIS: works (checked now)") {
		t.Fatalf("doctor while all works: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if _, err := admin.SetApplicationActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	r = c.run("doctor", "--socket", c.socket)
	if r.code != doctorBlocking {
		t.Errorf("doctor with the application deactivated: exit %d, want %d", r.code, doctorBlocking)
	}
	if !strings.Contains(r.stdout, watch.CodeApplicationNotActivated) {
		t.Errorf("doctor does not list %s:\n%s", watch.CodeApplicationNotActivated, r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "[ok]") && (strings.Contains(line, "sign-in") || strings.Contains(line, "clinical system")) {
			t.Errorf("doctor prints %q beside the blocking condition:\n%s", line, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "all good") {
		t.Errorf("doctor says all good:\n%s", r.stdout)
	}

	if _, err := admin.SetApplicationActive(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if r := c.run("doctor", "--socket", c.socket); r.code != doctorOK || strings.Contains(r.stdout, watch.CodeApplicationNotActivated) {
		t.Errorf("doctor once reactivated: exit %d\n%s", r.code, r.stdout)
	}
}
