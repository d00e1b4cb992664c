// Package emisopen holds Go types for the JSON bodies of the Partner API
// operations the simulator serves: the EMIS Open MedicalRecord (version 38),
// PatientMatches (37), OrganisationInformation (37) and UserDetails (35)
// messages, and the service's ErrorResponse.
//
// Each type covers the properties the simulator reads or writes; JSON names
// are those of the OpenAPI document. The document has a separate schema per
// message version (MedicalRecord38.IdentType, PatientMatches37.IdentType, …)
// whose properties differ slightly; one Go type serves all versions of a
// concept, and the simulator sets only the properties the target version has
// (version-specific fields say so). The types a FileRecord body is decoded
// into (Consultation, Element, Event, Attachment and what they contain) cover
// every property of their MedicalRecord38 schema, so that a body valid
// against the document always decodes; properties the simulator does not
// interpret are kept verbatim as json.RawMessage.
//
// Dates are EMIS Open strings: "dd/MM/yyyy" (DateLayout), times "HH:mm".
package emisopen

import "encoding/json"

// EMIS Open date and time layouts, for time.Format and time.Parse.
const (
	DateLayout = "02/01/2006"
	TimeLayout = "15:04"
)

// Values of StringCode.Scheme: the index of the scheme in the EMIS Open
// schema's enumeration (READ2, READ4, EMISCLINICAL, EMISDRUGGROUP,
// EMISCONSTITUENT, EMISDRUGNAME, EMISBOTH, EMISNONDRUGALLERGY, SNOMED).
const (
	SchemeRead2  int32 = 0
	SchemeSnomed int32 = 8
)

// Values of the Dead flag of a registration.
const (
	Alive    int32 = 0
	Deceased int32 = 1
)

// Ident identifies a record item (IdentType). OldGUID exists only in the
// MedicalRecord38 and PatientMatches37 versions.
type Ident struct {
	DBID       string `json:"dbid,omitempty"`
	RefID      string `json:"refID,omitempty"`
	GUID       string `json:"guid,omitempty"`
	FileStatus string `json:"fileStatus,omitempty"`
	OldGUID    string `json:"oldGUID,omitempty"`
}

// Author is an item's original author (AuthorType).
type Author struct {
	User       *Ident `json:"user,omitempty"`
	SystemDate string `json:"systemDate,omitempty"`
}

// IntegerCode is a code with a string scheme (IntegerCodeType).
type IntegerCode struct {
	Value              string          `json:"value,omitempty"`
	Scheme             string          `json:"scheme,omitempty"`
	Term               string          `json:"term,omitempty"`
	OldCode            string          `json:"oldCode,omitempty"`
	MapCode            string          `json:"mapCode,omitempty"`
	MapScheme          string          `json:"mapScheme,omitempty"`
	InterventionTarget json.RawMessage `json:"interventionTarget,omitempty"`
}

// StringCode is a clinical code (StringCodeType); Scheme is one of the
// Scheme constants.
type StringCode struct {
	Value           string `json:"value,omitempty"`
	Scheme          *int32 `json:"scheme,omitempty"`
	SchemeSpecified bool   `json:"schemeSpecified,omitempty"`
	Term            string `json:"term,omitempty"`
	OldCode         string `json:"oldCode,omitempty"`
	MapCode         string `json:"mapCode,omitempty"`
	MapScheme       string `json:"mapScheme,omitempty"`
}

// Consultation is a consultation (ConsultationType): a dated encounter whose
// elements point at events and attachments of the same message.
type Consultation struct {
	Ident
	AssignedDate               string    `json:"assignedDate,omitempty"`
	DatePart                   int32     `json:"datePart,omitempty"`
	DatePartSpecified          bool      `json:"datePartSpecified,omitempty"`
	UserID                     *Ident    `json:"userID,omitempty"`
	ExternalConsultant         string    `json:"externalConsultant,omitempty"`
	LocationID                 *Ident    `json:"locationID,omitempty"`
	LocationTypeID             *Ident    `json:"locationTypeID,omitempty"`
	AccompanyingHCPID          *Ident    `json:"accompanyingHCPID,omitempty"`
	ConsultationType1          int32     `json:"consultationType1,omitempty"`
	ConsultationType1Specified bool      `json:"consultationType1Specified,omitempty"`
	Duration                   string    `json:"duration,omitempty"`
	TravelTime                 string    `json:"travelTime,omitempty"`
	AppointmentSlotID          string    `json:"appointmentSlotID,omitempty"`
	DataSource                 string    `json:"dataSource,omitempty"`
	PolicyID                   string    `json:"policyID,omitempty"`
	OriginalAuthor             *Author   `json:"originalAuthor,omitempty"`
	ElementList                []Element `json:"elementList,omitempty"`
	PfsVisible                 bool      `json:"pfsVisible"`
	PfsVisibleSpecified        bool      `json:"pfsVisibleSpecified"`
}

