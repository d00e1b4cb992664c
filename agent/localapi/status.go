package localapi

import (
	"net/http"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// statusFor returns the service's status as the caller sees it.
func (s *Server) statusFor(c caller) (apitype.Status, error) {
	rep, err := s.opts.Status.Report()
	if err != nil {
		return apitype.Status{}, err
	}
	st := apitype.Status{State: rep.State, Counts: rep.Counts, Conditions: rep.Conditions, Version: s.opts.Version,
		Caller: &apitype.Caller{OSUser: c.User, Admin: c.Admin}}
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
