// Package filing is the service component that checks and files writebacks: the EMIS-X
// adapter with each clinician's linked sign-in, driven by the filing engine (package
// filer), and the integration watcher (package watch) that turns the engine's paused
// authors and its own probes into conditions, and answers the service's probes.
package filing

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/watch"
)

// Component is the filing component of the service.
type Component struct {
	// Watch configures the watcher beyond what the service gives (tests shorten its
	// intervals; Healthy defaults to watch.probe_seconds); Prober, Engine, Links, Queue,
	// Board, Bus and Logger are filled in.
	Watch watch.Config
}

// Name implements service.Component.
func (Component) Name() string { return "filer" }

// Run implements service.Component: it checks and files until ctx ends.
func (f Component) Run(ctx context.Context, env service.Env) error {
	cfg := env.Config
	sys, err := emisx.New(cfg.EMISConfig(emisx.Config{
		BaseURL:       cfg.Clinical.APIURL,
		ApplicationID: cfg.Clinical.ApplicationID,
		Sessions:      linkSessions{env.Links},
		PracticeODS:   cfg.Practice.ODS,
	}))
	if err != nil {
		return fmt.Errorf("filer: %w", err)
	}
	if env.Patients != nil {
		env.Patients.Set(sys.FindPatients)
		defer env.Patients.Set(nil)
	}
	// The engine tells the watcher of every pause and resumption, so that staff see it at once.
	var watcher atomic.Pointer[watch.Watcher]
	eng, err := filer.New(filer.Config{
		Queue:  env.Queue,
		System: sys,
		Checks: checks.DefaultPolicy(cfg.Practice.ODS),
		OnHealth: func() {
			if w := watcher.Load(); w != nil {
				w.Wake()
			}
		},
		Logger: env.Logger,
	})
	if err != nil {
		return fmt.Errorf("filer: %w", err)
	}
	wcfg := f.Watch
	wcfg.Prober, wcfg.Engine, wcfg.Links, wcfg.Queue = sys, eng, env.Links, env.Queue
	wcfg.Board, wcfg.Bus, wcfg.Logger = env.Conditions, env.Bus, env.Logger
	if wcfg.Healthy <= 0 {
		wcfg.Healthy = cfg.Watch.ProbeInterval()
	}
	w, err := watch.New(wcfg)
	if err != nil {
		return fmt.Errorf("filer: %w", err)
	}
	watcher.Store(w)
	if env.Probes != nil {
		env.Probes.Register("clinical-system", "Every linked clinician's sign-in to the clinical system", w.ProbeNow)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); w.Run(wctx) }()
	defer func() { stopWatch(); <-watched }()
	// Wake the engine on every change: new or confirmed records, and links made or
	// mended (a paused clinician may be able to file again).
	sub := env.Bus.Subscribe(0)
	defer sub.Close()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
				if ev := sub.Take(); ev.Status || ev.Resync {
					eng.RecheckPaused()
				}
				eng.Notify()
			}
		}
	}()
	return eng.Run(ctx)
}

// linkSessions gives the EMIS-X adapter each clinician's tokens from the link store.
type linkSessions struct{ links *link.Store }

func (s linkSessions) TokenSource(_ context.Context, clinicalUserID string) (oauth2.TokenSource, error) {
	accounts := s.links.Accounts()
	i := slices.IndexFunc(accounts, func(a link.Account) bool { return a.ClinicalUserID == clinicalUserID })
	if i < 0 {
		return nil, fmt.Errorf("no PC user is linked to clinical user %s: %w", clinicalUserID, clinical.ErrNotLinked)
	}
	if accounts[i].RelinkNeeded {
		return nil, fmt.Errorf("clinical user %s must link again: %w", clinicalUserID, clinical.ErrRelinkNeeded)
	}
	return s.links.TokenSource(clinicalUserID), nil
}
