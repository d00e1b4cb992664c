package emisopen_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/writeback-agent/wbagent/cmd/practicesim/contract"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
)

const (
	mr38 = "PartnerApi.EmisOpen.MedicalRecord38."
	pm37 = "PartnerApi.EmisOpen.PatientMatches37."
	oi37 = "PartnerApi.EmisOpen.OrganisationInformation37."
	mr35 = "PartnerApi.EmisOpen.MedicalRecord35."
	svc  = "PartnerApi.Service.Model."
)

// TestTypesMatchSchemas checks every Go type against the schemas it stands
// for: its JSON names must be properties of the schema (all of them, for the
// types a FileRecord body is decoded into), of a compatible JSON type.
func TestTypesMatchSchemas(t *testing.T) {
	v, err := contract.New(contract.IdentityProvider{})
	if err != nil {
		t.Fatal(err)
	}
	schemas := v.Spec().Components.Schemas
	noOldGUID := []string{"oldGUID"}
	tests := []struct {
		value  any
		schema string
		exact  bool     // every schema property is covered
		except []string // Go properties the schema version lacks (documented)
	}{
		{emisopen.Ident{}, mr38 + "IdentType", true, nil},
		{emisopen.Ident{}, pm37 + "IdentType", true, nil},
		{emisopen.Ident{}, oi37 + "IdentType", false, noOldGUID},
		{emisopen.Ident{}, mr35 + "IdentType", false, noOldGUID},
		{emisopen.Author{}, mr38 + "AuthorType", true, nil},
		{emisopen.IntegerCode{}, mr38 + "IntegerCodeType", true, nil},
		{emisopen.IntegerCode{}, pm37 + "IntegerCodeType", true, nil},
		{emisopen.StringCode{}, mr38 + "StringCodeType", true, nil},
		{emisopen.Consultation{}, mr38 + "ConsultationType", true, nil},
		{emisopen.Element{}, mr38 + "ElementListTypeConsultationElement", true, nil},
		{emisopen.Event{}, mr38 + "EventType", true, nil},
		{emisopen.Attachment{}, mr38 + "AttachmentType", true, nil},
		{emisopen.Address{}, mr38 + "AddressType", true, nil},
		{emisopen.Address{}, pm37 + "AddressType", true, nil},
		{emisopen.Address{}, oi37 + "AddressType", false, noOldGUID},
		{emisopen.Address{}, mr35 + "AddressType", false, noOldGUID},
		{emisopen.Registration{}, mr38 + "RegistrationType", false, nil},
		{emisopen.PatientMatch{}, pm37 + "PatientMatchesPatient", false, nil},
		{emisopen.Status{}, mr38 + "StatusType", false, nil},
		{emisopen.Status{}, mr38 + "RegistrationStatusTypeCurrentStatus", false, nil},
		{emisopen.Status{}, pm37 + "StatusType", false, nil},
		{emisopen.RegistrationHistory{}, mr38 + "RegistrationHistoryType", true, nil},
		{emisopen.RegistrationStatus{}, mr38 + "RegistrationStatusType", false, nil},
		{emisopen.PersonCategory{}, mr38 + "PersonCategoryType", false, nil},
		{emisopen.PersonCategory{}, pm37 + "PersonCategoryType", false, nil},
		{emisopen.PersonCategory{}, oi37 + "PersonCategoryType", false, noOldGUID},
		{emisopen.PersonCategory{}, mr35 + "PersonCategoryType", false, noOldGUID},
		{emisopen.Person{}, mr38 + "PersonType", false, nil},
		{emisopen.Person{}, pm37 + "PersonType", false, nil},
		{emisopen.Person{}, oi37 + "PersonType", false, noOldGUID},
		{emisopen.Person{}, mr35 + "PersonType", false, noOldGUID},
		{emisopen.Location{}, mr38 + "LocationType", false, nil},
		{emisopen.Location{}, oi37 + "LocationType", false, noOldGUID},
		{emisopen.LocationKind{}, mr38 + "TypeOfLocationType", true, nil},
		{emisopen.LocationKind{}, oi37 + "TypeOfLocationType", false, noOldGUID},
		{emisopen.MedicalRecord{}, mr38 + "MedicalRecordType", false, nil},
		{emisopen.PatientMatches{}, pm37 + "PatientMatches", true, nil},
		{emisopen.OrganisationInformation{}, oi37 + "OrganisationInformation", false, nil},
		{emisopen.UserDetails{}, mr35 + "UserDetails", true, nil},
		{emisopen.ErrorResponse{}, svc + "ErrorResponse", true, nil},
		{emisopen.Text{}, svc + "Text", true, nil},
		{emisopen.Issue{}, svc + "Issue", true, nil},
		{emisopen.Details{}, svc + "Details", true, nil},
		{emisopen.Coding{}, svc + "Coding", true, nil},
	}
	for _, tt := range tests {
		typ := reflect.TypeOf(tt.value)
		t.Run(typ.Name()+" "+strings.TrimPrefix(tt.schema, "PartnerApi."), func(t *testing.T) {
			ref := schemas[tt.schema]
			if ref == nil {
				t.Fatalf("no schema %s", tt.schema)
			}
			props := ref.Value.Properties
			goProps := jsonFields(typ)
			for name, kind := range goProps {
				if slices.Contains(tt.except, name) {
					if props[name] != nil {
						t.Errorf("%s is listed as missing from the schema but is there", name)
					}
					continue
				}
				p := props[name]
				if p == nil {
					t.Errorf("%s is not a property of the schema", name)
					continue
				}
				if !compatible(kind, p.Value) {
					t.Errorf("%s: Go %v cannot hold schema type %v", name, kind, p.Value.Type)
				}
			}
			if tt.exact {
				for name := range props {
					if _, ok := goProps[name]; !ok {
						t.Errorf("schema property %s has no Go field", name)
					}
				}
			}
		})
	}
}

var rawMessage = reflect.TypeOf(json.RawMessage{})

// jsonFields returns the JSON property names of a struct type, with embedded
// structs flattened as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

func compatible(goType reflect.Type, s *openapi3.Schema) bool {
	if goType == rawMessage {
		return true
	}
	if goType.Kind() == reflect.Pointer {
		goType = goType.Elem()
	}
	switch {
	case s.Type.Is("string"):
		return goType.Kind() == reflect.String
	case s.Type.Is("integer"):
		return goType.Kind() == reflect.Int32
	case s.Type.Is("boolean"):
		return goType.Kind() == reflect.Bool
	case s.Type.Is("array"):
		return goType.Kind() == reflect.Slice
	case s.Type.Is("object"), s.Type == nil:
		return goType.Kind() == reflect.Struct
	}
	return false
}
