package emisx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// Partner API paths.
const (
	pathMatchedPatients = "/api/v1/patientMatching/GetMatchedPatients"
	pathDemographics    = "/api/v1/patient/GetPatientDemographics"
	pathFileRecord      = "/api/v1/medicalRecord/FileRecord"
	pathConsultation    = "/api/v1/medicalRecord/GetConsultation"
	pathMedicalRecord   = "/api/v1/medicalRecord/GetMedicalRecord"
	pathOrganisation    = "/api/v1/organisation/GetOrganisation"
	pathUserByID        = "/api/v1/user/GetUserById"
)

// Probe checks the clinician's integration with calls every user may make and that pass
// through all of EMAS Manager's access checks: GetUserById for the clinician (their user id
// is their EMIS user-in-role id) and, when Config.PracticeODS is set, GetOrganisation to
// check the practice. A role that cannot file shows only when filing.
func (cl *Client) Probe(ctx context.Context, user string) error {
	id, err := int32Param("Probe", user, clinical.ErrUserNotFound)
	if err != nil {
		return err
	}
	var ud userDetails
	if err := cl.do(ctx, user, call{op: "GetUserById", method: http.MethodGet, path: pathUserByID,
		query: url.Values{"userInRoleId": {id}}}, &ud); err != nil {
		return err
	}
	if len(ud.Person) == 0 {
		return &clinical.Error{Op: "GetUserById", Kind: clinical.ErrUserNotFound, Status: http.StatusOK}
	}
	if cl.cfg.PracticeODS == "" {
		return nil
	}
	var org organisationInformation
	if err := cl.do(ctx, user, call{op: "GetOrganisation", method: http.MethodGet, path: pathOrganisation}, &org); err != nil {
		return err
	}
	for _, o := range org.OrganisationList {
		if strings.EqualFold(strings.TrimSpace(o.NationalCode), cl.cfg.PracticeODS) {
			return nil
		}
	}
	return &clinical.Error{Op: "GetOrganisation", Kind: clinical.ErrWrongPractice, Status: http.StatusOK}
}

// FindPatients searches by NHS number (GetMatchedPatients). When one record matches, its
// details are read from the record itself (GetPatientDemographics), so the decision to file
// rests on the registration the record holds now.
func (cl *Client) FindPatients(ctx context.Context, user, nhsNumber string) ([]clinical.Patient, error) {
	nhs := strings.ReplaceAll(nhsNumber, " ", "")
	if len(nhs) != 10 || strings.Trim(nhs, "0123456789") != "" {
		return nil, &clinical.Error{Op: "GetMatchedPatients", Kind: clinical.ErrBadRequest, Cause: "nhs-number-invalid"}
	}
	var pm patientMatches
	if err := cl.do(ctx, user, call{op: "GetMatchedPatients", method: http.MethodGet, path: pathMatchedPatients,
		query: url.Values{"matchedTerms": {nhs}}}, &pm); err != nil {
		return nil, err
	}
	found := make([]clinical.Patient, 0, len(pm.PatientList))
	for _, d := range pm.PatientList {
		found = append(found, patient(d.DBID, d))
	}
	if len(found) != 1 {
		return found, nil
	}
	id, err := int32Param("GetPatientDemographics", found[0].ID, clinical.ErrPatientNotFound)
	if err != nil {
		return nil, err
	}
	var rec medicalRecord
	if err := cl.do(ctx, user, call{op: "GetPatientDemographics", method: http.MethodGet, path: pathDemographics,
		query: url.Values{"patientNumber": {id}}}, &rec); err != nil {
		return nil, err
	}
	if rec.Registration == nil {
		return nil, &clinical.Error{Op: "GetPatientDemographics", Kind: clinical.ErrTransient, Cause: "unreadable-answer", Status: http.StatusOK,
			Err: errors.New("the answer holds no registration")}
	}
	return []clinical.Patient{patient(id, *rec.Registration)}, nil
}

// patient converts EMIS demographics. A patient with a date of death or the dead flag is
// deceased; one with a deducted date is no longer registered.
func patient(id string, d demographics) clinical.Patient {
	deceased := (d.Dead != nil && *d.Dead == deadFlag) || d.DateOfDeath != ""
	p := clinical.Patient{
		ID: id, NHSNumber: d.NHSNumber, FamilyName: d.FamilyName, GivenNames: d.FirstNames,
		Deceased: deceased, Registered: !deceased && d.DeductedDate == "",
	}
	if dob, err := time.Parse(emisDateLayout, d.DateOfBirth); err == nil {
		p.DateOfBirth = dob.Format(time.DateOnly)
	}
	return p
}

// File files the writeback with FileRecord, then reads the consultation back (FindFiling) for
// the id EMIS gave it (FileRecord answers 204 without a body). A failed read-back does not undo a
// filing: the consultation is then returned without its id.
//
// The attachments are streamed into the request as it is sent (see body.go), never held in
// memory. One that cannot be read to its end aborts the request: File then fails with
// clinical.CauseAttachmentUnreadable, its outcome unknown.
func (cl *Client) File(ctx context.Context, f *clinical.Filing) (clinical.Consultation, error) {
	id, err := int32Param("FileRecord", f.PatientID, clinical.ErrPatientNotFound)
	if err != nil {
		return clinical.Consultation{}, err
	}
	rec, atts := cl.record(f)
	body, err := newStreamedBody(rec, atts, f.Attachments)
	if err != nil {
		return clinical.Consultation{}, &clinical.Error{Op: "FileRecord", Kind: clinical.ErrBadRequest, Err: errors.New("cannot encode the filing")}
	}
	if err := cl.do(ctx, f.ClinicalUserID, call{op: "FileRecord", method: http.MethodPost, path: pathFileRecord,
		query: url.Values{"patientNumber": {id}}, body: body, mutates: true}, nil); err != nil {
		return clinical.Consultation{}, err
	}
	if c, err := cl.FindFiling(ctx, f); err == nil {
		return c, nil
	}
	return clinical.Consultation{GUID: f.ConsultationGUID}, nil
}

