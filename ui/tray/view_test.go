package tray

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/status"
	"github.com/writeback-agent/wbagent/agent/watch"
	"github.com/writeback-agent/wbagent/assets"
)

var now = time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)

// Callers.
var (
	receptionist = &apitype.Caller{OSUser: "reception"}
	clinician    = &apitype.Caller{OSUser: "drsmith", ClinicalUserID: "1001", ClinicalName: "Dr A Smith"}
	relinker     = &apitype.Caller{OSUser: "drsmith", ClinicalUserID: "1001", ClinicalName: "Dr A Smith", RelinkNeeded: true}
	itAdmin      = &apitype.Caller{OSUser: "it", Admin: true}
)

// Conditions as the service reports them.
var (
	notActivated = condition.Condition{Code: watch.CodeApplicationNotActivated, Severity: condition.Blocking,
		Owner: condition.PracticeManager, Title: "The Writeback Agent application is not activated in EMAS Manager (Partner API)"}
	unreachable = condition.Condition{Code: watch.CodeUnreachable, Severity: condition.Warning, Owner: condition.IT,
		Title: "The clinical system cannot be reached: filing waits, nothing is lost"}
	sessionEnded = condition.Condition{Code: watch.CodeSessionEnded, Severity: condition.Blocking, Owner: condition.Clinician,
		Title: "1 clinician's sign-in is no longer accepted by the clinical system: Dr A Smith"}
	relinkCond = condition.Condition{Code: status.CodeRelinkNeeded, Severity: condition.Warning, Owner: condition.Clinician,
		Title: "1 clinician must sign in to the clinical system again"}
	noneLinked = condition.Condition{Code: status.CodeNoClinicianLinked, Severity: condition.Warning, Owner: condition.Clinician,
		Title: "No clinician has linked their clinical system account on this PC"}
	stuck = condition.Condition{Code: status.CodeRecordsNeedAttention, Severity: condition.Warning, Owner: condition.Clinician,
		Title: "2 writebacks need attention"}
	awaiting = condition.Condition{Code: status.CodeAwaitingConfirmation, Severity: condition.Info, Owner: condition.Clinician,
		Title: "3 filings are waiting for the clinician's confirmation"}
)

// snap returns a connected Snapshot; records are given as "mine:state" or "other:state".
func snap(caller *apitype.Caller, conds []condition.Condition, records ...string) *Snapshot {
	s := &Snapshot{}
	st := apitype.Status{State: condition.OK, Caller: caller, Conditions: conds}
	var recs []apitype.Record
	for i, r := range records {
		who, state, _ := strings.Cut(r, ":")
		recs = append(recs, apitype.Record{ID: uint64(i + 1), State: queue.State(state), Mine: who == "mine"})
	}
	if err := s.Apply(apitype.Event{Type: apitype.EventState, Status: &st, Records: recs}); err != nil {
		panic(err)
	}
	return s
}

func titles(v View, section Section) []string {
	var out []string
	for _, it := range v.Items {
		if it.Section == section {
			out = append(out, it.Title)
		}
	}
	return out
}

func item(t *testing.T, v View, id string) Item {
	t.Helper()
	for _, it := range v.Items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("no item %q in %q", id, titles(v, SectionActions))
	return Item{}
}

func hasItem(v View, id string) bool {
	for _, it := range v.Items {
		if it.ID == id {
			return true
		}
	}
	return false
}

// checkInvariants holds for every View: unique ids, the footer last and whole, enabled
// items do something and status lines do not, texts fit.
func checkInvariants(t *testing.T, name string, v View) {
	t.Helper()
	seen := map[string]bool{}
	prev := SectionStatus
	for _, it := range v.Items {
		if seen[it.ID] {
			t.Errorf("%s: item %q twice", name, it.ID)
		}
		seen[it.ID] = true
		if it.Section < prev {
			t.Errorf("%s: item %q out of section order", name, it.ID)
		}
		prev = it.Section
		if it.Enabled != (it.Action.Kind != ActNone) {
			t.Errorf("%s: item %q enabled %v with action %v", name, it.ID, it.Enabled, it.Action)
		}
		if it.Action.Kind == ActOpen && it.Action.Window == "" {
			t.Errorf("%s: item %q opens no window", name, it.ID)
		}
		if n := len([]rune(it.Title)); n > maxTitle || n == 0 {
			t.Errorf("%s: item %q title has %d characters", name, it.ID, n)
		}
		if strings.Contains(it.Title, "……") {
			t.Errorf("%s: item %q title has two ellipses", name, it.ID)
		}
		if strings.Contains(it.Title, "\n") {
			t.Errorf("%s: item %q title has a line break", name, it.ID)
		}
	}
	if got := titles(v, SectionFooter); len(got) != 3 || got[2] != titleQuit {
		t.Errorf("%s: footer %q", name, got)
	}
	if n := len(utf16.Encode([]rune(v.Tooltip))); n > maxTooltip {
		t.Errorf("%s: tooltip is %d UTF-16 units", name, n)
	}
	if !bytes.Equal(v.Icon, assets.TrayIcon(string(v.Status))) {
		t.Errorf("%s: icon is not the %s icon", name, v.Status)
	}
}

