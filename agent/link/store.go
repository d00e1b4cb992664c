// Package link keeps the links between the PC's users and the clinical system: which
// clinical user each OS user signed in as, and for each clinical user the OAuth 2.0 token
// the service files with, sealed with the data key in the data folder. It hands the filing
// engine a token source per clinical user that refreshes the token and persists what it
// gets; a refresh the clinical system refuses marks the clinician "must link again" (a
// typed error, never retried in a loop) until they link again.
//
// Signing in happens in the user's process (package signin); the service verifies the
// token it is given before storing it: its ID token must be signed by the issuer, issued to
// the agent's client id and about the clinical user, and the issuer must accept its access
// token. When the last OS user linked to a
// clinical user unlinks (or links as someone else), the store deletes that clinical user's
// token durably, then revokes it at the issuer (RFC 7009), best effort.
package link

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/durable"
	"github.com/writeback-agent/wbagent/agent/seal"
)

// FileName is the link store's file in the data folder.
const FileName = "links.json"

// fileFormat is the layout of FileName this code reads and writes.
const fileFormat = 1

// tokenAD is the associated data a clinical user's sealed token is bound to (with its id).
const tokenAD = "wbagent/links/token/"

// Errors callers act on.
var (
	ErrNotLinked      = errors.New("not linked to the clinical system")
	ErrNoRefreshToken = errors.New("the sign-in gave no refresh token (ask for the offline_access scope)")
	ErrVerify         = errors.New("the clinical system did not confirm the sign-in")
	ErrRelinkNeeded   = errors.New("must link again")
)

// RelinkError says the clinical system refused to refresh a clinical user's sign-in: they
// must link again. It matches ErrRelinkNeeded.
type RelinkError struct {
	ClinicalUserID string
	Code           string // the OAuth error code, e.g. invalid_grant ("" if unknown)
}

func (e *RelinkError) Error() string {
	msg := fmt.Sprintf("link: clinical user %s must link again", e.ClinicalUserID)
	if e.Code != "" {
		msg += " (the clinical system answered " + e.Code + ")"
	}
	return msg
}

// Is makes errors.Is(err, ErrRelinkNeeded) true.
func (e *RelinkError) Is(target error) bool { return target == ErrRelinkNeeded }

// Link says that an OS user signed in to the clinical system as a clinical user.
type Link struct {
	OSUserID       string    `json:"osUserId"` // uid or SID
	OSUser         string    `json:"osUser"`
	ClinicalUserID string    `json:"clinicalUserId"`
	ClinicalName   string    `json:"clinicalName,omitempty"`
	LinkedAt       time.Time `json:"linkedAt"`
}

// Account is a linked clinical user as the service sees it.
type Account struct {
	ClinicalUserID string `json:"clinicalUserId"`
	Name           string `json:"name,omitempty"`
	RelinkNeeded   bool   `json:"relinkNeeded,omitempty"`
}

// Options configure Open.
type Options struct {
	Dir        string       // the data folder
	Sealer     *seal.Sealer // seals tokens with the data key
	Settings   Settings
	HTTPClient *http.Client // for the issuer; nil: one with a 30 s timeout
	Logger     *slog.Logger
	Now        func() time.Time // for tests
	// OnChange, if set, is called after a link is made or removed or a clinician must link
	// again. It must not block.
	OnChange func()
}

// Store is the link store. Its methods are safe for concurrent use.
type Store struct {
	opts Options
	path string
	hc   *http.Client
	ctx  context.Context // for token refreshes: carries hc

	revokeTimeout    time.Duration // bounds revoking a dropped token; tests shorten it
	noRevocationOnce sync.Once     // says once that the issuer cannot revoke

	mu        sync.Mutex
	links     map[string]Link     // by OS user id
	accounts  map[string]*account // by clinical user id
	endpoints *Endpoints          // discovered once
}

type account struct {
	Account
	tok *oauth2.Token
	src oauth2.TokenSource // built on first use
}

// stored is the file's layout.
type stored struct {
	Format   int                      `json:"format"`
	Links    []Link                   `json:"links"`
	Accounts map[string]storedAccount `json:"accounts"`
}

type storedAccount struct {
	Name         string `json:"name,omitempty"`
	RelinkNeeded bool   `json:"relinkNeeded,omitempty"`
	Token        []byte `json:"token"` // sealed JSON of an oauth2.Token
}

