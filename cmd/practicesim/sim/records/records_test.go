package records

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
)

func consultation(patient int32, guid string) Consultation {
	return Consultation{
		PatientNumber: patient,
		GUID:          guid,
		FiledAt:       time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC),
		UserID:        10001,
		Record: emisopen.MedicalRecord{
			ConsultationList: []emisopen.Consultation{{
				Ident:       emisopen.Ident{GUID: guid, DBID: "caller's"},
				ElementList: []emisopen.Element{{Item: &emisopen.Ident{GUID: "E1"}}},
			}},
			EventList: []emisopen.Event{{CodedItem: emisopen.CodedItem{Ident: emisopen.Ident{GUID: "E1"}, DescriptiveText: "Seen"}}},
		},
	}
}

func TestAddAssignsDatabaseIDsAndRejectsDuplicates(t *testing.T) {
	s, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Add(consultation(1, "AAAA"))
	if err != nil {
		t.Fatal(err)
	}
	r := got.Record
	ids := []string{r.ConsultationList[0].DBID, r.ConsultationList[0].ElementList[0].DBID, r.EventList[0].DBID}
	if ids[0] != "900000001" || ids[1] != "900000002" || ids[2] != "900000003" {
		t.Errorf("database IDs = %v", ids)
	}
	if _, err := s.Add(consultation(2, "aaaa")); !errors.Is(err, ErrDuplicate) {
		t.Errorf("same GUID in another case: %v, want ErrDuplicate", err)
	}
	if _, err := s.Add(consultation(1, "BBBB")); err != nil {
		t.Fatal(err)
	}
	if c, ok := s.Get(1, "aaaa"); !ok || c.GUID != "AAAA" {
		t.Errorf("Get by lower-case GUID = %+v, %v", c, ok)
	}
	if _, ok := s.Get(2, "AAAA"); ok {
		t.Error("found another patient's consultation")
	}
	if n := len(s.ForPatient(1)); n != 2 {
		t.Errorf("ForPatient = %d consultations", n)
	}
	if n := len(s.ForPatient(3)); n != 0 {
		t.Errorf("ForPatient(unknown) = %d consultations", n)
	}
}

func TestReturnedValuesAreCopies(t *testing.T) {
	s, _ := Open("")
	s.Add(consultation(1, "AAAA"))
	c, _ := s.Get(1, "AAAA")
	c.Record.EventList[0].DescriptiveText = "changed"
	if again, _ := s.Get(1, "AAAA"); again.Record.EventList[0].DescriptiveText != "Seen" {
		t.Error("changing a returned consultation changed the store")
	}
}

func TestConsultationsSurviveReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consultations.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Add(consultation(1, "AAAA"))
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if all := s.All(); len(all) != 1 || all[0].GUID != "AAAA" || !all[0].FiledAt.Equal(consultation(1, "").FiledAt) {
		t.Fatalf("after reopening: %+v", all)
	}
	if _, err := s.Add(consultation(1, "AAAA")); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate after reopening: %v", err)
	}
	got, _ := s.Add(consultation(1, "BBBB"))
	if got.Record.ConsultationList[0].DBID != "900000004" {
		t.Errorf("database IDs restarted: %s", got.Record.ConsultationList[0].DBID)
	}
}

func TestFailedSaveFilesNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "missing", "consultations.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(consultation(1, "AAAA")); err == nil {
		t.Fatal("Add succeeded although the state folder does not exist")
	}
	if len(s.All()) != 0 {
		t.Error("a consultation that was not saved is listed")
	}
	os.Mkdir(filepath.Join(dir, "missing"), 0o700)
	if _, err := s.Add(consultation(1, "AAAA")); err != nil {
		t.Errorf("retry after the folder appeared: %v", err)
	}
}
