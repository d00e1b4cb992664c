package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/writeback-agent/wbagent/agent/bus"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/probe"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// Defaults for Config.
const (
	DefaultHealthyInterval = time.Minute
	DefaultProbeTimeout    = 30 * time.Second
	DefaultLinkChangedFor  = 10 * time.Minute
)

// DefaultBackoff probes a failing clinician again after about 15 s, then 30 s, 1, 2 …
// minutes, at most every 5 minutes, and never less often than a healthy one (Healthy).
var DefaultBackoff = queue.RetryPolicy{Initial: 15 * time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.2}

// Prober checks a clinician's integration (clinical.System's Probe).
type Prober interface {
	Probe(ctx context.Context, clinicalUserID string) error
}

// Engine is what the watcher needs of the filing engine (*filer.Engine).
type Engine interface {
	Authors() []filer.AuthorHealth
	Recheck(name string)
}

// Links is what the watcher needs of the link store (*link.Store).
type Links interface {
	Accounts() []link.Account
	Links() []link.Link
}

// Records is what the watcher needs of the queue (*queue.Queue).
type Records interface {
	Get(id uint64) (*queue.Record, error)
	Each(f queue.Filter, fn func(*queue.Record) error) error
}

// Config configures a Watcher.
type Config struct {
	Prober Prober
	Engine Engine // nil: no filing engine to watch
	Links  Links
	Queue  Records
	Board  *condition.Board
	Bus    *bus.Bus
	// System is the clinical system (SystemEMIS, the default, or SystemVision): it selects
	// the texts of the conditions.
	System string
	// Healthy is how often a clinician whose probe passes is probed again (default 1
	// minute, config watch.probe_seconds; each wait shortened by up to 20% at random).
	Healthy time.Duration
	// Backoff is the back-off between probes of a failing clinician (MaxAttempts unused);
	// the zero value means DefaultBackoff. It never waits longer than Healthy.
	Backoff queue.RetryPolicy
	// ProbeTimeout bounds one probe (default 30 s).
	ProbeTimeout time.Duration
	// LinkChangedFor is how long the "linked user changed" notice shows (default 10 min).
	LinkChangedFor time.Duration
	Logger         *slog.Logger
}

// Watcher is the integration watcher. Run it; its methods are not for concurrent use.
type Watcher struct {
	cfg Config
	log *slog.Logger

	clinicians  map[string]*clinician      // linked, probed, by clinical user id
	linkedAt    map[string]time.Time       // newest link per clinical user: a re-link probes at once
	osLinks     map[string]string          // OS user id → clinical user id
	changed     map[string]time.Time       // OS user name → until when the change is shown
	paused      map[string]*clinical.Error // authors the engine paused, by id
	pausedSince map[string]time.Time
	role        map[string]bool // authors whose role could not file, until one filing succeeds
	published   []condition.Condition

	wake   chan struct{}     // Wake: the engine's authors changed; capacity 1
	probes chan probeRequest // ProbeNow's requests
}

// probeRequest asks the watcher's loop to probe every clinician now.
type probeRequest struct {
	ctx   context.Context
	reply chan []probe.Check // capacity 1
}

type clinician struct {
	id, name string
	err      *clinical.Error // the last probe's failure; nil: passed (or not probed yet)
	probed   bool
	failures int
	next     time.Time
	passedAt time.Time // when a probe last passed
	// doubt is a passing failure not yet shown: it is confirmed by a second probe soon after.
	doubt *clinical.Error
}

// confirmAfter is how soon a probe that failed for a passing reason is repeated before the
// failure is shown: a single lost answer on a flaky network is not a condition.
const confirmAfter = 2 * time.Second