// record builds the FileRecord body: one new consultation whose elements are the summary (a
// text comment), each code (a SNOMED CT coded value, with its value if it has one) and each
// attachment. Items are referred to by refID; the consultation carries the GUID, the author
// and the clinician's online-visibility choice. The attachments' messages, without their
// content, are returned apart: the content is streamed into them (newStreamedBody).
func (cl *Client) record(f *clinical.Filing) (medicalRecord, []attachment) {
	date := ""
	if !f.Date.IsZero() {
		date = f.Date.In(cl.london).Format(emisDateLayout)
	}
	item := func(ref string) codedItem {
		return codedItem{ident: ident{RefID: ref}, AssignedDate: date, DatePartSpecified: date != ""}
	}
	rec := medicalRecord{PatientID: f.PatientID}
	cons := consultation{
		ident: ident{GUID: f.ConsultationGUID}, AssignedDate: date, DatePartSpecified: date != "",
		UserID: &ident{DBID: f.ClinicalUserID}, PfsVisible: f.PfsVisible, PfsVisibleSpecified: true,
	}
	add := func(ref string) { cons.ElementList = append(cons.ElementList, element{Item: &ident{RefID: ref}}) }
	if strings.TrimSpace(f.Summary) != "" {
		e := event{codedItem: item("summary")}
		e.DescriptiveText = f.Summary
		rec.EventList = append(rec.EventList, e)
		add("summary")
	}
	for i, c := range f.Codes {
		ref := "code" + strconv.Itoa(i+1)
		e := event{codedItem: item(ref), Code: &stringCode{Value: c.ConceptID, Scheme: cl.scheme, SchemeSpecified: true, Term: c.Term}}
		e.DisplayTerm = c.Term
		if c.Value != nil {
			e.NumericValue = &numericValue{Value: *c.Value, ValueSpecified: true, Units: c.Unit}
		}
		rec.EventList = append(rec.EventList, e)
		add(ref)
	}
	var atts []attachment
	for i, a := range f.Attachments {
		ref := "attachment" + strconv.Itoa(i+1)
		at := attachment{codedItem: item(ref), Title: a.FileName, PfsVisible: f.PfsVisible, PfsVisibleSpecified: true}
		at.DisplayTerm = a.FileName
		atts = append(atts, at)
		add(ref)
	}
	rec.ConsultationList = []consultation{cons}
	return rec, atts
}

// FindConsultation asks GetConsultation for the GUID. If that finds nothing, it reads the
// patient's whole record (GetMedicalRecord), so that a consultation is reported missing only
// when the record itself lacks it, whatever outcome number the service gave the 404.
func (cl *Client) FindConsultation(ctx context.Context, user, patientID, guid string) (clinical.Consultation, error) {
	c, _, err := cl.findConsultation(ctx, user, patientID, guid)
	return c, err
}

// findConsultation is FindConsultation that also returns the patient's record when it read it
// (nil otherwise), for FindFiling to search without reading it again.
func (cl *Client) findConsultation(ctx context.Context, user, patientID, guid string) (clinical.Consultation, *medicalRecord, error) {
	id, err := int32Param("GetConsultation", patientID, clinical.ErrPatientNotFound)
	if err != nil {
		return clinical.Consultation{}, nil, err
	}
	var rec medicalRecord
	err = cl.do(ctx, user, call{op: "GetConsultation", method: http.MethodGet, path: pathConsultation,
		query: url.Values{"patientNumber": {id}, "consultationGuid": {guid}}}, &rec)
	var ce *clinical.Error
	switch {
	case err == nil:
		if c, ok := findGUID(rec, guid); ok {
			return c, nil, nil
		}
	case errors.As(err, &ce) && ce.Status == http.StatusNotFound:
	default:
		return clinical.Consultation{}, nil, err
	}
	whole, err := cl.medicalRecord(ctx, user, id)
	if err != nil {
		return clinical.Consultation{}, nil, err
	}
	if c, ok := findGUID(*whole, guid); ok {
		return c, whole, nil
	}
	return clinical.Consultation{}, whole, &clinical.Error{Op: "GetMedicalRecord", Kind: clinical.ErrConsultationNotFound, Status: http.StatusOK}
}

// medicalRecord reads the patient's whole record (GetMedicalRecord); id is checked.
func (cl *Client) medicalRecord(ctx context.Context, user, id string) (*medicalRecord, error) {
	var rec medicalRecord
	if err := cl.do(ctx, user, call{op: "GetMedicalRecord", method: http.MethodGet, path: pathMedicalRecord,
		query: url.Values{"patientNumber": {id}}}, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

func findGUID(rec medicalRecord, guid string) (clinical.Consultation, bool) {
	for _, c := range rec.ConsultationList {
		if strings.EqualFold(c.GUID, guid) {
			return clinical.Consultation{GUID: guid, ID: c.DBID}, true
		}
	}
	return clinical.Consultation{}, false
}

// int32Param checks an identifier the API takes as an int32 parameter; one that is not fails
// with kind.
func int32Param(op, id string, kind clinical.Kind) (string, error) {
	n, err := strconv.ParseInt(id, 10, 32)
	if err != nil || n <= 0 {
		return "", &clinical.Error{Op: op, Kind: kind, Cause: "id-not-numeric", Err: fmt.Errorf("the id is not a positive 32-bit number")}
	}
	return strconv.FormatInt(n, 10), nil
}
