package windows

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

func TestAttentionShowsReasonFixRetryAndCancelForAdministrators(t *testing.T) {
	fastReconnect(t)
	f := newFake()
	d := f.add(1, "O'Neill", 0)
	d.State = queue.NeedsAttention
	d.Reason = &queue.Reason{Code: "surname-mismatch", Text: "The surname in the request (O'Neill) does not match the record (Neill): check the patient.",
		Fix: "Make sure the writeback is for this patient.\nThen choose Retry."}
	other := f.add(2, "Other", 1)
	other.State, other.Mine = queue.NeedsAttention, false
	other.Reason = &queue.Reason{Code: "patient-not-found"}

	a := test.NewTempApp(t)
	var w *Attention
	onUI(func() { w = NewAttention(a, f); w.Window().Show() })
	defer w.Window().Close()
	f.stream(t)
	eventually(t, "the card with the patient", func() bool {
		text := drawn(w.Window().Content())
		return strings.Contains(text, "O'NEILL, Siobhan   943 476 5919") && strings.Contains(text, "does not match the record (Neill)") &&
			strings.Contains(text, "1.  Make sure the writeback is for this patient.") && strings.Contains(text, "2.  Then choose Retry.")
	})
	text := drawn(w.Window().Content())
	if strings.Contains(text, "Record 2") || strings.Contains(text, "Cancel writeback") {
		t.Errorf("a clinician sees another's record or Cancel: %q", text)
	}
	tapButton(t, w.Window().Content(), "Retry")
	eventually(t, "the retry", func() bool { return f.sawCall("Retry 1") })

	// An administrator sees everyone's, without their details, and may cancel with a reason.
	f2 := newFake()
	f2.status.Caller = &apitype.Caller{OSUser: "it", Admin: true}
	d2 := f2.add(2, "Other", 1)
	d2.State, d2.Mine = queue.NeedsAttention, false
	d2.Reason = &queue.Reason{Code: "patient-not-found"}
	var w2 *Attention
	onUI(func() { w2 = NewAttention(a, f2); w2.Window().Show() })
	defer w2.Window().Close()
	f2.stream(t)
	eventually(t, "the administrator's view", func() bool {
		text := drawn(w2.Window().Content())
		return strings.Contains(text, "Record 2") && strings.Contains(text, "Reason: patient-not-found. "+OthersReasonNote)
	})
	tapButton(t, w2.Window().Content(), "Cancel writeback")
	top := w2.Window().Canvas().Overlays().Top()
	tapButton(t, top, "Cancel writeback")
	if f2.sawCall("Cancel") {
		t.Fatal("cancelled without a reason")
	}
	var entry *escEntry
	onUI(func() {
		for _, o := range test.LaidOutObjects(top) {
			if e, ok := o.(*escEntry); ok {
				entry = e
			}
		}
	})
	onUI(func() { test.Type(entry, "Test writeback sent by IT") })
	tapButton(t, top, "Cancel writeback")
	eventually(t, "the cancel", func() bool { return f2.sawCall("Cancel 2 Test writeback sent by IT") })
}

func TestProblemsMostSevereFirstAndCheckAgain(t *testing.T) {
	fastReconnect(t)
	f := newFake()
	f.status.Conditions = []condition.Condition{
		{Code: "b-warning", Severity: condition.Warning, Owner: condition.Clinician, Title: "Dr Smith must sign in again", Fix: "Open Account.\nChoose Sign in again."},
		{Code: "a-blocking", Severity: condition.Blocking, Owner: condition.PracticeManager, Title: "The application is deactivated in EMAS Manager",
			Fix: "Open EMAS Manager.\nActivate Writeback Agent."},
	}
	a := test.NewTempApp(t)
	var p *Problems
	onUI(func() { p = NewProblems(a, f); p.Window().Show() })
	defer p.Window().Close()
	f.stream(t)
	eventually(t, "the conditions", func() bool { return strings.Contains(drawn(p.Window().Content()), "2 problems") })
	text := drawn(p.Window().Content())
	iBlock, iWarn := strings.Index(text, "deactivated"), strings.Index(text, "sign in again")
	if iBlock < 0 || iWarn < 0 || iBlock > iWarn {
		t.Errorf("not most severe first: %q", text)
	}
	for _, want := range []string{"Filing stopped", "Who fixes it: the practice manager", "1.  Open EMAS Manager.", "2.  Activate Writeback Agent.",
		"Who fixes it: the clinician"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not shown in %q", want, text)
		}
	}

	// Check again: the service's probe result, and the status it brings (fixed now).
	f.probe = func() (*apitype.ProbeResult, error) {
		return &apitype.ProbeResult{Checks: []apitype.ProbeCheck{
			{Subject: "platform", Title: "The online consultation platform", OK: true},
			{Subject: "clinician:501", Title: "Dr A Smith's sign-in to EMIS", OK: false, Code: "relink-needed", Detail: "the sign-in has expired"},
		}, Status: apitype.Status{State: condition.Attention, Conditions: f.status.Conditions[:1]}}, nil
	}
	tapButton(t, p.Window().Content(), CheckAgain)
	eventually(t, "the probe's result", func() bool {
		text := drawn(p.Window().Content())
		return strings.Contains(text, "Dr A Smith's sign-in to EMIS: the sign-in has expired") && strings.Contains(text, "1 problem") &&
			!strings.Contains(text, "deactivated")
	})

	// A refusal is shown in the service's words; a service without the route says so.
	f.probe = func() (*apitype.ProbeResult, error) {
		return nil, &client.APIError{Status: 403, Code: apitype.CodeForbidden, Message: "the caller could not be identified"}
	}
	tapButton(t, p.Window().Content(), CheckAgain)
	eventually(t, "the refusal", func() bool {
		return strings.Contains(drawn(p.Window().Content()), "Could not check: the caller could not be identified")
	})
	f.probe = func() (*apitype.ProbeResult, error) {
		return nil, &client.APIError{Status: 404, Code: apitype.CodeInternal, Message: "404 Not Found"}
	}
	tapButton(t, p.Window().Content(), CheckAgain)
	eventually(t, "no probe route", func() bool { return strings.Contains(drawn(p.Window().Content()), NoProbe) })
}