func TestOffline(t *testing.T) {
	for _, muted := range []bool{false, true} {
		v := Build(&Snapshot{}, Prefs{Muted: muted}, now)
		checkInvariants(t, "offline", v)
		if v.Status != Offline || v.Tooltip != "Writeback Agent service is not running — tell IT" {
			t.Errorf("offline view: %s, %q", v.Status, v.Tooltip)
		}
		if got := titles(v, SectionStatus); len(got) != 1 || got[0] != "Service not running — tell IT" {
			t.Errorf("offline status lines %q", got)
		}
		if got := titles(v, SectionActions); len(got) != 0 {
			t.Errorf("offline actions %q", got)
		}
		if m := item(t, v, "mute"); !m.Checkbox || m.Checked != muted || m.Action.Kind != ActToggleMute {
			t.Errorf("mute item %+v with muted %v", m, muted)
		}
	}
}

func TestCalmClinicianSeesAShortMenu(t *testing.T) {
	s := snap(clinician, nil)
	s.Status.LastFiledAt = now.Add(-28 * time.Minute)
	v := Build(s, Prefs{}, now)
	checkInvariants(t, "calm", v)
	if v.Status != OK || v.Tooltip != "Writeback Agent: filing normally" {
		t.Errorf("calm: %s, %q", v.Status, v.Tooltip)
	}
	want := []string{"Filing normally", "Last filed 14:32", "Mute notifications", "About Writeback Agent", titleQuit}
	var got []string
	for _, it := range v.Items {
		got = append(got, it.Title)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("menu %q, want %q", got, want)
	}
	if a := item(t, v, "about"); a.Action != (Action{Kind: ActOpen, Window: WindowAbout}) {
		t.Errorf("about does %+v", a.Action)
	}
	if q := item(t, v, "quit"); q.Action.Kind != ActQuit || !strings.Contains(q.Title, "service keeps filing") {
		t.Errorf("quit %+v", q)
	}
}

func TestCounts(t *testing.T) {
	tests := []struct {
		name      string
		records   []string
		review    string
		attention string
		icon      Status
	}{
		{"nothing", nil, "", "", OK},
		{"other clinicians' work is not mine", []string{"other:needs-confirmation", "other:needs-attention", "other:ready"}, "", "", OK},
		{"one waiting", []string{"mine:needs-confirmation"}, "Review 1 filing waiting for you…", "", Attention},
		{"many waiting", []string{"mine:needs-confirmation", "mine:needs-confirmation", "mine:needs-confirmation", "other:needs-confirmation", "mine:ready"},
			"Review 3 filings waiting for you…", "", Attention},
		{"one stuck", []string{"mine:needs-attention"}, "", "1 of yours needs attention…", Attention},
		{"both", []string{"mine:needs-attention", "mine:needs-attention", "mine:needs-confirmation"},
			"Review 1 filing waiting for you…", "2 of yours need attention…", Attention},
		{"finished records do not count", []string{"mine:filed", "mine:rejected", "mine:cancelled"}, "", "", OK},
		{"in flight is not waiting", []string{"mine:received", "mine:ready", "mine:filing"}, "", "", OK},
	}
	for _, tt := range tests {
		v := Build(snap(clinician, nil, tt.records...), Prefs{}, now)
		checkInvariants(t, tt.name, v)
		if v.Status != tt.icon {
			t.Errorf("%s: icon %s, want %s", tt.name, v.Status, tt.icon)
		}
		for _, c := range []struct {
			id, want string
			w        Window
		}{{"review", tt.review, WindowReview}, {"attention", tt.attention, WindowAttention}} {
			if c.want == "" {
				if hasItem(v, c.id) {
					t.Errorf("%s: unexpected %q item", tt.name, c.id)
				}
				continue
			}
			it := item(t, v, c.id)
			if it.Title != c.want || it.Action != (Action{Kind: ActOpen, Window: c.w}) || !it.Enabled {
				t.Errorf("%s: %s item %+v, want %q opening %s", tt.name, c.id, it, c.want, c.w)
			}
		}
		if got := item(t, v, "status"); got.Title != "Filing normally" || got.Enabled {
			t.Errorf("%s: status line %q (enabled %v): filings waiting are work, not a fault", tt.name, got.Title, got.Enabled)
		}
		if tt.review != "" && !strings.Contains(v.Tooltip, "wait for you") && !strings.Contains(v.Tooltip, "waits for you") {
			t.Errorf("%s: tooltip %q does not count the filings waiting", tt.name, v.Tooltip)
		}
	}
}

