package checks

import (
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

func TestValidNHSNumber(t *testing.T) {
	tests := []struct {
		n    string
		want bool
	}{
		{"9434765919", true},
		{"943 476 5919", true},
		{" 9434765919 ", true},
		{"9434765918", false},         // wrong check digit
		{"4000000020", true},          // 11 − remainder 0 = 11: check digit 0
		{"4000000021", false},         // … and nothing else
		{"4000000080", false},         // remainder 1: check digit would be 10, so no number is valid
		{"4000000081", false},         //
		{"943476591", false},          // nine digits
		{"94347659190", false},        // eleven
		{"943-476-5919", false},       // hyphens are not spaces
		{"94347659l9", false},         // a letter
		{"", false},                   //
		{"٩٤٣٤٧٦٥٩١٩", false},         // Arabic-Indic digits
		{"9434765919\n", false},       // a newline is not a space
		{"9 4 3 4 7 6 5 9 1 9", true}, // spaces anywhere are ignored
	}
	for _, tt := range tests {
		if got := ValidNHSNumber(tt.n); got != tt.want {
			t.Errorf("ValidNHSNumber(%q) = %t, want %t", tt.n, got, tt.want)
		}
	}
}

func TestSNOMEDConceptIDs(t *testing.T) {
	tests := []struct {
		id, problem string
	}{
		{"25064002", ""},         // Headache
		{"271649006", ""},        // Systolic blood pressure
		{"138875005", ""},        // the root concept
		{"100005", ""},           // six digits, the shortest
		{"1240751000000100", ""}, // a UK extension concept (partition 10)
		{"25064003", "its check digit is wrong"},
		{"1325581000000105", "its check digit is wrong"},
		{"41398015", "it is a description id, not a concept id"},
		{"10000113", "it is a description id, not a concept id"},
		{"100000028", "it is a relationship id, not a concept id"},
		{"10000121", "it is a relationship id, not a concept id"},
		{"1234053", "its partition (05) is not a concept partition"},
		{"1000101", "it is too short for an extension concept id"},
		{"02506406", "it must not start with 0"},
		{"10000", "it must be 6 to 18 digits"},
		{"12345678901234567103", "it must be 6 to 18 digits"},
		{"2506400X", "it must be 6 to 18 digits"},
		{"", "it must be 6 to 18 digits"},
	}
	for _, tt := range tests {
		if got := snomedProblem(tt.id); got != tt.problem {
			t.Errorf("snomedProblem(%q) = %q, want %q", tt.id, got, tt.problem)
		}
	}
}

// record is the patient record the patient tests match against.
func record() clinical.Patient {
	return clinical.Patient{ID: "500123", NHSNumber: "9434765919", FamilyName: "O'Neill", GivenNames: "Siobhán Máire",
		DateOfBirth: "1980-02-29", Registered: true}
}

func request() writeback.Patient {
	return writeback.Patient{NHSNumber: "943 476 5919", FamilyName: "O'Neill", GivenNames: "Siobhan", DateOfBirth: "1980-02-29", IdentityVerified: true}
}

func TestPatient(t *testing.T) {
	tests := []struct {
		name     string
		family   string // the request's family name ("" keeps O'Neill)
		dob      string
		found    func() []clinical.Patient
		wantCode string
		wantText string
	}{
		{name: "the same", found: one(nil)},
		{name: "curly apostrophe in the request", family: "O’Neill", found: one(nil)},
		{name: "modifier-letter apostrophe in the record", found: one(func(p *clinical.Patient) { p.FamilyName = "Oʼneill" })},
		{name: "acute accent typed as an apostrophe", family: "O´Neill", found: one(nil)},
		{name: "case and surrounding spaces", family: "  o'NEILL ", found: one(nil)},
		{name: "apostrophe left out", family: "ONeill", found: one(nil), wantCode: CodeSurnameMismatch},
		{name: "misspelt", family: "O'Neill", found: one(func(p *clinical.Patient) { p.FamilyName = "ONeil" }), wantCode: CodeSurnameMismatch,
			wantText: "The surname in the request (O'Neill) does not match the record (ONeil): check the patient."},
		{name: "Unicode hyphen", family: "Smith‐Jones", found: one(func(p *clinical.Patient) { p.FamilyName = "SMITH-JONES" })},
		{name: "en dash", family: "Smith–Jones", found: one(func(p *clinical.Patient) { p.FamilyName = "Smith-Jones" })},
		{name: "hyphen left out", family: "Smith Jones", found: one(func(p *clinical.Patient) { p.FamilyName = "Smith-Jones" }), wantCode: CodeSurnameMismatch},
		{name: "half a double-barrelled name", family: "Smith", found: one(func(p *clinical.Patient) { p.FamilyName = "Smith-Jones" }), wantCode: CodeSurnameMismatch},
		{name: "accents folded", family: "Nunez", found: one(func(p *clinical.Patient) { p.FamilyName = "NÚÑEZ" })},
		{name: "decomposed accent", family: "Ne\u0301meth", found: one(func(p *clinical.Patient) { p.FamilyName = "Németh" })},
		{name: "letters with strokes", family: "Moller", found: one(func(p *clinical.Patient) { p.FamilyName = "Møller" })},
		{name: "inner spaces", family: "van  der Berg", found: one(func(p *clinical.Patient) { p.FamilyName = "Van der Berg" })},
		{name: "no fuzzy matching", family: "Smyth", found: one(func(p *clinical.Patient) { p.FamilyName = "Smith" }), wantCode: CodeSurnameMismatch},
		{name: "date of birth differs", dob: "1980-03-01", found: one(nil), wantCode: CodeDOBMismatch,
			wantText: "The date of birth in the request (01/03/1980) does not match the record (29/02/1980): check the patient."},
		{name: "record without a date of birth", found: one(func(p *clinical.Patient) { p.DateOfBirth = "" }), wantCode: CodeDOBMismatch},
		{name: "deceased", found: one(func(p *clinical.Patient) { p.Deceased, p.Registered = true, false }), wantCode: CodePatientDeceased},
		{name: "deregistered", found: one(func(p *clinical.Patient) { p.Registered = false }), wantCode: CodePatientNotRegistered},
		{name: "deceased and the name differs: the name comes first", family: "Smith", found: one(func(p *clinical.Patient) { p.Deceased = true }), wantCode: CodeSurnameMismatch},
		{name: "none", found: func() []clinical.Patient { return nil }, wantCode: CodePatientNotFound,
			wantText: "No patient record at the practice has the NHS number 943 476 5919."},
		{name: "only another NHS number", found: one(func(p *clinical.Patient) { p.NHSNumber = "4000000020" }), wantCode: CodePatientNotFound},
		{name: "two records", found: func() []clinical.Patient {
			a, b := record(), record()
			b.ID = "500999"
			return []clinical.Patient{a, b}
		}, wantCode: CodeSeveralPatientsMatch, wantText: "2 patient records have the NHS number 943 476 5919."},
		{name: "one of two has the NHS number", found: func() []clinical.Patient {
			a, b := record(), record()
			b.NHSNumber = ""
			return []clinical.Patient{b, a}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := request()
			if tt.family != "" {
				want.FamilyName = tt.family
			}
			if tt.dob != "" {
				want.DateOfBirth = tt.dob
			}
			p, f := Patient(want, tt.found())
			switch {
			case tt.wantCode == "" && f != nil:
				t.Fatalf("failed: %s: %s", f.Code, f.Text)
			case tt.wantCode == "":
				if p.ID != "500123" {
					t.Errorf("picked %+v", p)
				}
			case f == nil:
				t.Fatalf("passed, want %s", tt.wantCode)
			default:
				checkFailure(t, f, tt.wantCode, tt.wantText)
			}
		})
	}
}

// one returns a search result of the record, changed by change.
func one(change func(*clinical.Patient)) func() []clinical.Patient {
	return func() []clinical.Patient {
		p := record()
		if change != nil {
			change(&p)
		}
		return []clinical.Patient{p}
	}
}

func checkFailure(t *testing.T, f *Failure, code, text string) {
	t.Helper()
	if f.Code != code {
		t.Errorf("code %s (%s), want %s", f.Code, f.Text, code)
	}
	if text != "" && f.Text != text {
		t.Errorf("text %q, want %q", f.Text, text)
	}
	if f.Text == "" || f.Fix == "" {
		t.Errorf("%s: text %q, fix %q: both are needed", f.Code, f.Text, f.Fix)
	}
	if f.Error() != "pre-filing check failed: "+code {
		t.Errorf("Error() = %q: it must be the code alone", f.Error())
	}
}

func validWriteback() *writeback.Writeback {
	return &writeback.Writeback{
		Schema: writeback.SchemaV1, JobID: "job-1", PracticeODS: "A12345",
		Author:  writeback.Author{ClinicalUserID: "10001", DisplayName: "Dr A Patel"},
		Patient: request(),
		Summary: "Headaches for two weeks.",
		Codes: []writeback.Code{
			{System: writeback.SNOMEDSystem, Code: "25064002", Display: "Headache"},
			{System: writeback.SNOMEDSystem, Code: "1240751000000100", Display: "COVID-19"},
		},
	}
}

func TestWriteback(t *testing.T) {
	pdf := Attachment{FileName: "letter.pdf", MediaType: "application/pdf", Size: 1000}
	tests := []struct {
		name     string
		change   func(w *writeback.Writeback)
		atts     []Attachment
		wantCode string
		wantText string
	}{
		{name: "valid"},
		{name: "valid with attachments", atts: []Attachment{pdf, {FileName: "Photo 1.JPEG", MediaType: "IMAGE/JPEG", Size: 5 << 20}}},
		{name: "codes and no summary", change: func(w *writeback.Writeback) { w.Summary = " " }},
		{name: "an attachment alone", change: func(w *writeback.Writeback) { w.Summary, w.Codes = "", nil }, atts: []Attachment{pdf}},
		{name: "ODS code in lower case", change: func(w *writeback.Writeback) { w.PracticeODS = "a12345" }},
		{name: "another practice", change: func(w *writeback.Writeback) { w.PracticeODS = "B99999" }, wantCode: CodeWrongPractice,
			wantText: "The writeback is for practice B99999, but this agent files for practice A12345."},
		{name: "identity not verified", change: func(w *writeback.Writeback) { w.Patient.IdentityVerified = false }, wantCode: CodeIdentityNotVerified},
		{name: "identity is checked before the NHS number", change: func(w *writeback.Writeback) {
			w.Patient.IdentityVerified, w.Patient.NHSNumber = false, "123"
		}, wantCode: CodeIdentityNotVerified},
		{name: "no NHS number", change: func(w *writeback.Writeback) { w.Patient.NHSNumber = "  " }, wantCode: CodeNHSNumberMissing},
		{name: "NHS number check digit", change: func(w *writeback.Writeback) { w.Patient.NHSNumber = "943 476 5918" }, wantCode: CodeNHSNumberInvalid,
			wantText: "The NHS number in the writeback (943 476 5918) is not valid: it must be 10 digits with a correct check digit."},
		{name: "SNOMED check digit", change: func(w *writeback.Writeback) { w.Codes[1].Code = "1240751000000101" }, wantCode: CodeSNOMEDInvalid,
			wantText: `Code 2 (1240751000000101, "COVID-19") is not a valid SNOMED CT concept id: its check digit is wrong.`},
		{name: "SNOMED description id", change: func(w *writeback.Writeback) { w.Codes[0].Code = "41398015" }, wantCode: CodeSNOMEDInvalid},
		{name: "nothing to file", change: func(w *writeback.Writeback) { w.Summary, w.Codes = "\n", nil }, wantCode: CodeNothingToFile},
		{name: "type not allowed", atts: []Attachment{pdf, {FileName: "IMG_0001.HEIC", MediaType: "image/heic", Size: 10}}, wantCode: CodeAttachmentTypeNotAllowed,
			wantText: "Attachment 2 (IMG_0001.HEIC) is of type image/heic, which is not filed into the record."},
		{name: "name does not go with the type", atts: []Attachment{{FileName: "photo.jpg", MediaType: "image/png", Size: 10}}, wantCode: CodeAttachmentExtensionMismatch},
		{name: "no extension", atts: []Attachment{{FileName: "letter", MediaType: "application/pdf", Size: 10}}, wantCode: CodeAttachmentExtensionMismatch},
		{name: "empty", atts: []Attachment{{FileName: "letter.pdf", MediaType: "application/pdf"}}, wantCode: CodeAttachmentEmpty},
		{name: "too large", atts: []Attachment{{FileName: "scan.pdf", MediaType: "application/pdf", Size: 10<<20 + 1}}, wantCode: CodeAttachmentTooLarge,
			wantText: "Attachment 1 (scan.pdf) is 10.0 MB; at most 10.0 MB can be filed per file."},
		{name: "together too large", atts: []Attachment{{"a.pdf", "application/pdf", 8 << 20}, {"b.pdf", "application/pdf", 8 << 20}, {"c.pdf", "application/pdf", 5 << 20}},
			wantCode: CodeAttachmentsTooLarge},
	}
	for _, name := range []string{"../letter.pdf", `..\letter.pdf`, "/etc/letter.pdf", `C:letter.pdf`, "letter.pdf:stream", "let\x00ter.pdf",
		"let\nter.pdf", "let\u202eter.pdf", "zero\u200bwidth.pdf", "CON.pdf", "lpt1.pdf", "letter.pdf.", "letter.pdf ", " letter.pdf",
		"a?.pdf", "a*.pdf", `a".pdf`, "a<b>.pdf", "a|b.pdf", "\xff.pdf", ".", ".."} {
		tests = append(tests, struct {
			name     string
			change   func(w *writeback.Writeback)
			atts     []Attachment
			wantCode string
			wantText string
		}{name: "unsafe name " + name, atts: []Attachment{{FileName: name, MediaType: "application/pdf", Size: 10}}, wantCode: CodeAttachmentNameUnsafe})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := validWriteback()
			if tt.change != nil {
				tt.change(w)
			}
			p := DefaultPolicy("A12345")
			f := p.Writeback(w, tt.atts)
			switch {
			case tt.wantCode == "" && f != nil:
				t.Fatalf("failed: %s: %s", f.Code, f.Text)
			case tt.wantCode != "" && f == nil:
				t.Fatalf("passed, want %s", tt.wantCode)
			case f != nil:
				checkFailure(t, f, tt.wantCode, tt.wantText)
			}
		})
	}
}

