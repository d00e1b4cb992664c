// Package records stores the consultations filed through the simulated
// Partner API, in memory and in a JSON file, so that they survive a restart
// of the simulator. A consultation counts as filed once the file holding it
// has been written.
package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/statefile"
)

// firstDBID is the first database ID the store hands out.
const firstDBID = 900000001

// ErrDuplicate is returned by Add for a consultation GUID already filed.
var ErrDuplicate = errors.New("records: a consultation with that GUID is already filed")

// Consultation is one filed consultation with its events and attachments.
type Consultation struct {
	PatientNumber int32     `json:"patientNumber"`
	GUID          string    `json:"guid"`
	FiledAt       time.Time `json:"filedAt"`
	UserID        int32     `json:"userId"` // user-in-role ID of the user who filed it
	ApplicationID string    `json:"applicationId"`
	// Record holds the consultation (ConsultationList[0]) and the events and
	// attachments its elements point at, as stored.
	Record emisopen.MedicalRecord `json:"record"`
}

type file struct {
	NextDBID      int64          `json:"nextDbid"`
	Consultations []Consultation `json:"consultations"`
}

// Store holds filed consultations. It is safe for concurrent use.
type Store struct {
	path string

	mu     sync.Mutex
	data   file
	byGUID map[string]int
}

// Open loads the store saved at path, or starts an empty one. An empty path
// keeps everything in memory.
func Open(path string) (*Store, error) {
	s := &Store{path: path, data: file{NextDBID: firstDBID}, byGUID: map[string]int{}}
	if _, err := statefile.Read(path, &s.data); err != nil {
		return nil, fmt.Errorf("records: open: %w", err)
	}
	for i, c := range s.data.Consultations {
		s.byGUID[key(c.GUID)] = i
	}
	return s, nil
}

// key normalises a GUID: GUIDs compare case-insensitively.
func key(guid string) string { return strings.ToLower(guid) }

// Add files a consultation: it gives every consultation, element, event and
// attachment of the record a database ID, saves the store and returns the
// consultation as stored.
func (s *Store) Add(c Consultation) (Consultation, error) {
	c = clone(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byGUID[key(c.GUID)]; dup {
		return Consultation{}, ErrDuplicate
	}
	next := s.data.NextDBID
	assign := func(id *emisopen.Ident) {
		id.DBID = strconv.FormatInt(next, 10)
		next++
	}
	r := &c.Record
	for i := range r.ConsultationList {
		assign(&r.ConsultationList[i].Ident)
		for j := range r.ConsultationList[i].ElementList {
			assign(&r.ConsultationList[i].ElementList[j].Ident)
		}
	}
	for i := range r.EventList {
		assign(&r.EventList[i].Ident)
	}
	for i := range r.AttachmentList {
		assign(&r.AttachmentList[i].Ident)
	}

	saved := s.data
	s.data.NextDBID = next
	s.data.Consultations = append(s.data.Consultations[:len(s.data.Consultations):len(s.data.Consultations)], c)
	if err := statefile.Write(s.path, s.data); err != nil {
		s.data = saved
		return Consultation{}, fmt.Errorf("records: add: %w", err)
	}
	s.byGUID[key(c.GUID)] = len(s.data.Consultations) - 1
	return clone(c), nil
}

// Get returns the patient's consultation with the given GUID.
func (s *Store) Get(patientNumber int32, guid string) (Consultation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byGUID[key(guid)]
	if !ok || s.data.Consultations[i].PatientNumber != patientNumber {
		return Consultation{}, false
	}
	return clone(s.data.Consultations[i]), true
}

// ForPatient returns the patient's consultations in filing order.
func (s *Store) ForPatient(patientNumber int32) []Consultation {
	return s.filter(func(c *Consultation) bool { return c.PatientNumber == patientNumber })
}

// All returns every consultation in filing order.
func (s *Store) All() []Consultation {
	return s.filter(func(*Consultation) bool { return true })
}

func (s *Store) filter(keep func(*Consultation) bool) []Consultation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Consultation{}
	for i := range s.data.Consultations {
		if keep(&s.data.Consultations[i]) {
			out = append(out, clone(s.data.Consultations[i]))
		}
	}
	return out
}

// clone deep-copies a consultation, so that callers and the store never
// share slices.
func clone(c Consultation) Consultation {
	data, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("records: clone: %v", err)) // plain data always marshals
	}
	var out Consultation
	if err := json.Unmarshal(data, &out); err != nil {
		panic(fmt.Sprintf("records: clone: %v", err))
	}
	return out
}