func TestManyWaiting(t *testing.T) {
	var recs []string
	for range 1234 {
		recs = append(recs, "mine:needs-confirmation")
	}
	v := Build(snap(clinician, nil, recs...), Prefs{}, now)
	checkInvariants(t, "many", v)
	if got := item(t, v, "review").Title; got != "Review 1234 filings waiting for you…" {
		t.Errorf("review = %q", got)
	}
}

func TestConditionOwners(t *testing.T) {
	tests := []struct {
		name    string
		caller  *apitype.Caller
		cond    condition.Condition
		records []string
		want    string // the condition's item title prefix; "" for no item
		icon    Status
	}{
		{"PM problem, receptionist", receptionist, notActivated, nil, "Practice manager: The Writeback Agent application", Blocked},
		{"PM problem, clinician", clinician, notActivated, nil, "Practice manager: ", Blocked},
		{"PM problem, IT", itAdmin, notActivated, nil, "Practice manager: ", Blocked},
		{"IT problem, receptionist", receptionist, unreachable, nil, "IT: The clinical system cannot be reached", Attention},
		{"IT problem, clinician", clinician, unreachable, nil, "IT: ", Attention},
		{"IT problem, administrator", itAdmin, unreachable, nil, "Fix: The clinical system cannot be reached", Attention},
		{"clinician problem, linked", clinician, sessionEnded, nil, "Fix: 1 clinician's sign-in", Blocked},
		{"clinician problem, receptionist", receptionist, sessionEnded, nil, "Clinicians: 1 clinician's sign-in", Blocked},
		{"relink needed, not me", clinician, relinkCond, nil, "Clinicians: 1 clinician must", Attention},
		{"relink needed, me: Sign in again is the fix", relinker, relinkCond, nil, "", Attention},
		{"nobody linked, unlinked caller: Link is the fix", receptionist, noneLinked, nil, "", Attention},
		{"stuck records, none mine", clinician, stuck, []string{"other:needs-attention"}, "Clinicians: 2 writebacks need attention", Attention},
		{"stuck records, some mine: offered above", clinician, stuck, []string{"mine:needs-attention"}, "", Attention},
		{"an owner this version does not know", receptionist, condition.Condition{Code: "new", Severity: condition.Warning,
			Owner: "caretaker", Title: "Something new"}, nil, "Practice manager: Something new", Attention},
		{"information is not a problem", receptionist, awaiting, []string{"other:needs-confirmation"}, "", OK},
	}
	for _, tt := range tests {
		v := Build(snap(tt.caller, []condition.Condition{tt.cond}, tt.records...), Prefs{}, now)
		checkInvariants(t, tt.name, v)
		if v.Status != tt.icon {
			t.Errorf("%s: icon %s, want %s", tt.name, v.Status, tt.icon)
		}
		id := "cond:" + tt.cond.Code
		if tt.want == "" {
			if hasItem(v, id) {
				t.Errorf("%s: unexpected item %q", tt.name, item(t, v, id).Title)
			}
			continue
		}
		it := item(t, v, id)
		if !strings.HasPrefix(it.Title, tt.want) || !strings.HasSuffix(it.Title, "…") {
			t.Errorf("%s: item %q, want it to start %q and end with …", tt.name, it.Title, tt.want)
		}
		if it.Action != (Action{Kind: ActOpen, Window: WindowProblems}) || !it.Enabled {
			t.Errorf("%s: item does %+v", tt.name, it.Action)
		}
		if strings.HasPrefix(tt.want, "Fix: ") != strings.HasPrefix(it.Tooltip, "You can fix this") {
			t.Errorf("%s: tooltip %q", tt.name, it.Tooltip)
		}
	}
}