// Element is one entry of a consultation (ConsultationElement): Item points
// at an event or attachment by GUID or RefID.
type Element struct {
	Ident
	DisplayOrder            int32        `json:"displayOrder,omitempty"`
	DisplayOrderSpecified   bool         `json:"displayOrderSpecified,omitempty"`
	ProblemSection          int32        `json:"problemSection,omitempty"`
	ProblemSectionSpecified bool         `json:"problemSectionSpecified,omitempty"`
	Header                  *IntegerCode `json:"header,omitempty"`
	Item                    *Ident       `json:"item,omitempty"`
}

// CodedItem holds what events and attachments share (the EMIS Open schema's
// CodedItemBaseType).
type CodedItem struct {
	Ident
	AssignedDate       string          `json:"assignedDate,omitempty"`
	DatePart           int32           `json:"datePart,omitempty"`
	DatePartSpecified  bool            `json:"datePartSpecified,omitempty"`
	AssignedTime       string          `json:"assignedTime,omitempty"`
	Sequence           string          `json:"sequence,omitempty"`
	AuthorID           *Ident          `json:"authorID,omitempty"`
	OriginalAuthor     *Author         `json:"originalAuthor,omitempty"`
	ExternalConsultant string          `json:"externalConsultant,omitempty"`
	DisplayTerm        string          `json:"displayTerm,omitempty"`
	DescriptiveText    string          `json:"descriptiveText,omitempty"`
	DataSource         string          `json:"dataSource,omitempty"`
	PolicyID           string          `json:"policyID,omitempty"`
	Code               *StringCode     `json:"code,omitempty"`
	TermID             *StringCode     `json:"termID,omitempty"`
	QualifierList      json.RawMessage `json:"qualifierList,omitempty"`
	Problem            json.RawMessage `json:"problem,omitempty"`
	ProblemLinkList    json.RawMessage `json:"problemLinkList,omitempty"`
	ReferralLinkList   json.RawMessage `json:"referralLinkList,omitempty"`
}

// Event is a clinical event (EventType): a coded value, or a text comment.
type Event struct {
	CodedItem
	GroupID               string          `json:"groupID,omitempty"`
	Episodicity           int32           `json:"episodicity,omitempty"`
	EpisodicitySpecified  bool            `json:"episodicitySpecified,omitempty"`
	NumericValue          json.RawMessage `json:"numericValue,omitempty"`
	TextValue             json.RawMessage `json:"textValue,omitempty"`
	Abnormal              string          `json:"abnormal,omitempty"`
	GMS                   string          `json:"gms,omitempty"`
	EventType1            *int32          `json:"eventType1,omitempty"`
	EventType1Specified   bool            `json:"eventType1Specified,omitempty"`
	TemplateID            string          `json:"templateID,omitempty"`
	TemplateInstanceID    string          `json:"templateInstanceID,omitempty"`
	TemplateComponentName string          `json:"templateComponentName,omitempty"`
	QualifiedTerm         string          `json:"qualifiedTerm,omitempty"`
	QualifiedCode         string          `json:"qualifiedCode,omitempty"`
}

// Attachment is a document attached to the record (AttachmentType);
// AttachmentData is its content, base64-encoded.
type Attachment struct {
	CodedItem
	Title                string `json:"title,omitempty"`
	Address              string `json:"address,omitempty"`
	Version              string `json:"version,omitempty"`
	DDSIdentifier        string `json:"ddsIdentifier,omitempty"`
	AttachmentData       string `json:"attachmentData,omitempty"`
	Provisional          bool   `json:"provisional,omitempty"`
	ProvisionalSpecified bool   `json:"provisionalSpecified,omitempty"`
	PfsVisible           bool   `json:"pfsVisible,omitempty"`
	PfsVisibleSpecified  bool   `json:"pfsVisibleSpecified,omitempty"`
}

// Address is a postal address (AddressType).
type Address struct {
	Ident
	HouseNameFlat string `json:"houseNameFlat,omitempty"`
	Street        string `json:"street,omitempty"`
	Village       string `json:"village,omitempty"`
	Town          string `json:"town,omitempty"`
	County        string `json:"county,omitempty"`
	PostCode      string `json:"postCode,omitempty"`
}

// Demographics holds what a registration and a patient match share.
type Demographics struct {
	Ident
	DateOfBirth    string   `json:"dateOfBirth,omitempty"`
	Sex            string   `json:"sex,omitempty"`
	FamilyName     string   `json:"familyName,omitempty"`
	CallingName    string   `json:"callingName,omitempty"`
	FirstNames     string   `json:"firstNames,omitempty"`
	Title          string   `json:"title,omitempty"`
	NHSNumber      string   `json:"nhsNumber,omitempty"`
	Address        *Address `json:"address,omitempty"`
	Mobile         string   `json:"mobile,omitempty"`
	RegisteredGPID *Ident   `json:"registeredGpID,omitempty"`
	UsualGPID      *Ident   `json:"usualGpID,omitempty"`
	DeductedDate   string   `json:"deductedDate,omitempty"`
	DateOfDeath    string   `json:"dateOfDeath,omitempty"`
	Dead           *int32   `json:"dead,omitempty"`
	DeadSpecified  bool     `json:"deadSpecified,omitempty"`
	DateAdded      string   `json:"dateAdded,omitempty"`
}

