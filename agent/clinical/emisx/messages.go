package emisx

// The JSON bodies of the Partner API operations the adapter uses: EMIS Open MedicalRecord
// (38), PatientMatches (37), OrganisationInformation (37), UserDetails (35) and the service's
// ErrorResponse, reduced to the properties the adapter writes or reads. Names are those of
// the OpenAPI document; a request body uses only properties its schema has (the tests check
// every request against the document). Dates are EMIS Open "dd/MM/yyyy".

const (
	emisDateLayout = "02/01/2006"
	deadFlag       = 1 // DemographicsType.dead for a deceased patient
)

type ident struct {
	DBID  string `json:"dbid,omitempty"`
	RefID string `json:"refID,omitempty"`
	GUID  string `json:"guid,omitempty"`
}

// medicalRecord is a MedicalRecord38 message: a FileRecord body, and the answer of
// GetPatientDemographics, GetConsultation and GetMedicalRecord.
type medicalRecord struct {
	Registration     *demographics  `json:"registration,omitempty"`
	EventList        []event        `json:"eventList,omitempty"`
	ConsultationList []consultation `json:"consultationList,omitempty"`
	AttachmentList   []attachment   `json:"attachmentList,omitempty"`
	PatientID        string         `json:"patientID,omitempty"`
}

type consultation struct {
	ident
	AssignedDate        string    `json:"assignedDate,omitempty"`
	DatePartSpecified   bool      `json:"datePartSpecified,omitempty"` // datePart 0: a full date
	UserID              *ident    `json:"userID,omitempty"`
	ElementList         []element `json:"elementList,omitempty"`
	PfsVisible          bool      `json:"pfsVisible"`
	PfsVisibleSpecified bool      `json:"pfsVisibleSpecified"`
}

// element is a consultation's entry; Item points at an event or attachment by refID.
type element struct {
	Item *ident `json:"item,omitempty"`
}

// codedItem holds what events and attachments share.
type codedItem struct {
	ident
	AssignedDate      string `json:"assignedDate,omitempty"`
	DatePartSpecified bool   `json:"datePartSpecified,omitempty"`
	DisplayTerm       string `json:"displayTerm,omitempty"`
	DescriptiveText   string `json:"descriptiveText,omitempty"`
}

// event is a text comment (descriptiveText) or a coded value (code, maybe numericValue).
type event struct {
	codedItem
	Code         *stringCode   `json:"code,omitempty"`
	NumericValue *numericValue `json:"numericValue,omitempty"`
}

type stringCode struct {
	Value           string `json:"value"`
	Scheme          int32  `json:"scheme"`
	SchemeSpecified bool   `json:"schemeSpecified"`
	Term            string `json:"term,omitempty"`
}

type numericValue struct {
	Value          float64 `json:"value"`
	ValueSpecified bool    `json:"valueSpecified"`
	Units          string  `json:"units,omitempty"`
}

// attachment is an attachment without its content: a FileRecord body streams the content,
// base64-encoded, into the message's attachmentData (body.go), and the adapter reads no
// answer's content.
type attachment struct {
	codedItem
	Title               string `json:"title,omitempty"`
	PfsVisible          bool   `json:"pfsVisible"`
	PfsVisibleSpecified bool   `json:"pfsVisibleSpecified"`
}

// demographics is a patient in a PatientMatches37 answer, or a MedicalRecord38 registration.
type demographics struct {
	ident
	DateOfBirth  string `json:"dateOfBirth"`
	FamilyName   string `json:"familyName"`
	FirstNames   string `json:"firstNames"`
	NHSNumber    string `json:"nhsNumber"`
	DeductedDate string `json:"deductedDate"`
	DateOfDeath  string `json:"dateOfDeath"`
	Dead         *int32 `json:"dead"`
}

type patientMatches struct {
	PatientList []demographics `json:"patientList"`
}

type person struct {
	ident
}

type userDetails struct {
	Person []person `json:"person"`
}

type location struct {
	ident
	NationalCode string `json:"nationalCode"`
}

type organisationInformation struct {
	OrganisationList []location `json:"organisationList"`
}

type errorResponse struct {
	Issue *struct {
		Code string `json:"code"` // a FHIR IssueType, e.g. "expired"
	} `json:"issue"`
	LegacyOutcome int32 `json:"legacyOutcome"`
}