// Open reads the link store in opts.Dir (an empty store if there is none). A token that
// cannot be opened (the data key changed) makes its clinician link again.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	s := &Store{
		opts: opts, path: filepath.Join(opts.Dir, FileName), hc: hc, revokeTimeout: RevokeTimeout,
		ctx:   context.WithValue(context.Background(), oauth2.HTTPClient, hc),
		links: map[string]Link{}, accounts: map[string]*account{},
	}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("link: open: %w", err)
	}
	var st stored
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("link: open %s: %w", s.path, err)
	}
	if st.Format != fileFormat {
		return nil, fmt.Errorf("link: open %s: format %d, this version reads %d", s.path, st.Format, fileFormat)
	}
	for _, l := range st.Links {
		s.links[l.OSUserID] = l
	}
	for id, sa := range st.Accounts {
		a := &account{Account: Account{ClinicalUserID: id, Name: sa.Name, RelinkNeeded: sa.RelinkNeeded}}
		if tok, err := s.openToken(id, sa.Token); err != nil {
			opts.Logger.Warn("a linked clinician's token cannot be opened: they must link again",
				"clinicalUserId", id, "err", err)
			a.RelinkNeeded = true
		} else {
			a.tok = tok
		}
		s.accounts[id] = a
	}
	return s, nil
}

// Settings returns where clinicians sign in.
func (s *Store) Settings() Settings { return s.opts.Settings }

// Link verifies that tok was issued to this agent for clinicalUserID (its ID token, see
// VerifyIDToken) and that the issuer accepts it (userinfo), then links the OS user
// to that clinical user and stores the token (replacing the clinical user's previous one).
// An OS user is linked to one clinical user at a time; several OS users may link to the
// same clinical user. If the OS user was the last one linked to another clinical user, that
// clinical user's token is deleted and then revoked at the issuer, as by Unlink; so is the
// clinical user's own previous token, which the new sign-in replaces for every OS user
// linked to them.
func (s *Store) Link(ctx context.Context, osUserID, osUser, clinicalUserID string, tok *oauth2.Token) (Link, error) {
	if osUserID == "" || clinicalUserID == "" || tok == nil || tok.AccessToken == "" {
		return Link{}, errors.New("link: an OS user, a clinical user and a token are required")
	}
	if tok.RefreshToken == "" {
		return Link{}, fmt.Errorf("link: %w", ErrNoRefreshToken)
	}
	ep, err := s.discover(ctx)
	if err != nil {
		return Link{}, err
	}
	if _, err := VerifyIDToken(ctx, s.hc, ep, s.opts.Settings, tok, clinicalUserID, s.opts.Now()); err != nil {
		return Link{}, fmt.Errorf("link: %w", err)
	}
	who, err := UserInfo(ctx, s.hc, ep, tok)
	if err != nil {
		return Link{}, fmt.Errorf("link: %w: %w", ErrVerify, err)
	}
	if who.ID != clinicalUserID {
		return Link{}, fmt.Errorf("link: %w: the token belongs to clinical user %s, not %s", ErrVerify, who.ID, clinicalUserID)
	}
	l := Link{OSUserID: osUserID, OSUser: osUser, ClinicalUserID: clinicalUserID, ClinicalName: who.Name,
		LinkedAt: s.opts.Now().UTC()}

	s.mu.Lock()
	prev, had := s.links[osUserID]
	s.links[osUserID] = l
	var replaced string // the clinical user's refresh token this sign-in replaces
	if old, ok := s.accounts[clinicalUserID]; ok && old.tok != nil && old.tok.RefreshToken != tok.RefreshToken {
		replaced = old.tok.RefreshToken
	}
	s.accounts[clinicalUserID] = &account{Account: Account{ClinicalUserID: clinicalUserID, Name: who.Name}, tok: tok}
	var dropped string // the refresh token of the previous clinical user, if dropped
	if had && prev.ClinicalUserID != clinicalUserID {
		dropped = s.dropUnusedAccount(prev.ClinicalUserID)
	}
	err = s.save()
	s.mu.Unlock()
	if err != nil {
		return Link{}, fmt.Errorf("link: %w", err)
	}
	s.opts.Logger.Info("clinician linked", "osUser", osUser, "clinicalUserId", clinicalUserID)
	s.changed()
	s.revoke(prev.ClinicalUserID, dropped)
	s.revoke(clinicalUserID, replaced)
	return l, nil
}

