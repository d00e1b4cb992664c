package emisx

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// What the adapter assumes about EMIS that the Partner API 1.2 document does not promise.
// Each is configuration ([emis] in config.toml) with these defaults, and is to be confirmed
// with EMIS when a practice is onboarded (docs/deploying.md):
//   - DefaultSNOMEDScheme: the StringCodeType.scheme number of SNOMED CT. The document
//     declares scheme an integer enumeration without naming its values; 8 is SNOMED CT's
//     place in EMIS Open's code scheme list (the ninth value).
//   - DefaultLegacyOutcomes (outcomes.go): the legacy outcome numbers of error answers.
//   - A consultation keeps the GUID it is filed with (Config.GUIDNotKept false). If EMIS gives
//     it another, FindFiling still finds it by its content.

// DefaultSNOMEDScheme is the StringCodeType.scheme number sent for a SNOMED CT code unless
// configured otherwise.
const DefaultSNOMEDScheme = 8

// MaxCodeScheme is the largest StringCodeType.scheme value the Partner API document allows
// (its enumeration is 0 to 8).
const MaxCodeScheme = 8

// FindFiling implements clinical.FilingFinder. Unless the system is configured not to keep
// GUIDs, it looks for the GUID first (FindConsultation). Otherwise, or when the GUID is not
// in the record, it looks in the patient's record (GetMedicalRecord) for a consultation on
// the filing's date (UK time) by its author whose entries are exactly the filing's: its
// summary, each code with its scheme, value and unit, and each attachment's name (terms are
// ignored: the system may display its own), skipping one kept under the agent's GUID of
// another writeback. A consultation found so is reported with the GUID the system gave it.
func (cl *Client) FindFiling(ctx context.Context, f *clinical.Filing) (clinical.Consultation, error) {
	id, err := int32Param("GetMedicalRecord", f.PatientID, clinical.ErrPatientNotFound)
	if err != nil {
		return clinical.Consultation{}, err
	}
	var rec *medicalRecord
	if !cl.cfg.GUIDNotKept {
		c, whole, err := cl.findConsultation(ctx, f.ClinicalUserID, id, f.ConsultationGUID)
		if err == nil || !errors.Is(err, clinical.ErrConsultationNotFound) {
			return c, err
		}
		rec = whole
	}
	if rec == nil {
		if rec, err = cl.medicalRecord(ctx, f.ClinicalUserID, id); err != nil {
			return clinical.Consultation{}, err
		}
	}
	if c, ok := cl.findContent(*rec, f); ok {
		return c, nil
	}
	return clinical.Consultation{}, &clinical.Error{Op: "GetMedicalRecord", Kind: clinical.ErrConsultationNotFound, Status: http.StatusOK}
}

// findContent returns the first consultation of rec that matches f by date, author and
// content fingerprint.
func (cl *Client) findContent(rec medicalRecord, f *clinical.Filing) (clinical.Consultation, bool) {
	want := cl.fingerprint(f)
	date := ""
	if !f.Date.IsZero() {
		date = f.Date.In(cl.london).Format(emisDateLayout)
	}
	items := indexItems(rec)
	for _, c := range rec.ConsultationList {
		if c.UserID == nil || c.UserID.DBID != f.ClinicalUserID || (date != "" && c.AssignedDate != date) {
			continue
		}
		if agentGUID(c.GUID) && !strings.EqualFold(c.GUID, f.ConsultationGUID) {
			continue // kept under the GUID of another writeback: that one's filing
		}
		if got, ok := items.fingerprint(c); ok && slices.Equal(got, want) {
			return clinical.Consultation{GUID: c.GUID, ID: c.DBID}, true
		}
	}
	return clinical.Consultation{}, false
}

// agentGUID reports whether guid is a name-based (version 5) UUID, as the agent files under
// (clinical.ConsultationGUID); a clinical system that makes its own makes random ones.
func agentGUID(guid string) bool {
	return len(guid) == 36 && guid[8] == '-' && guid[14] == '5'
}

// Fingerprint entries: one per consultation element, sorted. Values are separated by NUL,
// which none of them holds.
func textEntry(text string) string { return "text\x00" + strings.Join(strings.Fields(text), " ") }

func codeEntry(scheme int32, concept string, value *float64, unit string) string {
	e := "code\x00" + strconv.Itoa(int(scheme)) + "\x00" + concept
	if value != nil {
		e += "\x00" + strconv.FormatFloat(*value, 'g', -1, 64) + "\x00" + unit
	}
	return e
}

func attachmentEntry(title string) string { return "attachment\x00" + title }

// fingerprint is what a consultation filed from f holds (see record).
func (cl *Client) fingerprint(f *clinical.Filing) []string {
	var fp []string
	if strings.TrimSpace(f.Summary) != "" {
		fp = append(fp, textEntry(f.Summary))
	}
	for _, c := range f.Codes {
		fp = append(fp, codeEntry(cl.scheme, c.ConceptID, c.Value, c.Unit))
	}
	for _, a := range f.Attachments {
		fp = append(fp, attachmentEntry(a.FileName))
	}
	slices.Sort(fp)
	return fp
}

// itemIndex finds a record's events and attachments by what an element may point at them
// with: GUID, database id, or a reference id unique in the record (reference ids are local to
// the message that filed them, so one shared by two items identifies neither).
type itemIndex map[string]string // key → fingerprint entry; "" when ambiguous

func indexItems(rec medicalRecord) itemIndex {
	ix := itemIndex{}
	add := func(id ident, entry string) {
		for _, k := range []string{"guid:" + strings.ToLower(id.GUID), "dbid:" + id.DBID, "ref:" + id.RefID} {
			if strings.HasSuffix(k, ":") {
				continue
			}
			if _, dup := ix[k]; dup {
				ix[k] = ""
				continue
			}
			ix[k] = entry
		}
	}
	for _, e := range rec.EventList {
		if e.Code != nil && e.Code.Value != "" {
			var v *float64
			unit := ""
			if e.NumericValue != nil {
				v, unit = &e.NumericValue.Value, e.NumericValue.Units
			}
			add(e.ident, codeEntry(e.Code.Scheme, e.Code.Value, v, unit))
			continue
		}
		add(e.ident, textEntry(e.DescriptiveText))
	}
	for _, a := range rec.AttachmentList {
		add(a.ident, attachmentEntry(a.Title))
	}
	return ix
}

// fingerprint returns the consultation's entries, sorted; false if an element points at
// nothing the index identifies.
func (ix itemIndex) fingerprint(c consultation) ([]string, bool) {
	fp := make([]string, 0, len(c.ElementList))
	for _, el := range c.ElementList {
		if el.Item == nil {
			return nil, false
		}
		entry := ""
		for _, k := range []string{"guid:" + strings.ToLower(el.Item.GUID), "dbid:" + el.Item.DBID, "ref:" + el.Item.RefID} {
			if e, ok := ix[k]; ok && !strings.HasSuffix(k, ":") && e != "" {
				entry = e
				break
			}
		}
		if entry == "" {
			return nil, false
		}
		fp = append(fp, entry)
	}
	slices.Sort(fp)
	return fp, true
}

var _ clinical.FilingFinder = (*Client)(nil)
