package clinical

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"testing"
)

func TestUUIDv5MatchesRFC9562(t *testing.T) {
	// RFC 9562 appendix A.4: the DNS namespace and "www.example.com".
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := uuidV5(dns, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("uuidV5 = %s, want %s", got, want)
	}
}

func TestConsultationGUID(t *testing.T) {
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a := ConsultationGUID("A12345", "ocp-2026-11-21:job.000123")
	tests := []struct {
		name      string
		ods, job  string
		wantEqual bool
	}{
		{"same writeback", "A12345", "ocp-2026-11-21:job.000123", true},
		{"ODS code in lower case", "a12345", "ocp-2026-11-21:job.000123", true},
		{"another job", "A12345", "ocp-2026-11-21:job.000124", false},
		{"another practice", "B12345", "ocp-2026-11-21:job.000123", false},
		{"colon moved between the parts", "A1234", "5:ocp-2026-11-21:job.000123", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ConsultationGUID(tt.ods, tt.job)
			if !guid.MatchString(b) {
				t.Errorf("%q is not a version 5 UUID", b)
			}
			if (a == b) != tt.wantEqual {
				t.Errorf("GUID %s vs %s: equal %t, want %t", a, b, a == b, tt.wantEqual)
			}
		})
	}
	// Pinned (cross-checked with Python's uuid.uuid5): a change here would file every
	// writeback queued before an upgrade a second time.
	if want := "4a3b56b0-5c28-5737-8989-7a6eb2d0d374"; a != want {
		t.Errorf("GUID of the example writeback = %s, want %s", a, want)
	}
}

func TestErrorsMatchTheirKind(t *testing.T) {
	e := &Error{Op: "FileRecord", Kind: ErrNoLoginAccess, Cause: "login-not-allowed", Status: 401, LegacyOutcome: 3003}
	wrapped := fmt.Errorf("file record 7: %w", e)
	if !errors.Is(wrapped, ErrNoLoginAccess) || errors.Is(wrapped, ErrRelinkNeeded) {
		t.Error("errors.Is does not follow the kind")
	}
	if KindOf(wrapped) != ErrNoLoginAccess || KindOf(ErrNotLinked) != ErrNotLinked || KindOf(io.EOF) != "" {
		t.Error("KindOf")
	}
	if KindOf(fmt.Errorf("sessions: %w", ErrNotLinked)) != ErrNotLinked {
		t.Error("KindOf a wrapped bare kind")
	}
	if e.Code() != "login-not-allowed" || (&Error{Kind: ErrTransient}).Code() != "transient" {
		t.Error("Code")
	}
	tests := []struct {
		err         *Error
		msg, detail string
	}{
		{e, "clinical system: FileRecord: login-not-allowed (HTTP 401, legacyOutcome 3003)", "FileRecord: HTTP 401, legacyOutcome 3003"},
		{&Error{Op: "FileRecord", Kind: ErrTransient, OutcomeUnknown: true, Err: io.ErrUnexpectedEOF},
			"clinical system: FileRecord: transient (outcome unknown): unexpected EOF", "FileRecord: outcome unknown"},
		{&Error{Op: "GetUserById", Kind: ErrTransient, Err: io.EOF}, "clinical system: GetUserById: transient: EOF", "GetUserById: no answer"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.msg {
			t.Errorf("Error() = %q, want %q", got, tt.msg)
		}
		if got := tt.err.Detail(); got != tt.detail {
			t.Errorf("Detail() = %q, want %q", got, tt.detail)
		}
	}
}
