package queue

import "fmt"

// State is where a record is in its life. The string values are serialised (in the
// database, the local API and the CLI's --json output): never change them.
type State string

const (
	Received          State = "received"           // stored, not yet checked
	NeedsConfirmation State = "needs-confirmation" // checks passed; waiting for the clinician
	Ready             State = "ready"              // confirmed; waiting to be filed (or to retry)
	Filing            State = "filing"             // leased by the filing engine
	Filed             State = "filed"              // in the patient record (terminal)
	NeedsAttention    State = "needs-attention"    // stopped with a reason and a fix
	Rejected          State = "rejected"           // rejected by a clinician (terminal)
	Cancelled         State = "cancelled"          // withdrawn by the platform or IT (terminal)
)

// States lists every state in display order.
var States = []State{Received, NeedsConfirmation, Ready, Filing, Filed, NeedsAttention, Rejected, Cancelled}

// stateCodes are the one-byte prefixes of the state index keys. Serialised: never reuse a
// value for another state.
var stateCodes = map[State]byte{
	Received:          1,
	NeedsConfirmation: 2,
	Ready:             3,
	Filing:            4,
	Filed:             5,
	NeedsAttention:    6,
	Rejected:          7,
	Cancelled:         8,
}

// legal lists, for each state, the states a record may move to. Everything else is refused
// with ErrIllegalTransition.
var legal = map[State][]State{
	Received:          {NeedsConfirmation, Ready, NeedsAttention, Cancelled},
	NeedsConfirmation: {Ready, NeedsAttention, Rejected, Cancelled},
	Ready:             {Filing, NeedsAttention, Cancelled},
	Filing:            {Filed, Ready, NeedsAttention},
	NeedsAttention:    {Received, Rejected, Cancelled},
	Filed:             nil,
	Rejected:          nil,
	Cancelled:         nil,
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { _, ok := stateCodes[s]; return ok }

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool { return s == Filed || s == Rejected || s == Cancelled }

// CanMoveTo reports whether a record in state s may move to state to.
func (s State) CanMoveTo(to State) bool {
	for _, t := range legal[s] {
		if t == to {
			return true
		}
	}
	return false
}

// ParseState returns the State named by s.
func ParseState(s string) (State, error) {
	st := State(s)
	if !st.Valid() {
		return "", fmt.Errorf("queue: unknown state %q (want one of %v)", s, States)
	}
	return st, nil
}