func TestPolicyWithoutPracticeSkipsThatCheck(t *testing.T) {
	w := validWriteback()
	w.PracticeODS = "Z99999"
	p := DefaultPolicy("")
	if f := p.Writeback(w, nil); f != nil {
		t.Errorf("failed: %s", f.Code)
	}
}

func TestAttachmentContent(t *testing.T) {
	tests := []struct {
		name, mediaType string
		head            string
		wantFail        bool
	}{
		{"PDF", "application/pdf", "%PDF-1.7\n%\xe2\xe3", false},
		{"PNG", "image/png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", false},
		{"JPEG", "image/jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF", false},
		{"TIFF big-endian", "image/tiff", "MM\x00\x2a\x00\x00\x00\x08", false},
		{"plain text is not sniffed", "text/plain", "anything at all", false},
		{"a PNG declared as JPEG", "image/jpeg", "\x89PNG\r\n\x1a\n", true},
		{"an executable declared as PDF", "application/pdf", "MZ\x90\x00\x03\x00", true},
		{"shorter than the signature", "image/png", "\x89PN", true},
		{"HTML declared as PDF", "application/pdf", "<html><body>%PDF-", true},
	}
	p := DefaultPolicy("A12345")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Attachment{FileName: "file", MediaType: tt.mediaType, Size: 100}
			f := p.AttachmentContent(1, a, []byte(tt.head))
			if (f != nil) != tt.wantFail {
				t.Fatalf("failure %v, want failure %t", f, tt.wantFail)
			}
			if f != nil {
				checkFailure(t, f, CodeAttachmentContentMismatch, "")
				if !strings.HasPrefix(f.Text, "Attachment 2 (file)") {
					t.Errorf("text %q does not name attachment 2", f.Text)
				}
			}
		})
	}
}

func TestDefaultMediaTypesAreConsistent(t *testing.T) {
	for _, mt := range DefaultMediaTypes {
		if mt.Name != strings.ToLower(mt.Name) || mt.Label == "" || len(mt.Extensions) == 0 {
			t.Errorf("%+v", mt)
		}
		for _, e := range mt.Extensions {
			if !strings.HasPrefix(e, ".") || e != strings.ToLower(e) {
				t.Errorf("%s: extension %q", mt.Name, e)
			}
		}
		for _, s := range mt.Signatures {
			if len(s) > HeadSize {
				t.Errorf("%s: signature longer than HeadSize", mt.Name)
			}
		}
	}
}
