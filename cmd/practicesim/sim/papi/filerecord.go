package papi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
)

// contextProperties are the parts of a FileRecord message that describe its
// sender and the people and places it refers to rather than record content;
// they are accepted and not stored.
var contextProperties = []string{"peopleList", "locationList", "locationTypeList", "originator", "recipientID", "messageInformation"}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var snomedConceptID = regexp.MustCompile(`^[1-9][0-9]{5,17}$`)

// partialDateLayouts are the EMIS Open forms of a date by its datePart:
// 0 day, 1 month, 2 year.
var partialDateLayouts = map[int32]string{0: emisopen.DateLayout, 1: "01/2006", 2: "2006"}

// fileRecord files a new consultation. The Partner API permits three
// filings, each as a new consultation: a text comment, a coded value and an
// attachment; a consultation may carry any mix of them. The consultation
// keeps the GUID the caller gave it (unless the ignoreConsultationGuid fault
// is set: then it gets one of the simulator's own). Its elements are stored
// pointing at their items by the items' GUIDs, as reference ids are local to
// the message. Filing a GUID a second time is refused
// with DuplicateConsultation (EMIS documents no idempotency; a duplicate GUID
// is the likeliest thing for it to reject), so a caller unsure whether an
// earlier attempt landed should look the GUID up with GetConsultation first.
//
// When a timeout-after-commit fault is drawn, the consultation is filed and
// the connection is then dropped without an answer.
func (a *API) fileRecord(c *call) (any, error) {
	p, err := a.patient(c)
	if err != nil {
		return nil, err
	}
	if !p.Registered {
		return nil, outcome.Errorf(outcome.PatientNotRegistered, "the patient is no longer registered at the practice")
	}
	f, err := emisopen.DecodeFiling(c.body)
	if err != nil {
		return nil, outcome.Errorf(outcome.MalformedRequest, "the body is not a MedicalRecord message")
	}
	now := a.cfg.Now()
	rec, err := a.checkFiling(f, dbid(p.PatientNumber), c.userID, now)
	if err != nil {
		return nil, err
	}
	if a.cfg.Faults.IgnoreConsultationGUID() {
		rec.ConsultationList[0].GUID = newGUID()
	}
	_, err = a.cfg.Records.Add(records.Consultation{
		PatientNumber: p.PatientNumber,
		GUID:          rec.ConsultationList[0].GUID,
		FiledAt:       now,
		UserID:        c.userID,
		ApplicationID: a.cfg.ApplicationID,
		Record:        rec,
	})
	if errors.Is(err, records.ErrDuplicate) {
		return nil, outcome.Errorf(outcome.DuplicateConsultation, "a consultation with that GUID is already filed")
	}
	if err != nil {
		return nil, err
	}
	if a.cfg.Faults.DropAfterCommit() {
		a.cfg.Logger.Info("partner api call", "operation", "FileRecord", "fault", "connection dropped after commit")
		panic(http.ErrAbortHandler)
	}
	return nil, nil
}

