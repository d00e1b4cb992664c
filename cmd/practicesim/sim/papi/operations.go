package papi

import (
	"strconv"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
)

// int32Param reads an integer query parameter that the contract check has
// already found present and well formed.
func int32Param(c *call, name string) int32 {
	n, _ := strconv.ParseInt(c.r.URL.Query().Get(name), 10, 32)
	return int32(n)
}

func (a *API) patient(c *call) (*fixtures.Patient, error) {
	p, ok := a.cfg.Practice.Patient(int32Param(c, "patientNumber"))
	if !ok {
		return nil, outcome.Errorf(outcome.PatientNotFound, "no patient has that patient number")
	}
	return p, nil
}

func (a *API) getPatientDemographics(c *call) (any, error) {
	p, err := a.patient(c)
	if err != nil {
		return nil, err
	}
	return emisopen.MedicalRecord{
		Registration:       a.registration(p),
		RegistrationStatus: registrationStatus(p),
		PeopleList:         a.people(p.UsualGP),
		PatientID:          dbid(p.PatientNumber),
	}, nil
}

func (a *API) getMedicalRecord(c *call) (any, error) {
	p, err := a.patient(c)
	if err != nil {
		return nil, err
	}
	rec := emisopen.MedicalRecord{
		Registration:       a.registration(p),
		RegistrationStatus: registrationStatus(p),
		LocationList:       []emisopen.Location{a.practiceLocation()},
		LocationTypeList:   []emisopen.LocationKind{mainSurgery},
		PatientID:          dbid(p.PatientNumber),
	}
	authors := []int32{p.UsualGP}
	for _, filed := range a.cfg.Records.ForPatient(p.PatientNumber) {
		addFiled(&rec, filed)
		authors = append(authors, filed.UserID)
	}
	rec.PeopleList = a.people(authors...)
	return rec, nil
}

func (a *API) getConsultation(c *call) (any, error) {
	p, err := a.patient(c)
	if err != nil {
		return nil, err
	}
	filed, ok := a.cfg.Records.Get(p.PatientNumber, c.r.URL.Query().Get("consultationGuid"))
	if !ok {
		return nil, outcome.Errorf(outcome.ConsultationNotFound, "the patient has no consultation with that GUID")
	}
	rec := emisopen.MedicalRecord{
		LocationList: []emisopen.Location{a.practiceLocation()},
		PeopleList:   a.people(filed.UserID),
		PatientID:    dbid(p.PatientNumber),
	}
	addFiled(&rec, filed)
	return rec, nil
}

// addFiled adds a filed consultation with its events and attachments to a
// record. Attachment content is left out, as EMIS does: it is fetched on its
// own (GetBase64AttachmentData, which practicesim does not simulate).
func addFiled(rec *emisopen.MedicalRecord, filed records.Consultation) {
	rec.ConsultationList = append(rec.ConsultationList, filed.Record.ConsultationList...)
	rec.EventList = append(rec.EventList, filed.Record.EventList...)
	for _, att := range filed.Record.AttachmentList {
		att.AttachmentData = ""
		rec.AttachmentList = append(rec.AttachmentList, att)
	}
}

func (a *API) getOrganisation(*call) (any, error) {
	info := emisopen.OrganisationInformation{
		OrganisationList: []emisopen.Location{a.practiceLocation()},
		LocationTypeList: []emisopen.LocationKind{mainSurgery},
	}
	for i := range a.cfg.Practice.Staff {
		info.UserList = append(info.UserList, a.person(&a.cfg.Practice.Staff[i]))
	}
	return info, nil
}

func (a *API) getUserByID(c *call) (any, error) {
	s, ok := a.cfg.Practice.StaffMember(int32Param(c, "userInRoleId"))
	if !ok {
		return nil, outcome.Errorf(outcome.UserNotFound, "no user has that user-in-role ID")
	}
	return emisopen.UserDetails{Person: []emisopen.Person{a.person(s)}}, nil
}
