package emisx

import (
	"testing"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

func TestClassify(t *testing.T) {
	outcomes, err := DefaultLegacyOutcomes().table()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status int
		legacy int32
		issue  string
		want   meaning
	}{
		{401, 3003, "security", meaning{clinical.ErrNoLoginAccess, "login-not-allowed"}},
		{401, 3003, "expired", meaning{clinical.ErrNoLoginAccess, "login-not-allowed"}}, // the number wins
		{500, 4005, "", meaning{clinical.ErrDuplicateConsultation, ""}},
		{401, 9999, "expired", meaning{clinical.ErrTokenExpired, ""}},
		{401, 0, "login", meaning{clinical.ErrRelinkNeeded, "login-required"}},
		{400, 0, "duplicate", meaning{clinical.ErrDuplicateConsultation, ""}},
		{400, 0, "throttled", meaning{clinical.ErrTransient, ""}},
		{401, 9999, "security", meaning{clinical.ErrAccessDenied, ""}},
		{403, 0, "", meaning{clinical.ErrAccessDenied, ""}},
		{404, 9999, "not-found", meaning{clinical.ErrBadRequest, ""}},
		{415, 0, "", meaning{clinical.ErrBadRequest, ""}},
		{429, 0, "", meaning{clinical.ErrTransient, ""}},
		{408, 0, "", meaning{clinical.ErrTransient, ""}},
		{502, 0, "", meaning{clinical.ErrTransient, ""}},
		{302, 0, "", meaning{clinical.ErrTransient, "unexpected-answer"}},
	}
	for _, tt := range tests {
		if got := classify(outcomes, tt.status, tt.legacy, tt.issue); got != tt.want {
			t.Errorf("classify(%d, %d, %q) = %+v, want %+v", tt.status, tt.legacy, tt.issue, got, tt.want)
		}
	}
}

func TestEveryOutcomeHasAMeaning(t *testing.T) {
	outcomes, err := DefaultLegacyOutcomes().table()
	if err != nil {
		t.Fatal(err)
	}
	for n, m := range outcomes {
		if m.kind == "" {
			t.Errorf("outcome %d has no meaning", n)
		}
	}
}