// New returns a watcher.
func New(cfg Config) (*Watcher, error) {
	if cfg.Prober == nil || cfg.Links == nil || cfg.Queue == nil || cfg.Board == nil || cfg.Bus == nil {
		return nil, errors.New("watch: Prober, Links, Queue, Board and Bus are required")
	}
	if cfg.System == "" {
		cfg.System = SystemEMIS
	}
	if cfg.System != SystemEMIS && cfg.System != SystemVision {
		return nil, fmt.Errorf("watch: unknown clinical system %q", cfg.System)
	}
	if cfg.Healthy <= 0 {
		cfg.Healthy = DefaultHealthyInterval
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	// A failing clinician is probed at least as often as a healthy one, so that a fix is
	// seen within the probe interval too.
	cfg.Backoff.Max = min(cfg.Backoff.Max, cfg.Healthy)
	cfg.Backoff.Initial = min(cfg.Backoff.Initial, cfg.Backoff.Max)
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.LinkChangedFor <= 0 {
		cfg.LinkChangedFor = DefaultLinkChangedFor
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Watcher{cfg: cfg, log: log.With("component", Source),
		clinicians: map[string]*clinician{}, linkedAt: map[string]time.Time{}, osLinks: map[string]string{},
		changed: map[string]time.Time{}, paused: map[string]*clinical.Error{}, pausedSince: map[string]time.Time{},
		role: map[string]bool{}, wake: make(chan struct{}, 1), probes: make(chan probeRequest)}, nil
}

// Wake tells the watcher that the filing engine's authors changed (filer.Config.OnHealth):
// it looks at once, so that a pause, or its end, shows within moments. It never blocks and
// is safe for concurrent use.
func (w *Watcher) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// ProbeNow probes every linked clinician now, shows what it found (as conditions, at
// once) and returns a check per clinician, and one per author the engine holds who is not
// linked. It is safe for concurrent use; ctx bounds the wait and the probes.
func (w *Watcher) ProbeNow(ctx context.Context) []probe.Check {
	req := probeRequest{ctx: ctx, reply: make(chan []probe.Check, 1)}
	select {
	case w.probes <- req:
	case <-ctx.Done():
		return nil
	}
	select {
	case checks := <-req.reply:
		return checks
	case <-ctx.Done():
		return nil
	}
}

// Run watches until ctx ends. It sleeps on the bus and one timer between probes.
func (w *Watcher) Run(ctx context.Context) error {
	sub := w.cfg.Bus.Subscribe(0)
	defer sub.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		w.refreshLinks(now)
		w.refreshEngine(now)
		w.probeDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		w.publish(time.Now())
		timer.Stop()
		if next := w.nextWake(); !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-w.wake:
		case req := <-w.probes:
			req.reply <- w.probeAll(ctx, req.ctx)
		case <-sub.Ready():
			w.noteRecords(sub.Take())
		}
	}
}

// probeAll probes every linked clinician now (a passing failure is confirmed by a second
// probe first), publishes and returns the checks.
func (w *Watcher) probeAll(ctx, reqCtx context.Context) []probe.Check {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(reqCtx, cancel)
	defer stop()
	now := time.Now()
	w.refreshLinks(now)
	w.refreshEngine(now)
	var checks []probe.Check
	for _, id := range slices.Sorted(maps.Keys(w.clinicians)) {
		c := w.clinicians[id]
		err := w.probeOne(ctx, id)
		if err != nil && ctx.Err() == nil && asClinical(err).Kind == clinical.ErrTransient {
			if sleepCtx(ctx, confirmAfter/2) {
				err = w.probeOne(ctx, id)
			}
		}
		check := probe.Check{Subject: "clinician:" + id, Title: displayName(id, c.name) + "'s sign-in to " + w.systemName()}
		if ctx.Err() != nil {
			check.Code, check.Detail = probe.CodeTimeout, "the clinical system did not answer in time"
			checks = append(checks, check)
			continue
		}
		c.doubt = nil
		w.probedNow(c, err, true)
		if err == nil {
			check.OK = true
		} else {
			check.Code = codeFor(c.err)
			check.Detail = describe(check.Code, []string{displayName(id, c.name)}, w.cfg.System == SystemVision).Title
		}
		checks = append(checks, check)
	}
	for _, author := range slices.Sorted(maps.Keys(w.paused)) {
		if w.clinicians[author] != nil || w.relinkNeeded(author) {
			continue
		}
		code := w.pausedCode(author, w.paused[author])
		checks = append(checks, probe.Check{Subject: "clinician:" + author,
			Title: displayName(author, "") + "'s sign-in to " + w.systemName(), Code: code,
			Detail: describe(code, []string{displayName(author, "")}, w.cfg.System == SystemVision).Title})
	}
	w.publish(time.Now())
	return checks
}

func (w *Watcher) systemName() string {
	if w.cfg.System == SystemVision {
		return "Vision"
	}
	return "EMIS"
}

