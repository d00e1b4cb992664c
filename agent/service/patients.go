package service

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// FindPatientsFunc looks a patient up in the clinical system as a clinician.
type FindPatientsFunc func(ctx context.Context, clinicalUserID, nhsNumber string) ([]clinical.Patient, error)

// PatientLookup lets the component that reaches the clinical system answer the local API's
// patient look-ups (the review window's matched patient). It is safe for concurrent use.
type PatientLookup struct {
	fn atomic.Pointer[FindPatientsFunc]
}

// errNoClinicalSystem is the look-up's answer while no component reaches the clinical system.
var errNoClinicalSystem = errors.New("the filing component is not running")

// Set makes fn answer look-ups (nil: none is answered).
func (l *PatientLookup) Set(fn FindPatientsFunc) {
	if fn == nil {
		l.fn.Store(nil)
		return
	}
	l.fn.Store(&fn)
}

// FindPatients answers a look-up with the function Set last.
func (l *PatientLookup) FindPatients(ctx context.Context, clinicalUserID, nhsNumber string) ([]clinical.Patient, error) {
	fn := l.fn.Load()
	if fn == nil {
		return nil, errNoClinicalSystem
	}
	return (*fn)(ctx, clinicalUserID, nhsNumber)
}
