package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/writeback-agent/wbagent/agent/durable"
)

// ReportedFile is the file in the data folder that remembers which outcomes were reported.
// It holds job ids, states and reason codes only.
const ReportedFile = "source-reported.json"

// reported remembers, per job id, the last outcome reported ("state|reason").
type reported struct {
	mu   sync.Mutex
	path string
	m    map[string]string
}

func openReported(dir string) (*reported, error) {
	r := &reported{path: filepath.Join(dir, ReportedFile), m: map[string]string{}}
	b, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("source: read %s: %w", ReportedFile, err)
	}
	if err := json.Unmarshal(b, &r.m); err != nil {
		return nil, fmt.Errorf("source: read %s: %w", ReportedFile, err)
	}
	return r, nil
}

func key(o Outcome) string { return o.State + "|" + o.ReasonCode }

func (r *reported) done(o Outcome) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[o.JobID] == key(o)
}

// mark records outcomes as reported, durably.
func (r *reported) mark(outs []Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range outs {
		r.m[o.JobID] = key(o)
	}
	b, err := json.Marshal(r.m)
	if err != nil {
		return fmt.Errorf("source: save %s: %w", ReportedFile, err)
	}
	if err := durable.WriteFile(r.path, b, 0o600); err != nil {
		return fmt.Errorf("source: save %s: %w", ReportedFile, err)
	}
	return nil
}
