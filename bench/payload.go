package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// payloadGen makes the benchmark records: one writeback document per item, identical but
// for its unique jobId, which has a fixed width so every payload has the same size.
type payloadGen struct {
	prefix, suffix []byte // the document around the jobId value
	run            string // per-run tag, so job ids never repeat across runs
	seq            atomic.Uint64
	source         string // where the document came from, for the header
}

const jobIDMarker = "\x00JOBID\x00"

// jobIDField is how the jobId appears in every payload (compact JSON).
var jobIDField = []byte(`"jobId":"`)

// newPayloadGen uses the example document at examplePath if it exists and is a JSON
// object, otherwise a generated writeback/v1 document of size bytes.
func newPayloadGen(examplePath string, size int) (*payloadGen, error) {
	g := &payloadGen{run: fmt.Sprintf("%08x", uint32(time.Now().UnixNano()))}
	var doc []byte
	if raw, err := os.ReadFile(examplePath); err == nil && examplePath != "" {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("payload example %s: %w", examplePath, err)
		}
		m["jobId"] = jobIDMarker
		if doc, err = json.Marshal(m); err != nil {
			return nil, err
		}
		g.source = examplePath
		// Pad a smaller example to size through its summary (plain ASCII: no escaping).
		if short := size - finalSize(doc); short > 0 {
			if summary, ok := m["summary"].(string); ok {
				m["summary"] = summary + " " + filler(short-1)
				if doc, err = json.Marshal(m); err != nil {
					return nil, err
				}
				g.source += fmt.Sprintf(" (summary padded by %d bytes to reach %d)", short, size)
			}
		}
	} else {
		doc = generatedDoc(size)
		g.source = "generated writeback/v1 document"
	}
	marker, _ := json.Marshal(jobIDMarker)
	i := bytes.Index(doc, marker)
	if i < 0 {
		return nil, fmt.Errorf("payload: jobId marker not found")
	}
	g.prefix = doc[:i+1] // up to and including the opening quote
	g.suffix = doc[i+len(marker)-1:]
	return g, nil
}

// Size is the size of every payload in bytes.
func (g *payloadGen) Size() int { return len(g.prefix) + len(g.jobID(0)) + len(g.suffix) }

func (g *payloadGen) jobID(n uint64) string {
	return fmt.Sprintf("bench-%s-%012d", g.run, n)
}

// next returns a fresh job id and its payload. Safe for concurrent use.
func (g *payloadGen) next() (string, []byte) {
	id := g.jobID(g.seq.Add(1))
	p := make([]byte, 0, len(g.prefix)+len(id)+len(g.suffix))
	p = append(p, g.prefix...)
	p = append(p, id...)
	p = append(p, g.suffix...)
	return id, p
}

// jobIDOf extracts the jobId from a payload made by next, without parsing the JSON.
func jobIDOf(payload []byte) (string, bool) {
	i := bytes.Index(payload, jobIDField)
	if i < 0 {
		return "", false
	}
	rest := payload[i+len(jobIDField):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// generatedDoc is a realistic writeback/v1 document (see agent/writeback), padded through
// its summary to size bytes once the jobId is filled in.
func generatedDoc(size int) []byte {
	type author struct {
		ClinicalUserID string `json:"clinicalUserId"`
		DisplayName    string `json:"displayName"`
	}
	type patient struct {
		NHSNumber        string `json:"nhsNumber"`
		FamilyName       string `json:"familyName"`
		GivenNames       string `json:"givenNames"`
		DateOfBirth      string `json:"dateOfBirth"`
		Sex              string `json:"sex"`
		IdentityVerified bool   `json:"identityVerified"`
	}
	type code struct {
		System  string   `json:"system"`
		Code    string   `json:"code"`
		Display string   `json:"display"`
		Value   *float64 `json:"value,omitempty"`
		Unit    string   `json:"unit,omitempty"`
	}
	type doc struct {
		Schema      string    `json:"schema"`
		JobID       string    `json:"jobId"`
		PracticeODS string    `json:"practiceOds"`
		Author      author    `json:"author"`
		Patient     patient   `json:"patient"`
		Summary     string    `json:"summary"`
		Codes       []code    `json:"codes"`
		CreatedAt   time.Time `json:"createdAt"`
	}
	bp := 142.0
	d := doc{
		Schema:      "writeback/v1",
		JobID:       jobIDMarker,
		PracticeODS: "Y01234",
		Author:      author{ClinicalUserID: "G8123456", DisplayName: "Dr Amelia Okafor"},
		Patient: patient{NHSNumber: "9434765919", FamilyName: "Whitfield", GivenNames: "Margaret Ann",
			DateOfBirth: "1958-03-14", Sex: "female", IdentityVerified: true},
		Codes: []code{
			{System: "http://snomed.info/sct", Code: "38341003", Display: "Hypertensive disorder, systemic arterial"},
			{System: "http://snomed.info/sct", Code: "163030003", Display: "On examination - Systolic blood pressure reading", Value: &bp, Unit: "mm[Hg]"},
			{System: "http://snomed.info/sct", Code: "271737000", Display: "Anaemia"},
		},
		CreatedAt: time.Date(2025, 11, 3, 9, 41, 27, 0, time.UTC),
	}
	probe, _ := json.Marshal(d)
	d.Summary = filler(size - finalSize(probe))
	out, _ := json.Marshal(d)
	return out
}

// finalSize is the size of the payloads made from doc, a document holding jobIDMarker.
func finalSize(doc []byte) int {
	marker, _ := json.Marshal(jobIDMarker)
	idLen := len((&payloadGen{run: "00000000"}).jobID(0))
	return len(doc) - len(marker) + 2 + idLen
}

// filler is n bytes of plain clinical prose (no characters JSON would escape).
func filler(n int) string {
	const text = "Online consultation: patient reports intermittent headaches over three weeks, " +
		"worse in the morning, no visual disturbance, no weakness. Home BP readings averaging " +
		"142/91 over seven days. Advised lifestyle measures, reduce salt and alcohol, repeat " +
		"readings for a further week and book a review with the practice nurse. Safety-netted " +
		"for sudden severe headache, chest pain or breathlessness: call 999. "
	if n <= 0 {
		return ""
	}
	var sb bytes.Buffer
	for sb.Len() < n {
		sb.WriteString(text)
	}
	return sb.String()[:n]
}
