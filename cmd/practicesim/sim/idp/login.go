package idp

import (
	_ "embed"
	"errors"
	"html/template"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

//go:embed login.html
var loginHTML string

var loginPage = template.Must(template.New("login").Parse(loginHTML))

type loginView struct {
	AuthRequestID string
	Accounts      []Account
	Error         string
}

// login serves the sign-in page (GET) and signs a user in for a pending
// authorization request (POST), then hands back to op's callback, which
// redirects to the client with a code.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("authRequestID")
	view := loginView{AuthRequestID: id, Accounts: p.dir.Accounts()}
	if id == "" {
		view.Error = "Sign-in starts from an application: it sends the browser here through the /authorize endpoint."
		p.renderLogin(w, http.StatusOK, view)
		return
	}
	if _, err := p.storage.AuthRequestByID(r.Context(), id); err != nil {
		view.Error = "This sign-in request is unknown or has expired; start again from the application."
		p.renderLogin(w, http.StatusBadRequest, view)
		return
	}
	switch r.Method {
	case http.MethodGet:
		p.renderLogin(w, http.StatusOK, view)
	case http.MethodPost:
		acct, err := p.checkPassword(r.PostFormValue("username"), r.PostFormValue("password"))
		if err != nil {
			var oe *oidc.Error
			if errors.As(err, &oe) {
				view.Error = oe.Description
			}
			p.renderLogin(w, http.StatusUnauthorized, view)
			return
		}
		sid, err := p.dir.StartSession(acct.Subject)
		if err != nil {
			view.Error = err.Error()
			p.renderLogin(w, http.StatusForbidden, view)
			return
		}
		if err := p.storage.completeAuthRequest(id, acct.Subject, sid); err != nil {
			view.Error = "This sign-in request has expired; start again from the application."
			p.renderLogin(w, http.StatusBadRequest, view)
			return
		}
		http.Redirect(w, r, op.AuthCallbackURL(p.op)(p.issuerContext(r), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, view loginView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := loginPage.Execute(w, view); err != nil {
		p.logger.Error("idp: render sign-in page", "err", err)
	}
}