func (w *Watcher) probeOne(ctx context.Context, id string) error {
	pctx, cancel := context.WithTimeout(ctx, w.cfg.ProbeTimeout)
	defer cancel()
	return w.cfg.Prober.Probe(pctx, id)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// refreshLinks follows the link store: new and mended links are probed at once, removed
// ones forgotten, and an OS user linked to another clinical user is told to refresh.
func (w *Watcher) refreshLinks(now time.Time) {
	seen := map[string]bool{}
	for _, a := range w.cfg.Links.Accounts() {
		if a.RelinkNeeded {
			continue // package status reports it (relink-needed)
		}
		seen[a.ClinicalUserID] = true
		c := w.clinicians[a.ClinicalUserID]
		if c == nil {
			c = &clinician{id: a.ClinicalUserID, next: now}
			w.clinicians[a.ClinicalUserID] = c
		}
		c.name = a.Name
	}
	for id := range w.clinicians {
		if !seen[id] {
			delete(w.clinicians, id)
		}
	}
	newest := map[string]time.Time{}
	current := map[string]string{}
	for _, l := range w.cfg.Links.Links() {
		if l.LinkedAt.After(newest[l.ClinicalUserID]) {
			newest[l.ClinicalUserID] = l.LinkedAt
		}
		current[l.OSUserID] = l.ClinicalUserID
		if before, ok := w.osLinks[l.OSUserID]; ok && before != l.ClinicalUserID {
			w.changed[l.OSUser] = now.Add(w.cfg.LinkChangedFor)
		}
	}
	for id, at := range newest {
		if old, ok := w.linkedAt[id]; ok && !at.Equal(old) {
			if c := w.clinicians[id]; c != nil {
				c.next = now // signed in again: look at once
			}
			if w.cfg.Engine != nil {
				w.cfg.Engine.Recheck(id)
			}
		}
	}
	w.linkedAt, w.osLinks = newest, current
	for who, until := range w.changed {
		if !now.Before(until) {
			delete(w.changed, who)
		}
	}
}

// refreshEngine follows the filing engine's authors: a newly paused one is probed at once.
func (w *Watcher) refreshEngine(now time.Time) {
	if w.cfg.Engine == nil {
		return
	}
	for _, a := range w.cfg.Engine.Authors() {
		if a.Health != filer.Paused || a.Err == nil {
			if _, was := w.paused[a.Author]; was {
				if c := w.clinicians[a.Author]; c != nil && c.err != nil {
					c.next = now // filing resumed: a failure the watcher saw is looked at again
				}
			}
			delete(w.paused, a.Author)
			delete(w.pausedSince, a.Author)
			continue
		}
		if errors.Is(a.Err, clinical.ErrInsufficientRole) {
			w.role[a.Author] = true
		}
		if since, ok := w.pausedSince[a.Author]; !ok || !since.Equal(a.Since) {
			if c := w.clinicians[a.Author]; c != nil {
				c.next = now // a filing failed on access: look at once
			}
		}
		w.paused[a.Author], w.pausedSince[a.Author] = a.Err, a.Since
	}
}

// noteRecords clears "role cannot file" for an author once one of their filings succeeded.
func (w *Watcher) noteRecords(ev bus.Event) {
	if len(w.role) == 0 {
		return
	}
	for _, id := range ev.Records {
		r, err := w.cfg.Queue.Get(id)
		if err == nil && r.State == queue.Filed {
			delete(w.role, r.Author)
		}
	}
}

// probeDue probes every clinician whose probe is due, one at a time.
func (w *Watcher) probeDue(ctx context.Context) {
	ids := make([]string, 0, len(w.clinicians))
	for id := range w.clinicians {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := w.clinicians[id]
		if time.Now().Before(c.next) || ctx.Err() != nil {
			continue
		}
		err := w.probeOne(ctx, id)
		if ctx.Err() != nil {
			return
		}
		w.probed(c, err)
	}
}

// probed records a scheduled probe's result. A passing failure after a probe that passed
// is held in doubt and confirmed by another probe confirmAfter later before it is shown.
func (w *Watcher) probed(c *clinician, err error) {
	if err != nil && c.err == nil && c.doubt == nil {
		if ce := asClinical(err); ce.Kind == clinical.ErrTransient {
			c.doubt = ce
			c.next = time.Now().Add(confirmAfter)
			return
		}
	}
	c.doubt = nil
	w.probedNow(c, err, false)
}

// probedNow records a probe's result as it is. fresh: asked for now (ProbeNow).
func (w *Watcher) probedNow(c *clinician, err error, fresh bool) {
	now := time.Now()
	c.probed = true
	if err == nil {
		if c.err != nil {
			w.log.Info("integration works again", "clinicalUser", c.id)
		}
		c.err, c.failures, c.passedAt = nil, 0, now
		c.next = now.Add(jitter(w.cfg.Healthy, 0.2))
		if w.cfg.Engine != nil && w.paused[c.id] != nil && !errors.Is(w.paused[c.id], clinical.ErrInsufficientRole) {
			w.cfg.Engine.Recheck(c.id) // filing may resume now rather than at its own re-probe
		}
		return
	}
	ce := asClinical(err)
	if c.err == nil || c.err.Code() != ce.Code() {
		w.log.Warn("integration probe failed", "clinicalUser", c.id, "code", ce.Code(), "detail", ce.Detail())
	}
	c.err = ce
	c.failures++
	if fresh && !c.next.IsZero() && c.next.Before(now.Add(w.cfg.Backoff.Delay(c.failures, rand.Float64()))) {
		return // a probe asked for now does not put off the one already due
	}
	c.next = now.Add(w.cfg.Backoff.Delay(c.failures, rand.Float64()))
}

// nextWake returns when the watcher must next act by itself (zero: only on events).
func (w *Watcher) nextWake() time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, c := range w.clinicians {
		earliest(c.next)
	}
	for _, until := range w.changed {
		earliest(until)
	}
	return next
}

