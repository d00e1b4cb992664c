// Package platform simulates the online consultation platform's side of the platform API
// (docs/platform-api.md), in the practice simulator's process on its own routes:
//
//	GET  /platform/v1/practices/{ods}/writebacks?cursor=&limit=   pull a page
//	POST /platform/v1/practices/{ods}/acks                        acknowledge queued jobs
//	POST /platform/v1/practices/{ods}/outcomes                    report outcomes
//
// and its admin routes under /admin/platform/ to feed writebacks (generated for the
// simulated practice's patients and a clinician), see the outcomes reported, and switch an
// outage on and off. State is kept in memory.
package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/agent/source/platformapi"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

// Constants of the contract (docs/platform-api.md). Serialised: never change them.
const (
	Prefix        = platformapi.Prefix + "/"        // where the simulator mounts its routes
	DevCredential = "sim-enrolment-credential-0001" // the simulator's enrolment credential
)

// Reported is what the admin API shows for one job.
type Reported struct {
	JobID    string                `json:"jobId"`
	Acked    bool                  `json:"acked"`
	Outcomes []platformapi.Outcome `json:"outcomes"` // every distinct outcome, in order
	Reports  int                   `json:"reports"`  // how many times outcomes were sent (repeats included)
}

type job struct {
	seq      int64
	id       string
	doc      []byte
	acked    bool
	outcomes []platformapi.Outcome
	reports  int
}

// Config configures a Platform.
type Config struct {
	Practice *fixtures.Practice
	Example  []byte // a valid writeback/v1 document to build on (docs/examples/writeback.json)
}

// Platform is the simulated platform. It is safe for concurrent use.
type Platform struct {
	cfg Config
	mux *http.ServeMux

	mu      sync.Mutex
	jobs    []*job
	byID    map[string]*job
	down    bool
	pulls   int
	nextNo  int
	lastSeq int64 // the newest job's seq
}

// New returns a platform for the practice.
func New(cfg Config) *Platform {
	p := &Platform{cfg: cfg, mux: http.NewServeMux(), byID: map[string]*job{}}
	p.mux.HandleFunc("GET /platform/v1/practices/{ods}/writebacks", p.api(p.pull))
	p.mux.HandleFunc("POST /platform/v1/practices/{ods}/acks", p.api(p.ack))
	p.mux.HandleFunc("POST /platform/v1/practices/{ods}/outcomes", p.api(p.outcomes))
	p.mux.HandleFunc("POST /admin/platform/feed", p.feedHandler)
	p.mux.HandleFunc("GET /admin/platform/jobs", p.jobsHandler)
	p.mux.HandleFunc("POST /admin/platform/outage", p.outageHandler)
	p.mux.HandleFunc("POST /admin/platform/resend", p.resendHandler)
	p.mux.HandleFunc("GET /admin/platform/info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"credential": DevCredential, "ods": cfg.Practice.ODSCode, "prefix": Prefix})
	})
	return p
}

// ServeHTTP serves the platform API and its admin routes.
func (p *Platform) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// api checks the outage switch, the credential and the practice before h.
func (p *Platform) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		switch {
		case down:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "the platform is unavailable (simulated outage)")
		case r.Header.Get("Authorization") != "Bearer "+DevCredential:
			writeError(w, http.StatusUnauthorized, "unknown enrolment credential")
		case r.PathValue("ods") != p.cfg.Practice.ODSCode:
			writeError(w, http.StatusForbidden, "the credential is not enrolled for that practice")
		default:
			h(w, r)
		}
	}
}