func TestStatusLine(t *testing.T) {
	tests := []struct {
		name  string
		conds []condition.Condition
		want  string
		tip   string
	}{
		{"nothing", nil, "Filing normally", "Writeback Agent: filing normally"},
		{"info only", []condition.Condition{awaiting}, "Filing normally", "Writeback Agent: filing normally"},
		{"a warning", []condition.Condition{unreachable}, "Something needs attention",
			"Writeback Agent: needs attention\n" + unreachable.Title},
		{"blocking beats warning", []condition.Condition{unreachable, notActivated}, "Filing has stopped",
			"Writeback Agent: filing has stopped\n" + notActivated.Title},
	}
	for _, tt := range tests {
		v := Build(snap(receptionist, tt.conds), Prefs{}, now)
		checkInvariants(t, tt.name, v)
		if got := item(t, v, "status"); got.Title != tt.want || got.Enabled != (tt.want != "Filing normally") {
			t.Errorf("%s: status line %q (enabled %v), want %q", tt.name, got.Title, got.Enabled, tt.want)
		}
		if got := item(t, v, "status"); got.Enabled && got.Action != (Action{Kind: ActOpen, Window: WindowProblems}) {
			t.Errorf("%s: status line does %+v, want it to open the problems", tt.name, got.Action)
		}
		if v.Tooltip != tt.tip {
			t.Errorf("%s: tooltip %q, want %q", tt.name, v.Tooltip, tt.tip)
		}
	}
	// The problems follow the status line, most severe first.
	v := Build(snap(receptionist, []condition.Condition{unreachable, notActivated}), Prefs{}, now)
	if got := titles(v, SectionActions); len(got) < 2 || !strings.HasPrefix(got[0], "Practice manager: The Writeback Agent application") ||
		!strings.HasPrefix(got[1], "IT: The clinical system cannot be reached") {
		t.Errorf("actions %q: want the blocking problem first", got)
	}
	// The service's own verdict is never made calmer.
	s := snap(receptionist, nil)
	s.Status.State = condition.Blocked
	if v := Build(s, Prefs{}, now); v.Status != Blocked || item(t, v, "status").Title != "Filing has stopped" {
		t.Errorf("service blocked without conditions: %s, %q", v.Status, item(t, v, "status").Title)
	}
}

func TestLinkItems(t *testing.T) {
	tests := []struct {
		name   string
		caller *apitype.Caller
		want   string
	}{
		{"not linked", receptionist, "Clinicians: link my EMIS account…"},
		{"administrator not linked", itAdmin, "Clinicians: link my EMIS account…"},
		{"linked", clinician, ""},
		{"relink needed", relinker, "Sign in again…"},
		{"a service that does not say who is calling", nil, ""},
	}
	for _, tt := range tests {
		v := Build(snap(tt.caller, nil), Prefs{}, now)
		checkInvariants(t, tt.name, v)
		if tt.want == "" {
			if hasItem(v, "link") {
				t.Errorf("%s: unexpected %q", tt.name, item(t, v, "link").Title)
			}
			continue
		}
		if it := item(t, v, "link"); it.Title != tt.want || it.Action.Kind != ActLink {
			t.Errorf("%s: link item %+v, want %q", tt.name, it, tt.want)
		}
	}
}

func TestManyConditionsEndWithMore(t *testing.T) {
	var conds []condition.Condition
	for i := range 8 {
		conds = append(conds, condition.Condition{Code: fmt.Sprintf("c%d", i), Severity: condition.Warning,
			Owner: condition.PracticeManager, Title: fmt.Sprintf("Problem %d", i)})
	}
	// Problems offered by another item are not counted among the more.
	conds = append(conds, noneLinked)
	v := Build(snap(receptionist, conds), Prefs{}, now)
	checkInvariants(t, "many conditions", v)
	got := titles(v, SectionActions)
	want := []string{"Practice manager: Problem 0…", "Practice manager: Problem 1…", "Practice manager: Problem 2…",
		"Practice manager: Problem 3…", "Practice manager: Problem 4…", "More problems (3)…", "Clinicians: link my EMIS account…"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("actions %q, want %q", got, want)
	}
	if it := item(t, v, "more"); it.Action.Window != WindowProblems {
		t.Errorf("more opens %s", it.Action.Window)
	}
}

