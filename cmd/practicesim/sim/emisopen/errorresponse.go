package emisopen

// ErrorResponse is the body of every Partner API error
// (PartnerApi.Service.Model.ErrorResponse).
type ErrorResponse struct {
	MessageID     string `json:"messageId"`
	Text          *Text  `json:"text,omitempty"`
	Issue         *Issue `json:"issue,omitempty"`
	LegacyOutcome int32  `json:"legacyOutcome"`
}

// Text is a human-readable XHTML summary.
type Text struct {
	Status string `json:"status,omitempty"`
	Div    string `json:"div,omitempty"`
}

// Issue describes what went wrong; Severity is one of the Severity constants.
type Issue struct {
	Severity    int32    `json:"severity"`
	Code        string   `json:"code,omitempty"`
	Details     *Details `json:"details,omitempty"`
	Diagnostics string   `json:"diagnostics,omitempty"`
}

// Details carry the issue's text and coding.
type Details struct {
	Text   string  `json:"text,omitempty"`
	Coding *Coding `json:"coding,omitempty"`
}

// Coding is a code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Values of Issue.Severity, the index into the service's SeverityType
// enumeration (0 and 1; the simulator reads them as error and warning).
const (
	SeverityError   int32 = 0
	SeverityWarning int32 = 1
)
