package localapi

import (
	"net/http"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/probe"
)

// POST /probe: anyone (it reveals no patient data). The service checks every linked
// clinician and the platform now, within the probe's bound (package probe, which also
// shares one run among callers asking together), and answers with the checks and the
// status once their results are shown.
func (s *Server) probe(w http.ResponseWriter, r *http.Request) {
	var res probe.Result
	if s.opts.Probe != nil {
		var err error
		res, err = s.opts.Probe(r.Context())
		if err != nil {
			if r.Context().Err() != nil {
				return // the caller left
			}
			s.fail(w, err)
			return
		}
	}
	st, err := s.statusFor(s.caller(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := apitype.ProbeResult{Checks: make([]apitype.ProbeCheck, 0, len(res.Checks)), Status: st, Incomplete: res.Incomplete}
	for _, c := range res.Checks {
		out.Checks = append(out.Checks, apitype.ProbeCheck{Subject: c.Subject, Title: c.Title, OK: c.OK, Code: c.Code, Detail: c.Detail})
	}
	writeJSON(w, http.StatusOK, out)
}
