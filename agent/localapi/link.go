package localapi

import (
	"net/http"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// GET /link: anyone, about themselves.
func (s *Server) getLink(w http.ResponseWriter, r *http.Request) {
	c := s.caller(r)
	st := apitype.LinkState{Settings: s.opts.Links.Settings(), Link: c.link}
	if c.link != nil {
		st.RelinkNeeded = s.relinkNeeded(c.link.ClinicalUserID)
	}
	writeJSON(w, http.StatusOK, st)
}

// POST /link: anyone, for themselves. The service checks that the sign-in's ID token was
// issued to the agent for the clinical user, and with the issuer that the token belongs to
// them, before storing it.
func (s *Server) postLink(w http.ResponseWriter, r *http.Request) {
	var req apitype.LinkRequest
	if !decode(w, r, &req) {
		return
	}
	if req.ClinicalUserID == "" || req.AccessToken == "" {
		badRequest(w, "clinicalUserId and accessToken are required")
		return
	}
	c := s.caller(r)
	tok := (&oauth2.Token{AccessToken: req.AccessToken, RefreshToken: req.RefreshToken, TokenType: req.TokenType, Expiry: req.Expiry}).
		WithExtra(map[string]any{"id_token": req.IDToken})
	l, err := s.opts.Links.Link(r.Context(), c.UserID, c.User, req.ClinicalUserID, tok)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apitype.LinkState{Settings: s.opts.Links.Settings(), Link: &l})
}

// DELETE /link[?user=OSUSERID]: anyone for themselves; administrators for anyone.
func (s *Server) deleteLink(w http.ResponseWriter, r *http.Request) {
	c := s.caller(r)
	target := c.UserID
	if u := r.URL.Query().Get(apitype.QueryOSUser); u != "" && u != c.UserID {
		if !c.Admin {
			forbid(w, "only an administrator may unlink another user")
			return
		}
		target = u
	}
	l, err := s.opts.Links.Unlink(target)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apitype.LinkState{Settings: s.opts.Links.Settings(), Link: &l})
}