func TestLongTitlesAreCut(t *testing.T) {
	long := strings.Repeat("Ω", 200) + strings.Repeat("😀", 100) + "\nsecond line"
	conds := []condition.Condition{{Code: "long", Severity: condition.Blocking, Owner: condition.IT, Title: long}}
	var recs []string
	for range 12 {
		recs = append(recs, "mine:needs-confirmation")
	}
	for _, caller := range []*apitype.Caller{receptionist, itAdmin, clinician} {
		v := Build(snap(caller, conds, recs...), Prefs{}, now)
		checkInvariants(t, "long", v)
		if it := item(t, v, "cond:long").Title; !strings.HasSuffix(it, "…") || len([]rune(it)) != maxTitle {
			t.Errorf("item %q not cut to %d", it, maxTitle)
		}
		if !strings.HasPrefix(v.Tooltip, "Writeback Agent: filing has stopped\nΩ") || !strings.HasSuffix(v.Tooltip, "…") {
			t.Errorf("tooltip %q", v.Tooltip)
		}
	}
}

func TestLastFiled(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	n := time.Date(2026, 7, 7, 15, 0, 0, 0, london)
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, ""},
		{time.Date(2026, 7, 7, 13, 32, 0, 0, time.UTC), "Last filed 14:32"}, // BST
		{time.Date(2026, 7, 7, 0, 0, 0, 0, london), "Last filed 00:00"},
		{time.Date(2026, 7, 6, 23, 59, 0, 0, london), "Last filed yesterday 23:59"},
		{time.Date(2026, 7, 5, 9, 5, 0, 0, london), "Last filed 5 Jul 09:05"},
		{time.Date(2025, 12, 31, 9, 5, 0, 0, london), "Last filed 31 Dec 2025 09:05"},
	}
	for _, tt := range tests {
		s := snap(clinician, nil)
		s.Status.LastFiledAt = tt.at
		v := Build(s, Prefs{}, n)
		if tt.want == "" {
			if hasItem(v, "last-filed") {
				t.Errorf("never filed: %q", item(t, v, "last-filed").Title)
			}
			continue
		}
		if it := item(t, v, "last-filed"); it.Title != tt.want || it.Enabled {
			t.Errorf("%v: %q, want %q", tt.at, it.Title, tt.want)
		}
	}
}

// TestEveryCombination builds the view for every state, owner, caller and count the tray
// can meet, and checks what holds for all of them.
func TestEveryCombination(t *testing.T) {
	callers := []*apitype.Caller{nil, receptionist, clinician, relinker, itAdmin}
	severities := []condition.Severity{condition.Info, condition.Warning, condition.Blocking}
	owners := []condition.Owner{condition.Clinician, condition.PracticeManager, condition.IT}
	counts := [][]string{nil, {"mine:needs-confirmation"}, {"mine:needs-attention", "mine:needs-confirmation", "other:needs-attention"}}
	overalls := []condition.Overall{condition.OK, condition.Attention, condition.Blocked}
	n := 0
	for _, caller := range callers {
		for _, sev := range severities {
			for _, owner := range owners {
				for _, recs := range counts {
					for _, overall := range overalls {
						for _, muted := range []bool{false, true} {
							s := snap(caller, []condition.Condition{{Code: "x", Severity: sev, Owner: owner, Title: "Something"}}, recs...)
							s.Status.State = overall
							v := Build(s, Prefs{Muted: muted}, now)
							name := fmt.Sprintf("%v/%s/%s/%d/%s/%v", caller, sev, owner, len(recs), overall, muted)
							checkInvariants(t, name, v)
							if sev == condition.Blocking && v.Status != Blocked {
								t.Errorf("%s: icon %s with a blocking condition", name, v.Status)
							}
							if sev == condition.Info && len(recs) == 0 && overall != condition.Blocked && v.Status != OK {
								t.Errorf("%s: icon %s with nothing to do", name, v.Status)
							}
							if item(t, v, "mute").Checked != muted {
								t.Errorf("%s: mute tick", name)
							}
							n++
						}
					}
				}
			}
		}
	}
	t.Logf("%d views", n)
}