// publish reports the conditions on the board (the board tells the bus if they changed).
func (w *Watcher) publish(now time.Time) {
	who := map[string][]string{}
	add := func(code, name string) {
		if code != "" && !slices.Contains(who[code], name) {
			who[code] = append(who[code], name)
		}
	}
	for _, c := range w.clinicians {
		if c.err != nil {
			add(codeFor(c.err), displayName(c.id, c.name))
		}
	}
	for author, err := range w.paused {
		if errors.Is(err, clinical.ErrInsufficientRole) {
			continue // shown through w.role while records wait
		}
		if c := w.clinicians[author]; c != nil {
			// The engine's pause shows at once, until a probe passes after it (the engine is
			// then told to resume) or fails (its own cause shows instead).
			if c.err == nil && !c.passedAt.After(w.pausedSince[author]) {
				add(codeFor(err), displayName(c.id, c.name))
			}
			continue
		}
		if w.relinkNeeded(author) {
			continue // package status reports it
		}
		add(w.pausedCode(author, err), displayName(author, ""))
	}
	for author := range w.role {
		if !w.hasRecordsToFile(author) {
			delete(w.role, author)
			continue
		}
		add(CodeRoleCannotFile, displayName(author, w.nameOf(author)))
	}
	for osUser := range w.changed {
		add(CodeLinkChanged, osUser)
	}
	conds := make([]condition.Condition, 0, len(who))
	for code, names := range who {
		sort.Strings(names)
		conds = append(conds, describe(code, names, w.cfg.System == SystemVision))
	}
	condition.Sort(conds)
	if !slices.Equal(conds, w.published) {
		w.cfg.Board.Set(Source, conds)
		w.published = conds
	}
}

// pausedCode is the condition code of an author the engine paused who is not linked here.
func (w *Watcher) pausedCode(author string, err *clinical.Error) string {
	code := codeFor(err)
	if code == CodeAuthorNotLinked && CheckUserID(w.cfg.System, author) != nil {
		// Nobody can link as an id the clinical system could never have issued: the
		// platform's Medical Record System User ID for this clinician is wrong.
		code = CodeUserIDUnknown
	}
	return code
}

func (w *Watcher) relinkNeeded(id string) bool {
	for _, a := range w.cfg.Links.Accounts() {
		if a.ClinicalUserID == id {
			return a.RelinkNeeded
		}
	}
	return false
}

func (w *Watcher) nameOf(id string) string {
	if c := w.clinicians[id]; c != nil {
		return c.name
	}
	return ""
}

// hasRecordsToFile reports whether the author has confirmed writebacks waiting to be filed.
func (w *Watcher) hasRecordsToFile(author string) bool {
	errFound := errors.New("found")
	err := w.cfg.Queue.Each(queue.Filter{States: []queue.State{queue.Ready, queue.Filing}, Author: author, Limit: 1},
		func(*queue.Record) error { return errFound })
	return errors.Is(err, errFound) || (err != nil && !errors.Is(err, errFound))
}

// displayName names a clinician for staff: their name and clinical user id.
func displayName(id, name string) string {
	if name == "" {
		return "clinical user " + id
	}
	return fmt.Sprintf("%s (%s)", name, id)
}

func asClinical(err error) *clinical.Error {
	var ce *clinical.Error
	if errors.As(err, &ce) {
		return ce
	}
	if k := clinical.KindOf(err); k != "" {
		return &clinical.Error{Op: "Probe", Kind: k}
	}
	return &clinical.Error{Op: "Probe", Kind: clinical.ErrTransient, Err: err}
}

func jitter(d time.Duration, share float64) time.Duration {
	return d - time.Duration(float64(d)*share*rand.Float64())
}
