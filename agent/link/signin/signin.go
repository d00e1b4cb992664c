// Package signin signs a clinician in to the clinical system from the user's own process
// (the CLI, the windows) and returns the token and who it belongs to, for the service to
// verify and store (package link).
//
// Browser runs the authorization code flow with PKCE (RFC 7636) in the system browser and
// a redirect to a one-off listener on this PC's loopback address (RFC 8252). Password uses
// the resource owner password grant, which EMIS-X documents for automated testing only:
// the local stack and tests use it to link without a browser.
package signin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// CallbackPath is the path of the loopback redirect URI.
const CallbackPath = "/callback"

// Result is a completed sign-in.
type Result struct {
	Token   *oauth2.Token
	IDToken string // the raw ID token, verified; the service verifies it again (link.VerifyIDToken)
	User    link.ClinicalUser
}

// LinkRequest is the local API request that hands this sign-in to the service (POST
// apitype.PathLink), ID token included: the service refuses a link without one.
func (r *Result) LinkRequest() apitype.LinkRequest {
	return apitype.LinkRequest{ClinicalUserID: r.User.ID, AccessToken: r.Token.AccessToken,
		RefreshToken: r.Token.RefreshToken, TokenType: r.Token.TokenType, Expiry: r.Token.Expiry, IDToken: r.IDToken}
}

// Password signs username in with the password grant (for automated testing only).
func Password(ctx context.Context, hc *http.Client, s link.Settings, username, password string) (*Result, error) {
	ep, err := link.Discover(ctx, hc, s.Issuer)
	if err != nil {
		return nil, err
	}
	tok, err := ep.OAuth2(s).PasswordCredentialsToken(withClient(ctx, hc), username, password)
	if err != nil {
		return nil, fmt.Errorf("signin: password grant: %w", describe(err))
	}
	return finish(ctx, hc, s, ep, tok)
}

// Browser signs a clinician in through the system browser. open is called with the address
// to visit (OpenBrowser, or a test's stand-in); Browser waits for the browser to come back
// to the loopback listener, or for ctx to end.
func Browser(ctx context.Context, hc *http.Client, s link.Settings, open func(url string) error) (*Result, error) {
	ep, err := link.Discover(ctx, hc, s.Issuer)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("signin: listen for the browser: %w", err)
	}
	cfg := ep.OAuth2(s)
	cfg.RedirectURL = fmt.Sprintf("http://%s%s", ln.Addr(), CallbackPath)
	verifier := oauth2.GenerateVerifier()
	state := rand.Text()

	codes := make(chan callback, 1)
	srv := &http.Server{Handler: callbackHandler(state, codes), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	if err := open(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))); err != nil {
		return nil, fmt.Errorf("signin: open the browser: %w", err)
	}
	var cb callback
	select {
	case cb = <-codes:
	case <-ctx.Done():
		return nil, fmt.Errorf("signin: waiting for the browser: %w", ctx.Err())
	}
	if cb.err != nil {
		return nil, cb.err
	}
	tok, err := cfg.Exchange(withClient(ctx, hc), cb.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("signin: exchange the code: %w", describe(err))
	}
	return finish(ctx, hc, s, ep, tok)
}

type callback struct {
	code string
	err  error
}

// callbackHandler takes the first redirect that carries the expected state.
func callbackHandler(state string, codes chan<- callback) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("state") != state {
			http.Error(w, "This sign-in link is not the one Writeback Agent started; start again.", http.StatusBadRequest)
			return
		}
		cb := callback{code: q.Get("code")}
		if e := q.Get("error"); e != "" || cb.code == "" {
			cb.err = fmt.Errorf("signin: the clinical system refused the sign-in: %s %s", e, q.Get("error_description"))
		}
		select {
		case codes <- cb:
		default: // a second redirect: the first one counts
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Signed in. You can close this window and return to Writeback Agent."
		if cb.err != nil {
			msg = "Sign-in failed: " + cb.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>Writeback Agent</title><p>%s</p>", html.EscapeString(msg))
	})
	return mux
}

// finish asks the issuer whose token it is, and checks that its ID token was issued to this
// client for that user.
func finish(ctx context.Context, hc *http.Client, s link.Settings, ep link.Endpoints, tok *oauth2.Token) (*Result, error) {
	if tok.RefreshToken == "" {
		return nil, fmt.Errorf("signin: %w", link.ErrNoRefreshToken)
	}
	who, err := link.UserInfo(ctx, hc, ep, tok)
	if err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	if _, err := link.VerifyIDToken(ctx, hc, ep, s, tok, who.ID, time.Now()); err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	return &Result{Token: tok, IDToken: link.IDToken(tok), User: who}, nil
}

func withClient(ctx context.Context, hc *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// describe keeps an OAuth error's code and description and drops the response body.
func describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return fmt.Errorf("%s: %s", re.ErrorCode, re.ErrorDescription)
	}
	return err
}