// checkFiling enforces what FileRecord permits and returns the record to
// store: the consultation, stamped with its author and date, and the events
// and attachments its elements point at.
func (a *API) checkFiling(f *emisopen.Filing, patientID string, userID int32, now time.Time) (emisopen.MedicalRecord, error) {
	var none emisopen.MedicalRecord
	for name := range f.Other {
		if !slices.Contains(contextProperties, name) {
			return none, notPermitted("%s cannot be filed", name)
		}
	}
	if f.PatientID != "" && f.PatientID != patientID {
		return none, outcome.Errorf(outcome.MalformedRequest, "patientID in the body differs from the patientNumber parameter")
	}
	if len(f.ConsultationList) != 1 {
		return none, notPermitted("a filing is exactly one new consultation, not %d", len(f.ConsultationList))
	}
	cons := f.ConsultationList[0]
	author := a.staffIdent(userID)
	switch {
	case !guidPattern.MatchString(cons.GUID):
		return none, outcome.Errorf(outcome.MalformedRequest, "the consultation needs a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
	case cons.OldGUID != "":
		return none, notPermitted("changing an existing consultation (oldGUID) is not permitted")
	case !cons.PfsVisibleSpecified:
		return none, outcome.Errorf(outcome.MalformedRequest, "pfsVisibleSpecified must be true: the clinician decides whether the patient sees the consultation online")
	case cons.UserID != nil && cons.UserID.DBID != "" && cons.UserID.DBID != author.DBID:
		return none, notPermitted("the consultation's userID must be the signed-in user")
	case len(cons.ElementList) == 0:
		return none, notPermitted("the consultation has no elements")
	}
	if err := checkDate(cons.AssignedDate, cons.DatePart); err != nil {
		return none, err
	}
	if cons.AssignedDate == "" {
		cons.AssignedDate, cons.DatePart, cons.DatePartSpecified = now.Format(emisopen.DateLayout), 0, true
	}
	cons.UserID = author
	cons.DBID = ""

	items, err := newItems(f)
	if err != nil {
		return none, err
	}
	taken := make([]int, len(cons.ElementList))
	for i, el := range cons.ElementList {
		n, ok := -1, el.Item != nil
		if ok {
			n, ok = items.take(el.Item)
		}
		if !ok {
			return none, notPermitted("every element must point, by guid or refID, at an event or attachment of the message")
		}
		taken[i] = n
	}
	if n := items.unclaimed(); n > 0 {
		return none, notPermitted("%d events or attachments are not elements of the consultation", n)
	}
	for i := range f.EventList {
		if err := checkEvent(&f.EventList[i]); err != nil {
			return none, err
		}
		stamp(&f.EventList[i].CodedItem, author, now)
	}
	for i := range f.AttachmentList {
		if err := checkAttachment(&f.AttachmentList[i]); err != nil {
			return none, err
		}
		stamp(&f.AttachmentList[i].CodedItem, author, now)
	}
	cons.ElementList = slices.Clone(cons.ElementList)
	for i, n := range taken {
		guid := ""
		if n < len(f.EventList) {
			guid = f.EventList[n].GUID
		} else {
			guid = f.AttachmentList[n-len(f.EventList)].GUID
		}
		cons.ElementList[i].Item = &emisopen.Ident{GUID: guid}
	}
	return emisopen.MedicalRecord{
		ConsultationList: []emisopen.Consultation{cons},
		EventList:        f.EventList,
		AttachmentList:   f.AttachmentList,
	}, nil
}

func notPermitted(format string, args ...any) error {
	return outcome.Errorf(outcome.FilingNotPermitted,
		"FileRecord files a text comment, a coded value or an attachment as one new consultation: "+format, args...)
}

func checkDate(value string, datePart int32) error {
	if value == "" {
		return nil
	}
	layout, ok := partialDateLayouts[datePart]
	if _, err := time.Parse(layout, value); !ok || err != nil {
		return outcome.Errorf(outcome.MalformedRequest, "assignedDate must be dd/MM/yyyy (or MM/yyyy, yyyy for a partial date)")
	}
	return nil
}

// checkEvent accepts a coded value (a code) or a text comment (descriptive
// text and no code).
func checkEvent(e *emisopen.Event) error {
	if err := checkDate(e.AssignedDate, e.DatePart); err != nil {
		return err
	}
	switch {
	case e.Code != nil && e.Code.Value != "":
		if e.Code.Scheme != nil && *e.Code.Scheme == emisopen.SchemeSnomed && !snomedConceptID.MatchString(e.Code.Value) {
			return outcome.Errorf(outcome.MalformedRequest, "a SNOMED CT code must be a concept ID (6 to 18 digits)")
		}
	case strings.TrimSpace(e.DescriptiveText) == "":
		return notPermitted("an event must be a coded value (code) or a text comment (descriptiveText)")
	}
	return nil
}

func checkAttachment(at *emisopen.Attachment) error {
	if err := checkDate(at.AssignedDate, at.DatePart); err != nil {
		return err
	}
	data, err := base64.StdEncoding.DecodeString(at.AttachmentData)
	if err != nil || len(data) == 0 {
		return outcome.Errorf(outcome.MalformedRequest, "an attachment needs its content, base64-encoded, in attachmentData")
	}
	return nil
}

// stamp fills in what the server records about a new item.
func stamp(item *emisopen.CodedItem, author *emisopen.Ident, now time.Time) {
	item.DBID = ""
	if item.GUID == "" {
		item.GUID = newGUID()
	}
	if item.AuthorID == nil {
		item.AuthorID = author
	}
	if item.AssignedDate == "" {
		item.AssignedDate, item.DatePart, item.DatePartSpecified = now.Format(emisopen.DateLayout), 0, true
	}
}

// items tracks which events and attachments the consultation's elements
// point at. Each must be pointed at exactly once.
type items struct {
	byKey   map[string]int // "guid:…" or "ref:…" → item index
	claimed []bool
}

func newItems(f *emisopen.Filing) (*items, error) {
	it := &items{byKey: map[string]int{}}
	add := func(id emisopen.Ident) error {
		n := len(it.claimed)
		it.claimed = append(it.claimed, false)
		if id.GUID == "" && id.RefID == "" {
			return notPermitted("every event and attachment needs a guid or refID for the consultation to point at")
		}
		for _, k := range keys(&id) {
			if _, dup := it.byKey[k]; dup {
				return outcome.Errorf(outcome.MalformedRequest, "two items of the message share a guid or refID")
			}
			it.byKey[k] = n
		}
		return nil
	}
	for _, e := range f.EventList {
		if err := add(e.Ident); err != nil {
			return nil, err
		}
	}
	for _, at := range f.AttachmentList {
		if err := add(at.Ident); err != nil {
			return nil, err
		}
	}
	return it, nil
}

func keys(id *emisopen.Ident) []string {
	var k []string
	if id.GUID != "" {
		k = append(k, "guid:"+strings.ToLower(id.GUID))
	}
	if id.RefID != "" {
		k = append(k, "ref:"+id.RefID)
	}
	return k
}

// take claims the item an element points at and returns its index (events
// first, then attachments); false if there is none or it was claimed already.
func (it *items) take(ref *emisopen.Ident) (int, bool) {
	for _, k := range keys(ref) {
		if n, ok := it.byKey[k]; ok && !it.claimed[n] {
			it.claimed[n] = true
			return n, true
		}
	}
	return -1, false
}

func (it *items) unclaimed() int {
	n := 0
	for _, c := range it.claimed {
		if !c {
			n++
		}
	}
	return n
}
