package outcome

import (
	"net/http"
	"testing"
)

func TestCodesAreDistinctAndDescribed(t *testing.T) {
	if len(All) != len(table) {
		t.Fatalf("All lists %d codes, table describes %d", len(All), len(table))
	}
	seen := map[Code]bool{}
	for _, c := range All {
		if seen[c] {
			t.Errorf("code %d listed twice", c)
		}
		seen[c] = true
		if _, ok := table[c]; !ok {
			t.Errorf("code %d has no description", c)
		}
	}
}

func TestStatusesAreThoseTheSpecDocuments(t *testing.T) {
	documented := map[int]bool{
		http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusNotFound: true,
		http.StatusUnsupportedMediaType: true, http.StatusInternalServerError: true,
	}
	for _, c := range All {
		if !documented[c.HTTPStatus()] {
			t.Errorf("%v answers %d, which the Partner API does not document", c, c.HTTPStatus())
		}
	}
}

func TestErrorMentionsNameAndNumber(t *testing.T) {
	err := Errorf(ApplicationNotActivated, "deactivated in %s", "EMAS Manager")
	want := "ApplicationNotActivated (legacyOutcome 3001): deactivated in EMAS Manager"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if Code(42).String() != "Code(42)" {
		t.Errorf("unknown code String() = %q", Code(42).String())
	}
}
