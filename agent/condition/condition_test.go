package condition

import (
	"slices"
	"testing"
)

func TestSummarise(t *testing.T) {
	info := Condition{Code: "i", Severity: Info}
	warn := Condition{Code: "w", Severity: Warning}
	block := Condition{Code: "b", Severity: Blocking}
	for _, tc := range []struct {
		name    string
		conds   []Condition
		waiting int
		want    Overall
	}{
		{"nothing", nil, 0, OK},
		{"info only", []Condition{info}, 0, OK},
		{"records waiting for a person", []Condition{info}, 2, Attention},
		{"a warning", []Condition{info, warn}, 0, Attention},
		{"a blocking condition wins", []Condition{warn, block, info}, 3, Blocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarise(tc.conds, tc.waiting); got != tc.want {
				t.Errorf("Summarise = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWorst(t *testing.T) {
	if _, ok := Worst(nil); ok {
		t.Error("Worst(nil) reported a severity")
	}
	got, ok := Worst([]Condition{{Severity: Info}, {Severity: Warning}})
	if !ok || got != Warning {
		t.Errorf("Worst = %s, %v; want warning", got, ok)
	}
}

func TestSortPutsTheMostSevereFirst(t *testing.T) {
	conds := []Condition{
		{Code: "b", Severity: Info},
		{Code: "z", Severity: Blocking},
		{Code: "a", Severity: Info},
		{Code: "m", Severity: Warning},
	}
	Sort(conds)
	var codes []string
	for _, c := range conds {
		codes = append(codes, c.Code)
	}
	if want := []string{"z", "m", "a", "b"}; !slices.Equal(codes, want) {
		t.Errorf("order %v, want %v", codes, want)
	}
}

func TestBoardReplacesPerSourceAndNotifiesOnChange(t *testing.T) {
	changes := 0
	b := NewBoard(func() { changes++ })
	filer := []Condition{{Code: "session-expired", Severity: Blocking}}
	watcher := []Condition{{Code: "login-access", Severity: Warning}}

	b.Set("filer", filer)
	b.Set("watcher", watcher)
	b.Set("filer", filer) // unchanged: no notification
	if changes != 2 {
		t.Errorf("%d notifications, want 2", changes)
	}
	if got := b.All(); len(got) != 2 || got[0].Code != "session-expired" {
		t.Errorf("All = %+v", got)
	}
	b.Set("filer", nil)
	if got := b.All(); len(got) != 1 || got[0].Code != "login-access" {
		t.Errorf("after clearing the filer: %+v", got)
	}
	if changes != 3 {
		t.Errorf("%d notifications, want 3", changes)
	}
}
