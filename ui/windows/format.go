package windows

import (
	"fmt"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// NHSNumber shows an NHS number as it is printed: 943 476 5919.
func NHSNumber(n string) string {
	d := strings.ReplaceAll(n, " ", "")
	if len(d) != 10 {
		return strings.TrimSpace(n)
	}
	return d[:3] + " " + d[3:6] + " " + d[6:]
}

// DateOfBirth shows a YYYY-MM-DD date of birth as staff read it, with the age on now:
// "29/02/1980 (46 years)". A date it cannot read is shown as given.
func DateOfBirth(dob string, now time.Time) string {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(dob))
	if err != nil {
		if strings.TrimSpace(dob) == "" {
			return "not given"
		}
		return dob
	}
	return d.Format("02/01/2006") + " (" + Age(d, now) + ")"
}

// Age is the age on now of someone born on dob: "46 years", "11 months", "3 weeks".
func Age(dob, now time.Time) string {
	years := now.Year() - dob.Year()
	if now.Month() < dob.Month() || now.Month() == dob.Month() && now.Day() < dob.Day() {
		years--
	}
	if years >= 2 {
		return fmt.Sprintf("%d years", years)
	}
	months := (now.Year()-dob.Year())*12 + int(now.Month()) - int(dob.Month())
	if now.Day() < dob.Day() {
		months--
	}
	if months >= 1 {
		return plural(months, "month")
	}
	return plural(int(now.Sub(dob).Hours()/24/7), "week")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// PatientName shows a patient as clinical systems list them: "O'NEILL, Siobhan".
func PatientName(p writeback.Patient) string { return name(p.FamilyName, p.GivenNames) }

func name(family, given string) string {
	family = strings.ToUpper(strings.TrimSpace(family))
	if given = strings.TrimSpace(given); given == "" {
		return family
	}
	return family + ", " + given
}

// Received shows when a writeback arrived, relative to now: "09:41" today, "Yesterday
// 16:05", "Mon 3 Dec 16:05" otherwise.
func Received(t, now time.Time) string {
	t = t.Local()
	now = now.Local()
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return t.Format("15:04")
	case now.Sub(t) < 48*time.Hour && t.AddDate(0, 0, 1).Day() == d2:
		return "Yesterday " + t.Format("15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}

// FirstLine is the first line of text, cut to max characters with an ellipsis.
func FirstLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if r := []rune(s); len(r) > max {
		return strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}

// Size shows a byte count: "812 bytes", "45 KB", "2.3 MB".
func Size(n int64) string {
	switch {
	case n < 1000:
		return plural(int(n), "byte")
	case n < 1000*1000:
		return fmt.Sprintf("%d KB", (n+500)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
