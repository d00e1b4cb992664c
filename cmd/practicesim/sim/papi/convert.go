package papi

import (
	"strconv"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

// Registration status codes the simulator reports (simulated values).
var (
	statusRegistered = &emisopen.IntegerCode{Value: "R", Term: "Registered"}
	statusDeducted   = &emisopen.IntegerCode{Value: "D", Term: "Deducted"}
	statusDeceased   = &emisopen.IntegerCode{Value: "X", Term: "Deceased"}
	patientTypeGMS   = &emisopen.IntegerCode{Value: "R", Term: "Regular"}
)

// mainSurgery is the practice's only location type.
var mainSurgery = emisopen.LocationKind{Ident: emisopen.Ident{DBID: "1"}, Description: "Main Surgery"}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(emisopen.DateLayout)
}

func dbid(n int32) string { return strconv.FormatInt(int64(n), 10) }

func ptr[T any](v T) *T { return &v }

func address(a fixtures.Address) *emisopen.Address {
	return &emisopen.Address{HouseNameFlat: a.HouseNameFlat, Street: a.Street, Town: a.Town, County: a.County, PostCode: a.PostCode}
}

func (a *API) staffIdent(id int32) *emisopen.Ident {
	s, ok := a.cfg.Practice.StaffMember(id)
	if !ok {
		return &emisopen.Ident{DBID: dbid(id)}
	}
	return &emisopen.Ident{DBID: dbid(s.UserInRoleID), GUID: s.GUID}
}

func demographics(p *fixtures.Patient, gp *emisopen.Ident) emisopen.Demographics {
	d := emisopen.Demographics{
		Ident:          emisopen.Ident{DBID: dbid(p.PatientNumber), GUID: p.GUID},
		DateOfBirth:    date(p.DateOfBirth),
		Sex:            p.Sex,
		FamilyName:     p.FamilyName,
		CallingName:    strings.Fields(p.GivenNames)[0],
		FirstNames:     p.GivenNames,
		Title:          p.Title,
		NHSNumber:      p.NHSNumber,
		Address:        address(p.Address),
		Mobile:         p.Mobile,
		RegisteredGPID: gp,
		UsualGPID:      gp,
		DateAdded:      date(p.RegisteredOn),
		DeadSpecified:  true,
		Dead:           ptr(emisopen.Alive),
	}
	if p.Deceased {
		d.Dead = ptr(emisopen.Deceased)
		d.DateOfDeath = date(p.DiedOn)
	}
	if !p.Registered {
		d.DeductedDate = date(p.DeregisteredOn)
	}
	return d
}

func currentStatus(p *fixtures.Patient) *emisopen.Status {
	switch {
	case p.Deceased:
		return &emisopen.Status{Code: statusDeceased, StatusDate: date(p.DiedOn), PatientType: patientTypeGMS}
	case !p.Registered:
		return &emisopen.Status{Code: statusDeducted, StatusDate: date(p.DeregisteredOn), PatientType: patientTypeGMS}
	}
	return &emisopen.Status{Code: statusRegistered, StatusDate: date(p.RegisteredOn), PatientType: patientTypeGMS}
}

func (a *API) registration(p *fixtures.Patient) *emisopen.Registration {
	return &emisopen.Registration{
		Demographics:     demographics(p, a.staffIdent(p.UsualGP)),
		OrganisationNACS: a.cfg.Practice.ODSCode,
	}
}

func registrationStatus(p *fixtures.Patient) *emisopen.RegistrationStatus {
	return &emisopen.RegistrationStatus{
		CurrentStatus: currentStatus(p),
		RegistrationHistoryList: []emisopen.RegistrationHistory{{
			DateRegistered:   date(p.RegisteredOn),
			DateDeregistered: date(p.DeregisteredOn),
			PatientType:      patientTypeGMS,
		}},
	}
}

func (a *API) patientMatch(p *fixtures.Patient) emisopen.PatientMatch {
	return emisopen.PatientMatch{Demographics: demographics(p, a.staffIdent(p.UsualGP)), CurrentStatus: currentStatus(p)}
}

// person describes a member of staff. It sets no OldGUID, so it suits every
// message version.
func (a *API) person(s *fixtures.Staff) emisopen.Person {
	p := emisopen.Person{
		Ident:           emisopen.Ident{DBID: dbid(s.UserInRoleID), GUID: s.GUID},
		Mnemonic:        s.Mnemonic,
		Title:           s.Title,
		FirstNames:      s.GivenName,
		LastName:        s.FamilyName,
		Category:        &emisopen.PersonCategory{Mnemonic: s.JobCategory.Mnemonic, Description: s.JobCategory.Description},
		GMCCode:         s.GMCNumber,
		Doctor:          ptr(boolFlag(s.JobCategory.Doctor)),
		DoctorSpecified: true,
		Locum:           ptr(boolFlag(s.Locum)),
		LocumSpecified:  true,
		ActiveEMISUser:  "0",
	}
	if access, ok := a.cfg.Access.Access(s.UserInRoleID); ok && access.Active {
		p.ActiveEMISUser = "1"
	}
	return p
}

func boolFlag(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// people describes the staff with the given IDs, once each, in order.
func (a *API) people(ids ...int32) []emisopen.Person {
	var out []emisopen.Person
	seen := map[int32]bool{}
	for _, id := range ids {
		s, ok := a.cfg.Practice.StaffMember(id)
		if ok && !seen[id] {
			seen[id] = true
			out = append(out, a.person(s))
		}
	}
	return out
}

func (a *API) practiceLocation() emisopen.Location {
	p := a.cfg.Practice
	return emisopen.Location{
		Ident:          emisopen.Ident{DBID: p.CDB, GUID: p.GUID},
		LocationName:   p.Name,
		NationalCode:   p.ODSCode,
		LocationTypeID: &emisopen.Ident{DBID: mainSurgery.DBID},
		Address:        address(p.Address),
		Telephone1:     p.Telephone,
	}
}