// Unlink removes the OS user's link, and the clinical user's token if no other OS user is
// linked to them. The token is deleted here durably first; then, without holding the store,
// Unlink asks the issuer to revoke its refresh token, for at most a few seconds (best effort:
// a failure is logged, and Unlink succeeds all the same).
func (s *Store) Unlink(osUserID string) (Link, error) {
	s.mu.Lock()
	l, ok := s.links[osUserID]
	if !ok {
		s.mu.Unlock()
		return Link{}, fmt.Errorf("link: unlink: %w", ErrNotLinked)
	}
	delete(s.links, osUserID)
	dropped := s.dropUnusedAccount(l.ClinicalUserID)
	err := s.save()
	s.mu.Unlock()
	if err != nil {
		return Link{}, fmt.Errorf("link: unlink: %w", err)
	}
	s.opts.Logger.Info("clinician unlinked", "osUser", l.OSUser, "clinicalUserId", l.ClinicalUserID)
	s.changed()
	s.revoke(l.ClinicalUserID, dropped)
	return l, nil
}

// ForOSUser returns the OS user's link.
func (s *Store) ForOSUser(osUserID string) (Link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[osUserID]
	return l, ok
}

// Links returns every link, by OS user name.
func (s *Store) Links() []Link {
	s.mu.Lock()
	out := make([]Link, 0, len(s.links))
	for _, l := range s.links {
		out = append(out, l)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Link) int { return cmp.Compare(a.OSUser, b.OSUser) })
	return out
}

// Accounts returns every linked clinical user, by id.
func (s *Store) Accounts() []Account {
	s.mu.Lock()
	out := make([]Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, a.Account)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Account) int { return cmp.Compare(a.ClinicalUserID, b.ClinicalUserID) })
	return out
}

// dropUnusedAccount forgets a clinical user no OS user is linked to, and returns their
// refresh token ("" if they are still linked or had none) for the caller to revoke once the
// store is saved. s.mu is held.
func (s *Store) dropUnusedAccount(clinicalUserID string) string {
	for _, l := range s.links {
		if l.ClinicalUserID == clinicalUserID {
			return ""
		}
	}
	a, ok := s.accounts[clinicalUserID]
	delete(s.accounts, clinicalUserID)
	if !ok || a.tok == nil {
		return ""
	}
	return a.tok.RefreshToken
}

// discover returns the issuer's endpoints, fetching them the first time.
func (s *Store) discover(ctx context.Context) (Endpoints, error) {
	s.mu.Lock()
	ep := s.endpoints
	s.mu.Unlock()
	if ep != nil {
		return *ep, nil
	}
	e, err := Discover(ctx, s.hc, s.opts.Settings.Issuer)
	if err != nil {
		return Endpoints{}, err
	}
	s.mu.Lock()
	s.endpoints = &e
	s.mu.Unlock()
	return e, nil
}

// save writes the store durably. s.mu is held.
func (s *Store) save() error {
	st := stored{Format: fileFormat, Links: make([]Link, 0, len(s.links)), Accounts: map[string]storedAccount{}}
	for _, l := range s.links {
		st.Links = append(st.Links, l)
	}
	slices.SortFunc(st.Links, func(a, b Link) int { return cmp.Compare(a.OSUserID, b.OSUserID) })
	for id, a := range s.accounts {
		sa := storedAccount{Name: a.Name, RelinkNeeded: a.RelinkNeeded}
		if a.tok != nil {
			sealed, err := s.sealToken(id, a.tok)
			if err != nil {
				return err
			}
			sa.Token = sealed
		}
		st.Accounts[id] = sa
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := durable.WriteFile(s.path, data, 0o600); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func (s *Store) sealToken(clinicalUserID string, tok *oauth2.Token) ([]byte, error) {
	pt, err := json.Marshal(tok)
	if err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	return s.opts.Sealer.Seal(nil, pt, []byte(tokenAD+clinicalUserID)), nil
}

func (s *Store) openToken(clinicalUserID string, sealed []byte) (*oauth2.Token, error) {
	pt, err := s.opts.Sealer.Open(nil, sealed, []byte(tokenAD+clinicalUserID))
	if err != nil {
		return nil, err
	}
	var tok oauth2.Token
	if err := json.Unmarshal(pt, &tok); err != nil {
		return nil, fmt.Errorf("decode token: %w", err)
	}
	return &tok, nil
}

func (s *Store) changed() {
	if s.opts.OnChange != nil {
		s.opts.OnChange()
	}
}