func (p *Platform) pull(w http.ResponseWriter, r *http.Request) {
	var after int64
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "cursor: not a cursor this platform gave")
			return
		}
		after = n
	}
	limit := platformapi.DefaultLimit
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > platformapi.MaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: between 1 and %d", platformapi.MaxLimit))
			return
		}
		limit = n
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulls++
	page := platformapi.Page{Items: []platformapi.Item{}, NextCursor: strconv.FormatInt(after, 10)}
	for _, j := range p.jobs {
		if j.acked || j.seq <= after {
			continue
		}
		if len(page.Items) == limit {
			break
		}
		page.Items = append(page.Items, platformapi.Item{Seq: j.seq, JobID: j.id, Document: j.doc})
		page.NextCursor = strconv.FormatInt(j.seq, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

func (p *Platform) ack(w http.ResponseWriter, r *http.Request) {
	var body platformapi.Acks
	if !readJSON(w, r, &body) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range body.JobIDs {
		if j := p.byID[id]; j != nil {
			j.acked = true
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *Platform) outcomes(w http.ResponseWriter, r *http.Request) {
	var body platformapi.Outcomes
	if !readJSON(w, r, &body) {
		return
	}
	for _, o := range body.Outcomes {
		if !slices.Contains(platformapi.OutcomeStates, o.State) {
			writeError(w, http.StatusBadRequest, "state: not an outcome state")
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range body.Outcomes {
		j := p.byID[o.JobID]
		if j == nil {
			continue // not ours: ignored, as a real platform ignores a withdrawn job
		}
		j.reports++
		same := func(x platformapi.Outcome) bool {
			return x.State == o.State && x.ReasonCode == o.ReasonCode && x.ConsultationGUID == o.ConsultationGUID
		}
		if !slices.ContainsFunc(j.outcomes, same) { // idempotent on (jobId, state, reason)
			j.outcomes = append(j.outcomes, o)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Feed adds n generated writebacks for the clinician (a user-in-role id; 0: the first GP)
// and returns their job ids.
func (p *Platform) Feed(n int, clinician int32) ([]string, error) {
	author, err := p.author(clinician)
	if err != nil {
		return nil, err
	}
	patients := p.plainPatients()
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, n)
	for range n {
		p.nextNo++
		pt := patients[p.nextNo%len(patients)]
		id := fmt.Sprintf("sim-platform-%06d", p.nextNo)
		doc, err := p.document(id, author, pt)
		if err != nil {
			return nil, err
		}
		p.lastSeq++
		j := &job{seq: p.lastSeq, id: id, doc: doc}
		p.jobs = append(p.jobs, j)
		p.byID[id] = j
		ids = append(ids, id)
	}
	return ids, nil
}

// Resend offers a job again under the same job id with different content (another
// summary), as a broken platform might: the agent must keep the first, and report the
// second as a conflict.
func (p *Platform) Resend(jobID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	j := p.byID[jobID]
	if j == nil {
		return fmt.Errorf("no job %q", jobID)
	}
	var doc map[string]any
	if err := json.Unmarshal(j.doc, &doc); err != nil {
		return fmt.Errorf("platform: job %s: %w", jobID, err)
	}
	doc["summary"] = fmt.Sprintf("%v (amended)", doc["summary"])
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	// The job moves to the end of the feed, offered again after every job before it.
	p.lastSeq++
	j.doc, j.acked, j.seq = b, false, p.lastSeq
	i := slices.Index(p.jobs, j)
	p.jobs = append(slices.Delete(p.jobs, i, i+1), j)
	return nil
}

func (p *Platform) resendHandler(w http.ResponseWriter, r *http.Request) {
	var body struct {
		JobID string `json:"jobId"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if err := p.Resend(body.JobID); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// SetOutage switches the simulated outage on or off.
func (p *Platform) SetOutage(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// Jobs returns every job with what was reported for it.
func (p *Platform) Jobs() []Reported {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Reported, 0, len(p.jobs))
	for _, j := range p.jobs {
		out = append(out, Reported{JobID: j.id, Acked: j.acked, Outcomes: slices.Clone(j.outcomes), Reports: j.reports})
	}
	return out
}

func (p *Platform) author(id int32) (fixtures.Staff, error) {
	for _, s := range p.cfg.Practice.Staff {
		if (id == 0 && s.JobCategory == fixtures.GeneralPractitioner) || (id != 0 && s.UserInRoleID == id) {
			return s, nil
		}
	}
	return fixtures.Staff{}, fmt.Errorf("no clinician %d in the practice", id)
}

// plainPatients are registered, living patients with an NHS number whose surname and date
// of birth match no one else: writebacks for them pass the pre-filing checks.
func (p *Platform) plainPatients() []fixtures.Patient {
	count := map[string]int{}
	key := func(pt fixtures.Patient) string { return pt.FamilyName + "|" + pt.DateOfBirth.Format(time.DateOnly) }
	for _, pt := range p.cfg.Practice.Patients {
		count[key(pt)]++
	}
	var out []fixtures.Patient
	for _, pt := range p.cfg.Practice.Patients {
		if pt.NHSNumber != "" && pt.Registered && !pt.Deceased && count[key(pt)] == 1 {
			out = append(out, pt)
		}
	}
	return out
}

func (p *Platform) document(jobID string, author fixtures.Staff, pt fixtures.Patient) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(p.cfg.Example, &doc); err != nil {
		return nil, fmt.Errorf("platform: example document: %w", err)
	}
	patient := map[string]any{"nhsNumber": pt.NHSNumber, "familyName": pt.FamilyName,
		"dateOfBirth": pt.DateOfBirth.Format(time.DateOnly), "identityVerified": true}
	if pt.GivenNames != "" {
		patient["givenNames"] = pt.GivenNames
	}
	switch pt.Sex {
	case "M":
		patient["sex"] = "male"
	case "F":
		patient["sex"] = "female"
	}
	doc["jobId"] = jobID
	doc["practiceOds"] = p.cfg.Practice.ODSCode
	doc["author"] = map[string]any{"clinicalUserId": strconv.Itoa(int(author.UserInRoleID)),
		"displayName": author.Title + " " + author.GivenName + " " + author.FamilyName}
	doc["patient"] = patient
	doc["createdAt"] = time.Now().UTC().Format(time.RFC3339)
	return json.Marshal(doc)
}

func (p *Platform) feedHandler(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Count     int   `json:"count"`
		Clinician int32 `json:"clinicianId"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Count < 1 || body.Count > 10000 {
		writeError(w, http.StatusBadRequest, "count: between 1 and 10000")
		return
	}
	ids, err := p.Feed(body.Count, body.Clinician)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobIds": ids})
}

func (p *Platform) jobsHandler(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, p.Jobs())
}

func (p *Platform) outageHandler(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Down *bool `json:"down"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Down == nil {
		writeError(w, http.StatusBadRequest, "down: required")
		return
	}
	p.SetOutage(*body.Down)
	writeJSON(w, http.StatusOK, map[string]bool{"down": *body.Down})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		} else {
			writeError(w, http.StatusBadRequest, "body: "+err.Error())
		}
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