func TestAccountLinkAndUnlink(t *testing.T) {
	fastReconnect(t)
	f := newFake()
	f.link = apitype.LinkState{Settings: link.Settings{Issuer: "https://idp.test", ClientID: "wbagent"}}
	var gotSettings link.Settings
	signIn := func(_ context.Context, s link.Settings, _ func(string)) (*apitype.LinkRequest, error) {
		gotSettings = s
		return &apitype.LinkRequest{ClinicalUserID: "501", AccessToken: "at", RefreshToken: "rt"}, nil
	}
	a := test.NewTempApp(t)
	var w *Account
	onUI(func() { w = NewAccount(a, f, signIn); w.Window().Show() })
	defer w.Window().Close()
	f.stream(t)
	eventually(t, "not linked", func() bool { return strings.Contains(drawn(w.Window().Content()), NotLinkedYet) })
	tapButton(t, w.Window().Content(), "Link")
	eventually(t, "linked", func() bool {
		text := drawn(w.Window().Content())
		return f.sawCall("Link 501 at") && strings.Contains(text, "Linked to Dr Alice Smith") && strings.Contains(text, "Sign in again")
	})
	if gotSettings.Issuer != "https://idp.test" {
		t.Errorf("signed in with %+v, want the service's settings", gotSettings)
	}
	tapButton(t, w.Window().Content(), "Unlink")
	tapButton(t, w.Window().Canvas().Overlays().Top(), "Yes")
	eventually(t, "unlinked", func() bool {
		return f.sawCall("Unlink ") && strings.Contains(drawn(w.Window().Content()), NotLinkedYet)
	})

	// A failed sign-in is said in words and links nothing.
	w.signIn = func(context.Context, link.Settings, func(string)) (*apitype.LinkRequest, error) {
		return nil, errors.New("signin: access_denied: the user cancelled")
	}
	tapButton(t, w.Window().Content(), "Link")
	eventually(t, "the failure", func() bool {
		return strings.Contains(drawn(w.Window().Content()), "Not linked: signin: access_denied: the user cancelled")
	})

	// While the browser is open the address is offered, and the sign-in can be cancelled.
	w.signIn = func(ctx context.Context, _ link.Settings, show func(string)) (*apitype.LinkRequest, error) {
		show("https://idp.test/authorize?code_challenge=x")
		<-ctx.Done()
		return nil, ctx.Err()
	}
	tapButton(t, w.Window().Content(), "Link")
	eventually(t, "the address", func() bool {
		return strings.Contains(drawn(w.Window().Content()), "https://idp.test/authorize?code_challenge=x")
	})
	tapButton(t, w.Window().Content(), "Cancel sign-in")
	eventually(t, "the cancellation", func() bool { return strings.Contains(drawn(w.Window().Content()), "Sign-in cancelled.") })
}

func TestEveryWindowShowsTheOfflineBanner(t *testing.T) {
	fastReconnect(t)
	a := test.NewTempApp(t)
	for name, open := range map[string]func(*fakeService) fyne.Window{
		"attention": func(f *fakeService) fyne.Window { return NewAttention(a, f).Window() },
		"problems":  func(f *fakeService) fyne.Window { return NewProblems(a, f).Window() },
		"account":   func(f *fakeService) fyne.Window { return NewAccount(a, f, nil).Window() },
		"about":     func(f *fakeService) fyne.Window { return NewAboutService(a, "1.0", f).Window() },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.offline = true
			var w fyne.Window
			onUI(func() { w = open(f); w.Show() })
			defer inflight.Wait() // runs after Close: no request outlives the subtest
			defer w.Close()       // not under onUI: closing waits for the stream's follower
			eventually(t, "the banner", func() bool { return strings.Contains(drawn(w.Content()), OfflineTitle) })
			f.mu.Lock()
			f.offline = false
			f.mu.Unlock()
			f.stream(t)
			eventually(t, "recovery", func() bool { return !strings.Contains(drawn(w.Content()), OfflineTitle) })
		})
	}
}

func TestAboutShowsBothVersionsAndDiagnosticsForAdministrators(t *testing.T) {
	fastReconnect(t)
	f := newFake()
	f.status.Version = "2.0.1"
	a := test.NewTempApp(t)
	var w *AboutService
	onUI(func() { w = NewAboutService(a, "1.0", f); w.Window().Show() })
	defer w.Window().Close()
	f.stream(t)
	eventually(t, "the service's version", func() bool { return strings.Contains(drawn(w.Window().Content()), "2.0.1") })
	text := drawn(w.Window().Content())
	if !strings.Contains(text, "Data folder") || !strings.Contains(text, "Log folder") || strings.Contains(text, "Save diagnostics") {
		t.Errorf("a clinician's About: %q", text)
	}
	f2 := newFake()
	f2.status.Caller = &apitype.Caller{OSUser: "it", Admin: true}
	var w2 *AboutService
	onUI(func() { w2 = NewAboutService(a, "1.0", f2); w2.Window().Show() })
	defer w2.Window().Close()
	f2.stream(t)
	eventually(t, "Save diagnostics", func() bool { return strings.Contains(drawn(w2.Window().Content()), "Save diagnostics…") })
}
