package localapi

import (
	"net/http"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// statusFor returns the service's status as the caller sees it.
func (s *Server) statusFor(c caller) (apitype.Status, error) {
	rep, err := s.opts.Status.Report()
	if err != nil {
		return apitype.Status{}, err
	}
	st := apitype.Status{State: rep.State, Counts: rep.Counts, Conditions: rep.Conditions, Version: s.opts.Version,
		Caller: &apitype.Caller{OSUser: c.User, Admin: c.Admin}, LastFiledAt: s.filed.latest(s)}
	if c.link != nil {
		st.Caller.ClinicalUserID, st.Caller.ClinicalName = c.link.ClinicalUserID, c.link.ClinicalName
		st.Caller.RelinkNeeded = s.relinkNeeded(c.link.ClinicalUserID)
	}
	return st, nil
}

func (s *Server) relinkNeeded(clinicalUserID string) bool {
	for _, a := range s.opts.Links.Accounts() {
		if a.ClinicalUserID == clinicalUserID {
			return a.RelinkNeeded
		}
	}
	return false
}

// GET /status: anyone.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.statusFor(s.caller(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// GET /diag: administrators. A zip without patient data (package diag).
func (s *Server) diag(w http.ResponseWriter, r *http.Request) {
	if !s.caller(r).Admin {
		forbid(w, "only an administrator may make a diagnostics bundle (run the command as an administrator)")
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.opts.Diag(r.Context(), w); err != nil {
		// The status is sent; a broken zip tells the client something went wrong.
		s.opts.Logger.Error("diagnostics bundle failed", "err", err)
	}
}

// lastFiled is when the service last filed a writeback: found once by walking the filed
// records, then kept up to date from the records that change (trackFilings, and each watch
// stream before it sends a status, so a stream never reports a filing without its time).
type lastFiled struct {
	mu     sync.Mutex
	at     time.Time
	loaded bool
}

// latest returns the time of the last filing, walking the filed records on first use.
func (f *lastFiled) latest(s *Server) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded {
		err := s.opts.Queue.Each(queue.Filter{States: []queue.State{queue.Filed}}, func(r *queue.Record) error {
			f.noteLocked(r)
			return nil
		})
		if err != nil {
			// Not tried again on every status: the filings from now on still count.
			s.opts.Logger.Warn("status: find the last filing", "err", err)
		}
		f.loaded = true
	}
	return f.at
}

// note takes account of a record that changed.
func (f *lastFiled) note(r *queue.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noteLocked(r)
}

func (f *lastFiled) noteLocked(r *queue.Record) {
	if r.State != queue.Filed {
		return
	}
	for _, a := range r.Attempts {
		if a.Outcome == queue.ActionFiled && a.At.After(f.at) {
			f.at = a.At
		}
	}
}

// trackFilings keeps the time of the last filing up to date until the server stops, for
// the status answers made while no watch stream is open.
func (s *Server) trackFilings() {
	sub := s.opts.Bus.Subscribe(watchBacklog)
	defer sub.Close()
	s.filed.latest(s)
	for {
		select {
		case <-s.stopping:
			return
		case <-sub.Ready():
		}
		ev := sub.Take()
		if ev.Resync {
			s.filed.mu.Lock()
			s.filed.loaded = false
			s.filed.mu.Unlock()
			continue
		}
		for _, id := range ev.Records {
			if rec, err := s.opts.Queue.Get(id); err == nil {
				s.filed.note(rec)
			}
		}
	}
}
