// Package emisx adapts the agent's clinical-system port (package clinical) to the EMIS-X
// Partner API 1.2: GetMatchedPatients and GetPatientDemographics to find the patient,
// FileRecord to file a writeback as a new consultation (the summary as a text comment, each
// code as a SNOMED CT coded value, the attachments), GetConsultation and GetMedicalRecord to
// find a consultation already filed, and GetUserById and GetOrganisation to probe a
// clinician's integration.
//
// Every call carries the applicationId header and the clinician's own bearer token. Tokens
// come from the caller's Sessions (the service's encrypted link store): this package never
// stores a token and never opens a browser. Signing in is `wbagent link`'s job, in the user's
// own process, with the client LinkConfig returns.
//
// Errors are *clinical.Error values. The Partner API documents only the HTTP statuses 400,
// 401, 404, 415 and 500, so access refusals are told apart by the ErrorResponse's
// legacyOutcome number, which EMIS does not publish: the numbers are configuration
// (LegacyOutcomes). An answer with a number the configuration does not know is judged by its
// issue type, then its status. Errors never quote a query string or a body, which carry
// patient data.
package emisx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // consultation dates are UK dates, and Windows has no zoneinfo files

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// Sessions gives the adapter a clinician's tokens. TokenSource returns an error of kind
// clinical.ErrNotLinked when the clinician has no link. The source it returns refreshes the
// access token before it expires; the adapter reports a refresh the identity provider refuses
// (*oauth2.RetrieveError) as clinical.ErrRelinkNeeded, never retrying it in a loop.
//
// A store whose tokens rotate on refresh must serialise refreshes per clinician.
type Sessions interface {
	TokenSource(ctx context.Context, clinicalUserID string) (oauth2.TokenSource, error)
}

// TokenExpirer is implemented by Sessions that can make a clinician's next token a freshly
// refreshed one. When the Partner API refuses an access token as expired although its source
// still thought it valid (this PC's clock is behind), the adapter calls ExpireToken and
// retries the call once.
type TokenExpirer interface {
	ExpireToken(ctx context.Context, clinicalUserID string) error
}

// Config configures a Client.
type Config struct {
	// BaseURL is the Partner API's address, without the /api/v1 path.
	BaseURL string
	// ApplicationID is the partner application's party key, sent as the applicationId header.
	ApplicationID string
	Sessions      Sessions
	// PracticeODS, if set, is the practice's ODS code: Probe fails with
	// clinical.ErrWrongPractice unless the organisation the API serves has it.
	PracticeODS string
	// Outcomes maps legacy outcome numbers to meanings; the zero value means
	// DefaultLegacyOutcomes().
	Outcomes LegacyOutcomes
	// SNOMEDScheme is the StringCodeType.scheme number that marks a code as SNOMED CT; nil
	// means DefaultSNOMEDScheme. The Partner API document does not name the enumeration's
	// values (see assumptions.go).
	SNOMEDScheme *int32
	// GUIDNotKept says the clinical system gives a filed consultation a GUID of its own
	// instead of the one sent: a filing is then found by its content only (FindFiling).
	GUIDNotKept bool
	// HTTPClient sends the requests; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
}

// DefaultTimeout bounds a call when Config.HTTPClient is nil. FileRecord carries attachments,
// so it is generous; callers bound their work with contexts too.
const DefaultTimeout = 2 * time.Minute

// Client is the EMIS-X adapter. It implements clinical.System and is safe for concurrent use.
type Client struct {
	cfg      Config
	base     string
	outcomes map[int32]meaning
	scheme   int32 // the SNOMED CT code scheme number
	london   *time.Location
}

var _ clinical.System = (*Client)(nil)

// New returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, fmt.Errorf("emisx: the base URL %q is not an http(s) address", cfg.BaseURL)
	case cfg.ApplicationID == "":
		return nil, errors.New("emisx: an application id is required")
	case cfg.Sessions == nil:
		return nil, errors.New("emisx: sessions are required")
	}
	if cfg.Outcomes == (LegacyOutcomes{}) {
		cfg.Outcomes = DefaultLegacyOutcomes()
	}
	outcomes, err := cfg.Outcomes.table()
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		return nil, fmt.Errorf("emisx: load the UK time zone: %w", err)
	}
	scheme := int32(DefaultSNOMEDScheme)
	if cfg.SNOMEDScheme != nil {
		scheme = *cfg.SNOMEDScheme
	}
	if scheme < 0 || scheme > MaxCodeScheme {
		return nil, fmt.Errorf("emisx: the SNOMED CT code scheme number %d is not between 0 and %d", scheme, MaxCodeScheme)
	}
	return &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), outcomes: outcomes, scheme: scheme, london: london}, nil
}