// Registration is a patient's registration details (MedicalRecord38
// RegistrationType).
type Registration struct {
	Demographics
	OrganisationNACS string `json:"organisationNACS,omitempty"`
}

// Status is a registration status (StatusType, and MedicalRecord38's
// RegistrationStatusTypeCurrentStatus).
type Status struct {
	Ident
	Code        *IntegerCode `json:"code,omitempty"`
	StatusDate  string       `json:"statusDate,omitempty"`
	PatientType *IntegerCode `json:"patientType,omitempty"`
}

// RegistrationHistory is one registration period (RegistrationHistoryType).
type RegistrationHistory struct {
	DateRegistered   string       `json:"dateRegistered,omitempty"`
	DateDeregistered string       `json:"dateDeregistered,omitempty"`
	PatientType      *IntegerCode `json:"patientType,omitempty"`
}

// RegistrationStatus is a patient's current and past registration
// (RegistrationStatusType).
type RegistrationStatus struct {
	CurrentStatus           *Status               `json:"currentStatus,omitempty"`
	RegistrationHistoryList []RegistrationHistory `json:"registrationHistoryList,omitempty"`
}

// PersonCategory is a staff job category (PersonCategoryType).
type PersonCategory struct {
	Ident
	Mnemonic    string `json:"mnemonic,omitempty"`
	Description string `json:"description,omitempty"`
}

// Person is a member of staff (PersonType). Doctor and Locum are 0 or 1.
type Person struct {
	Ident
	Mnemonic        string          `json:"mnemonic,omitempty"`
	ActiveEMISUser  string          `json:"activeEMISUser,omitempty"`
	Title           string          `json:"title,omitempty"`
	FirstNames      string          `json:"firstNames,omitempty"`
	LastName        string          `json:"lastName,omitempty"`
	Category        *PersonCategory `json:"category,omitempty"`
	NationalCode    string          `json:"nationalCode,omitempty"`
	GMCCode         string          `json:"gmcCode,omitempty"`
	Doctor          *int32          `json:"doctor,omitempty"`
	DoctorSpecified bool            `json:"doctorSpecified,omitempty"`
	Locum           *int32          `json:"locum,omitempty"`
	LocumSpecified  bool            `json:"locumSpecified,omitempty"`
}

// Location is an organisation or site (LocationType).
type Location struct {
	Ident
	LocationName   string   `json:"locationName,omitempty"`
	NationalCode   string   `json:"nationalCode,omitempty"`
	LocationTypeID *Ident   `json:"locationTypeID,omitempty"`
	Address        *Address `json:"address,omitempty"`
	Telephone1     string   `json:"telephone1,omitempty"`
}

// LocationKind is a kind of location (TypeOfLocationType).
type LocationKind struct {
	Ident
	Description string `json:"description,omitempty"`
}

// MedicalRecord is a patient's record or part of it (MedicalRecord38
// MedicalRecordType): the body of GetMedicalRecord, GetConsultation and
// GetPatientDemographics responses.
type MedicalRecord struct {
	Registration       *Registration       `json:"registration,omitempty"`
	EventList          []Event             `json:"eventList,omitempty"`
	ConsultationList   []Consultation      `json:"consultationList,omitempty"`
	AttachmentList     []Attachment        `json:"attachmentList,omitempty"`
	RegistrationStatus *RegistrationStatus `json:"registrationStatus,omitempty"`
	PeopleList         []Person            `json:"peopleList,omitempty"`
	LocationList       []Location          `json:"locationList,omitempty"`
	LocationTypeList   []LocationKind      `json:"locationTypeList,omitempty"`
	PatientID          string              `json:"patientID,omitempty"`
}

// PatientMatch is one patient found by GetMatchedPatients
// (PatientMatches37 PatientMatchesPatient).
type PatientMatch struct {
	Demographics
	CurrentStatus *Status `json:"currentStatus,omitempty"`
}

// PatientMatches is the body of a GetMatchedPatients response.
type PatientMatches struct {
	PatientList []PatientMatch `json:"patientList"`
	PeopleList  []Person       `json:"peopleList,omitempty"`
}

// OrganisationInformation is the body of a GetOrganisation response
// (OrganisationInformation37). Its Ident, Address and PersonCategory values
// must not set OldGUID.
type OrganisationInformation struct {
	OrganisationList []Location     `json:"organisationList,omitempty"`
	UserList         []Person       `json:"userList,omitempty"`
	LocationTypeList []LocationKind `json:"locationTypeList,omitempty"`
}

// UserDetails is the body of a GetUserById response (MedicalRecord35). Its
// Ident, Address and PersonCategory values must not set OldGUID.
type UserDetails struct {
	Person []Person `json:"person"`
}
