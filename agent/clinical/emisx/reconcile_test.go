package emisx_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
)

// A filing whose answer was lost is found again in the record, whether the practice kept the
// GUID it was sent (found by GUID) or gave it one of its own (found by its content), and a
// different filing of the same day by the same author is not taken for it.
func TestFindFilingAfterAnUnknownOutcome(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run("ignoreConsultationGuid="+strconv.FormatBool(ignore), func(t *testing.T) {
			h := newHarness(t)
			user := h.link(h.GP())
			p := h.Patient(fixtures.FirstPatientNumber)
			// Another consultation of the same day by the same author is in the record first:
			// its refIDs are the same as the filing's.
			other := filing(user, p, clinical.ConsultationGUID("A12345", "other"))
			other.Summary = "Online consultation: a different problem."
			if _, err := h.client.File(ctx, other); err != nil {
				t.Fatal(err)
			}
			guid := clinical.ConsultationGUID("A12345", "dropped")
			h.SetFaults(faults.Settings{TimeoutAfterCommitRate: 1, IgnoreConsultationGUID: ignore})
			if _, err := h.client.File(ctx, filing(user, p, guid)); !errors.Is(err, clinical.ErrTransient) {
				t.Fatalf("File: %v", err)
			}
			h.SetFaults(faults.Settings{IgnoreConsultationGUID: ignore})
			all := h.Consultations()
			if len(all) != 2 {
				t.Fatalf("%d consultations filed", len(all))
			}
			filed := all[1]
			if (filed.GUID == guid) == ignore {
				t.Fatalf("the practice filed the consultation as %s (sent %s, ignoring GUIDs: %t)", filed.GUID, guid, ignore)
			}
			_, err := h.client.FindConsultation(ctx, user, strconv.Itoa(int(p.PatientNumber)), guid)
			if ignore != errors.Is(err, clinical.ErrConsultationNotFound) {
				t.Errorf("FindConsultation by GUID: %v", err)
			}
			c, err := h.client.FindFiling(ctx, filing(user, p, guid))
			if err != nil || c.GUID != filed.GUID || c.ID != filed.Record.ConsultationList[0].DBID {
				t.Errorf("FindFiling = %+v, %v; want %s/%s", c, err, filed.GUID, filed.Record.ConsultationList[0].DBID)
			}

			// Not found: the same content by another author, another day, another text.
			notFiled := []func(*clinical.Filing){
				func(f *clinical.Filing) { f.Summary += " More." },
				func(f *clinical.Filing) { f.Date = f.Date.AddDate(0, 0, 1) },
				func(f *clinical.Filing) { f.Codes = f.Codes[:1] },
				func(f *clinical.Filing) { v := 143.0; f.Codes[1].Value = &v },
				func(f *clinical.Filing) { f.Attachments[0].FileName = "other.png" },
			}
			// The same content as a consultation kept under another writeback's GUID is that
			// writeback's filing, not this one's.
			twin := filing(user, p, clinical.ConsultationGUID("A12345", "twin"))
			twin.Summary = other.Summary
			if c, err := h.client.FindFiling(ctx, twin); !errors.Is(err, clinical.ErrConsultationNotFound) {
				t.Errorf("a filing with another writeback's content: FindFiling = %+v, %v; want not found", c, err)
			}
			for i, change := range notFiled {
				f := filing(user, p, clinical.ConsultationGUID("A12345", "never-"+strconv.Itoa(i)))
				change(f)
				if c, err := h.client.FindFiling(ctx, f); !errors.Is(err, clinical.ErrConsultationNotFound) {
					t.Errorf("change %d: FindFiling = %+v, %v; want not found", i, c, err)
				}
			}
		})
	}
}

// With GUIDNotKept the adapter reads the consultation back by its content after filing.
func TestFileReadsBackByContentWhenGUIDsAreNotKept(t *testing.T) {
	h := newHarness(t, func(c *emisx.Config) { c.GUIDNotKept = true })
	user := h.link(h.GP())
	p := h.Patient(fixtures.FirstPatientNumber)
	h.SetFaults(faults.Settings{IgnoreConsultationGUID: true})
	c, err := h.client.File(ctx, filing(user, p, clinical.ConsultationGUID("A12345", "job")))
	if err != nil {
		t.Fatal(err)
	}
	all := h.Consultations()
	if len(all) != 1 || c.GUID != all[0].GUID || c.ID != all[0].Record.ConsultationList[0].DBID {
		t.Errorf("File = %+v; the practice has %+v", c, all)
	}
}

// The SNOMED CT code scheme number is configuration.
func TestSNOMEDSchemeIsConfigurable(t *testing.T) {
	for _, tc := range []struct {
		set  *int32
		want int32
	}{{nil, emisx.DefaultSNOMEDScheme}, {ptr(int32(7)), 7}} {
		h := newHarness(t, func(c *emisx.Config) { c.SNOMEDScheme = tc.set })
		user := h.link(h.GP())
		if _, err := h.client.File(ctx, filing(user, h.Patient(fixtures.FirstPatientNumber), clinical.ConsultationGUID("A12345", "scheme"))); err != nil {
			t.Fatal(err)
		}
		for _, ev := range simtest.FiledEvents(t, h.Consultations()[0]) {
			if ev.Code != "" && ev.Scheme != tc.want {
				t.Errorf("code %s filed with scheme %d, want %d", ev.Code, ev.Scheme, tc.want)
			}
		}
	}
	if emisx.DefaultSNOMEDScheme != 8 {
		t.Errorf("DefaultSNOMEDScheme = %d: today's value is 8", emisx.DefaultSNOMEDScheme)
	}
	for _, bad := range []int32{-1, emisx.MaxCodeScheme + 1} {
		if _, err := emisx.New(emisx.Config{BaseURL: "http://x", ApplicationID: "a", Sessions: staticSessions{}, SNOMEDScheme: &bad}); err == nil {
			t.Errorf("scheme number %d was accepted", bad)
		}
	}
}

func ptr[T any](v T) *T { return &v }
